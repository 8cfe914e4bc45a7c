from django.urls import include, path

from portal import views

urlpatterns = [
    path("", views.landing, name="landing"),
    path("healthz", views.healthz, name="healthz"),
    path("readyz", views.readyz, name="readyz"),
    path("oidc/", include("mozilla_django_oidc.urls")),
    path("", include("access_requests.urls")),
    path("audit/", include("audit.urls")),
]
