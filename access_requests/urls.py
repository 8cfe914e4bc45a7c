from django.urls import path

from access_requests import views

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
]
