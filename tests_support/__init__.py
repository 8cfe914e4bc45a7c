"""Test helpers shared by every app's tests: real sign-in through the Okta emulator.

`tests_support.fixtures` is a pytest plugin (registered in the root conftest.py); see its
docstring for the fixtures. `tests_support.oidc` signs a persona in over HTTP.
"""
