"""Django admin: per-resource settings, and failed grants for admins to retry."""

from django.contrib import admin, messages
from django.db import transaction

from access_requests import errors, services
from access_requests.models import AccessRequest, Grant, OktaOperation, Resource


@admin.register(Resource)
class ResourceAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "kind",
        "group_type",
        "requestable",
        "approval_policy",
        "max_duration_days",
        "deleted_in_okta_at",
    ]
    list_filter = ["kind", "group_type", "requestable", "approval_policy"]
    search_fields = ["name", "okta_id"]
    filter_horizontal = ["owners"]
    readonly_fields = [
        "kind",
        "okta_id",
        "name",
        "okta_description",
        "group_type",
        "sign_on_mode",
        "okta_status",
        "deleted_in_okta_at",
        "last_synced_at",
        "created_at",
        "updated_at",
    ]
    fieldsets = [
        ("From Okta", {"fields": readonly_fields}),
        (
            "Portal settings",
            {
                "fields": [
                    "requestable",
                    "description",
                    "owners",
                    "approval_policy",
                    "max_duration_days",
                    "allow_no_end",
                    "justification_required",
                    "enforcement",
                ]
            },
        ),
    ]
    actions = ["sync_catalog_now"]

    def has_add_permission(self, request):
        # Resources come from Okta through the catalog sync only.
        return False

    def has_delete_permission(self, request, obj=None):
        # The catalog sync marks a resource deleted in Okta; requests and grants keep it.
        return False

    def save_model(self, request, obj, form, change):
        with transaction.atomic():
            super().save_model(request, obj, form, change)
            from audit.services import record_event

            record_event(
                "resource.updated",
                actor=request.user,
                target=obj,
                resource=obj,
                payload={"changed": form.changed_data},
                http_request=request,
            )

    @admin.action(description="Sync the catalog from Okta now")
    def sync_catalog_now(self, request, queryset):
        from access_requests.tasks import sync_catalog

        sync_catalog.delay()
        self.message_user(request, "Catalog sync started; refresh this page in a minute.")


class OktaOperationInline(admin.TabularInline):
    model = OktaOperation
    extra = 0
    can_delete = False
    fields = readonly_fields = [
        "action",
        "status",
        "attempts",
        "next_attempt_at",
        "last_error",
        "okta_request_id",
        "completed_at",
    ]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Grant)
class GrantAdmin(admin.ModelAdmin):
    list_display = [
        "pk",
        "user",
        "resource",
        "status",
        "pre_existing",
        "ends_at",
        "failure_reason",
        "updated_at",
    ]
    list_filter = ["status", "pre_existing"]
    search_fields = ["user__login", "resource__name"]
    list_select_related = ["user", "resource"]
    readonly_fields = [field.name for field in Grant._meta.fields]
    inlines = [OktaOperationInline]
    actions = ["retry_failed"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description="Retry the selected failed grants")
    def retry_failed(self, request, queryset):
        retried = 0
        for grant in queryset:
            try:
                services.retry_grant(grant, by=request.user, http_request=request)
            except errors.AccessRequestError as error:
                self.message_user(request, f"Grant #{grant.pk}: {error}", messages.ERROR)
                continue
            retried += 1
        if retried:
            self.message_user(request, f"{retried} grant(s) queued for provisioning again.")


@admin.register(AccessRequest)
class AccessRequestAdmin(admin.ModelAdmin):
    list_display = ["pk", "requester", "resource", "status", "created_at", "decided_at"]
    list_filter = ["status"]
    list_select_related = ["requester", "resource"]
    search_fields = ["requester__login", "resource__name"]
    readonly_fields = [field.name for field in AccessRequest._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
