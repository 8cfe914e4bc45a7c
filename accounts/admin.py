from django.contrib import admin

from accounts.models import User, UserSession


@admin.register(User)
class UserAdmin(admin.ModelAdmin):
    """Read-mostly view of users: Okta is the source of every field shown here."""

    list_display = ("login", "okta_id", "okta_status", "department", "is_admin", "last_synced_at")
    list_filter = ("okta_status", "is_admin", "department")
    search_fields = ("login", "email", "okta_id", "first_name", "last_name")
    list_select_related = ("manager",)
    readonly_fields = (
        "okta_id",
        "login",
        "email",
        "first_name",
        "last_name",
        "okta_status",
        "department",
        "title",
        "manager",
        "manager_okta_id",
        "is_admin",
        "is_staff",
        "is_superuser",
        "is_active",
        "okta_groups",
        "last_synced_at",
        "last_login",
        "date_joined",
    )
    exclude = ("password", "groups", "user_permissions")

    # Users come from Okta through the user sync and sign-in. A hand-made user would have no
    # Okta id, and deleting one here would not remove it from Okta.
    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(UserSession)
class UserSessionAdmin(admin.ModelAdmin):
    list_display = ("session_key_prefix", "user", "created_at")
    list_select_related = ("user",)
    readonly_fields = ("user", "created_at")
    exclude = ("session_key",)

    # Sign-in writes these rows and sign-out removes them. Deleting a row here would leave the
    # session itself alive, so the admin only lists them.
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="session key")
    def session_key_prefix(self, session) -> str:
        # The full key is a credential: show only enough to tell sessions apart.
        return f"{session.session_key[:6]}…"
