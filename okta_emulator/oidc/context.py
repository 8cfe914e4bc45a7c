"""Access to the OIDC provider of the running emulator app."""

from flask import current_app

EXTENSION_NAME = "okta_emulator_oidc"


def current_provider():
    """Return the app's okta_emulator.oidc.provider.OidcProvider."""
    return current_app.extensions[EXTENSION_NAME]
