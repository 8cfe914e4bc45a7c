from django.urls import path

from audit import views

app_name = "audit"

urlpatterns = [
    path("", views.event_list, name="events"),
    path("events.<str:file_format>", views.event_export, name="events_export"),
    path("events/<int:sequence>/", views.event_detail, name="event"),
    path("users/<str:okta_id>/", views.user_events, name="user"),
    path("resources/<str:okta_id>/", views.resource_events, name="resource"),
    path("dashboard/", views.dashboard, name="dashboard"),
    path("reports/", views.report_index, name="reports"),
    path("reports/access-on-day/", views.access_on_day, name="access_on_day"),
    path(
        "reports/access-on-day.<str:file_format>", views.access_on_day, name="access_on_day_export"
    ),
    path("reports/user-changes/", views.user_changes, name="user_changes"),
    path("reports/user-changes.<str:file_format>", views.user_changes, name="user_changes_export"),
    path("reports/current-access/", views.current_access, name="current_access"),
    path(
        "reports/current-access.<str:file_format>",
        views.current_access,
        name="current_access_export",
    ),
]
