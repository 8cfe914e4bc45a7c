"""The emulator's OpenID Connect provider: Okta's custom authorization server "default".

Registering `blueprint` on the emulator app (okta_emulator.app.create_app) creates the
provider over the app's store; the blueprint serves /oauth2/default/... and /_emulator/oidc/....
"""

from okta_emulator.oidc.views import blueprint

__all__ = ["blueprint"]
