from django.urls import path

from access_requests import views
from access_requests.views import event_hooks, lifecycle

app_name = "access_requests"

urlpatterns = [
    path("catalog/", views.catalog, name="catalog"),
    path("catalog/<int:pk>/", views.resource_detail, name="resource_detail"),
    path("requests/", views.my_requests, name="my_requests"),
    path("requests/<int:pk>/", views.request_detail, name="request_detail"),
    path("requests/<int:pk>/status/", views.request_status, name="request_status"),
    path("requests/<int:pk>/cancel/", views.cancel_request, name="cancel_request"),
    path("inbox/", views.inbox, name="inbox"),
    path("inbox/steps/<int:pk>/decide/", views.decide_step, name="decide_step"),
    path("inbox/approve/", views.bulk_approve, name="bulk_approve"),
    path("grants/<int:pk>/retry/", views.retry_grant, name="retry_grant"),
    path("grants/<int:pk>/revoke/", lifecycle.revoke_grant, name="revoke_grant"),
    path("grants/<int:pk>/give-up/", lifecycle.give_up_grant, name="give_up_grant"),
    path("grants/<int:pk>/extend/", lifecycle.extend_grant, name="extend_grant"),
    path("grants/<int:pk>/renew/", lifecycle.renew_grant, name="renew_grant"),
    path("grants/<int:pk>/retry-removal/", lifecycle.retry_revocation, name="retry_revocation"),
    path("expiring/", lifecycle.expiring_soon, name="expiring_soon"),
    path("drift/", lifecycle.drift_list, name="drift_list"),
    path("drift/reconcile/", lifecycle.reconcile_now, name="reconcile_now"),
    path("drift/<int:pk>/correct/", lifecycle.correct_drift, name="correct_drift"),
    path("drift/resources/<int:pk>/enforcement/", lifecycle.set_enforcement, name="set_enforcement"),
    # Okta calls this one: no sign-in, no CSRF token, a shared secret header instead.
    path("hooks/okta/", event_hooks.okta_event_hook, name="okta_event_hook"),
]
