"""Project-wide pytest configuration.

Django settings run in test mode under pytest (PORTAL_ENV defaults to "test" when pytest is
imported; see portal/settings.py).
"""

# The Okta emulator's pytest plugin (fixture `okta_emulator`) is registered here:
pytest_plugins = ["okta_emulator.testing"]
