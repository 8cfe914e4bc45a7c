"""A local Okta org for development and tests: Management API, System Log, event hooks and OIDC.

Run it with `python -m okta_emulator serve`; see okta_emulator/README.md.
"""
