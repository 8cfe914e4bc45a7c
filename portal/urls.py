from django.contrib import admin
from django.contrib.auth.decorators import login_not_required
from django.urls import include, path

from accounts import views as accounts_views
from portal import views

# Sign-in (accounts): every view needs a signed-in user (LoginRequiredMiddleware) except
# those marked login_not_required: health checks, the OIDC views and the admin's sign-in
# redirect. The OIDC paths are the library's own, served by the accounts subclasses.
sign_in_patterns = [
    path("", accounts_views.landing, name="landing"),
    path("accounts/", include("accounts.urls")),
    path("oidc/authenticate/", accounts_views.SignInStartView.as_view(), name="oidc_authentication_init"),
    path("oidc/callback/", accounts_views.SignInCallbackView.as_view(), name="oidc_authentication_callback"),
    path("oidc/logout/", accounts_views.SignOutView.as_view(), name="oidc_logout"),
    path("admin/login/", accounts_views.admin_login, name="admin_sign_in"),
    path("admin/", admin.site.urls),
]

urlpatterns = [
    *sign_in_patterns,
    path("healthz", login_not_required(views.healthz), name="healthz"),
    path("readyz", login_not_required(views.readyz), name="readyz"),
    path("", include("access_requests.urls")),
    path("audit/", include("audit.urls")),
]
