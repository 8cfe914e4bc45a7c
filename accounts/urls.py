from django.urls import path

from accounts import views

app_name = "accounts"

urlpatterns = [
    path("profile/", views.profile, name="profile"),
    path("sync-users/", views.start_user_sync, name="start_user_sync"),
]
