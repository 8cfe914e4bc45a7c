"""Django admin: per-resource settings, and failed grants for admins to retry."""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import HttpResponseNotAllowed
from django.shortcuts import redirect
from django.urls import path

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
    # The changelist's "Sync catalog now" button posts to sync_catalog_view.
    change_list_template = "admin/access_requests/resource/change_list.html"

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

    def get_urls(self):
        sync_url = path(
            "sync/",
            self.admin_site.admin_view(self.sync_catalog_view),
            name="access_requests_resource_sync",
        )
        return [sync_url, *super().get_urls()]

    def sync_catalog_view(self, request):
        """Queue a catalog sync: the changelist's "Sync catalog now" button, usable with no rows."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_change_permission(request):
            raise PermissionDenied
        from access_requests.tasks import sync_catalog

        transaction.on_commit(sync_catalog.delay)
        self.message_user(
            request, "Catalog sync queued. Refresh this page when the worker has finished."
        )
        return redirect("admin:access_requests_resource_changelist")


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
