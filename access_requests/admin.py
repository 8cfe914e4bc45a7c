"""Django admin: per-resource settings, and failed grants for admins to retry."""

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import HttpResponseNotAllowed
from django.shortcuts import redirect
from django.urls import path, reverse
from django.utils.html import format_html

from access_requests import errors, services
from access_requests.models import AccessRequest, Grant, OktaOperation, Resource
from access_requests.services import resource_settings


class ResourceAdminForm(forms.ModelForm):
    """The portal settings of a resource, with limits and consequences in the help texts."""

    class Meta:
        model = Resource
        fields = [*resource_settings.SETTING_FIELDS, "owners"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.portal_max_days = settings.PORTAL_MAX_GRANT_DAYS
        requestable_help = (
            "Whether employees can request this resource. Turning it off cancels its pending "
            "requests, and each requester sees the reason and gets it by e-mail. Access "
            "already granted is not changed: it lasts until its end date or until an owner "
            "or admin revokes it."
        )
        pending = 0
        if self.instance.pk is not None:
            pending = resource_settings.pending_requests(self.instance).count()
        if pending:
            noun = "request" if pending == 1 else "requests"
            requestable_help += (
                f" Warning: {pending} pending {noun} for this resource will be cancelled if "
                "you save with this box cleared."
            )
        self.fields["requestable"].help_text = requestable_help
        self.fields["owners"].help_text = (
            "Who decides owner steps. A change moves the open owner steps of pending requests "
            "to the new owners other than the requester, or to the portal admins when none is "
            "left. Removed owners can no longer decide them."
        )

        duration = self.fields["max_duration_days"]
        duration.help_text = (
            f"Longest access a grant on this resource may have, in days: from 1 to "
            f"{self.portal_max_days} (PORTAL_MAX_GRANT_DAYS). Leave it empty to use "
            f"{self.portal_max_days}. Access with no end date is allowed only by the next "
            "setting."
        )
        duration.error_messages["min_value"] = self._too_short_message()
        duration.widget.attrs.update(min=1, max=self.portal_max_days)

    def _too_short_message(self) -> str:
        return (
            "Enter at least 1 day, or leave the field empty to use the portal's maximum of "
            f"{self.portal_max_days} days (PORTAL_MAX_GRANT_DAYS)."
        )

    def clean_max_duration_days(self) -> int | None:
        days = self.cleaned_data.get("max_duration_days")
        if days is None:
            return None
        if days < 1:
            raise forms.ValidationError(self._too_short_message(), code="min_value")
        if days > self.portal_max_days:
            raise forms.ValidationError(
                "%(days)s days is longer than the portal's maximum of %(max)s days "
                "(PORTAL_MAX_GRANT_DAYS). Enter %(max)s or less, or leave the field empty to "
                "use %(max)s.",
                code="max_value",
                params={"days": days, "max": self.portal_max_days},
            )
        return days


@admin.register(Resource)
class ResourceAdmin(admin.ModelAdmin):
    form = ResourceAdminForm
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
    okta_fields = [
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
    # Enforcement is changed on the drift page only, which shows a dry run against Okta and
    # requires a confirmation before the portal starts removing access.
    readonly_fields = [*okta_fields, "enforcement_mode"]
    fieldsets = [
        ("From Okta", {"fields": okta_fields}),
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
                    "enforcement_mode",
                ]
            },
        ),
    ]
    # The changelist's "Sync catalog now" button posts to sync_catalog_view.
    change_list_template = "admin/access_requests/resource/change_list.html"

    @admin.display(description="Enforcement")
    def enforcement_mode(self, obj):
        return format_html(
            '{}. Change it on the <a href="{}#enforcement">drift page</a>, which first shows '
            "whom enforcement would remove from Okta.",
            obj.get_enforcement_display(),
            reverse("access_requests:drift_list"),
        )

    def has_add_permission(self, request):
        # Resources come from Okta through the catalog sync only.
        return False

    def has_delete_permission(self, request, obj=None):
        # The catalog sync marks a resource deleted in Okta; requests and grants keep it.
        return False

    # The admin's change view runs save_model and save_related in one transaction. The owners
    # are saved in save_related, so the change is applied to pending requests only there.
    def save_model(self, request, obj, form, change):
        form.settings_before = resource_settings.snapshot(obj)
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        result = resource_settings.apply_settings_change(
            form.instance, form.settings_before, by=request.user, http_request=request
        )
        if result.requests_cancelled:
            self.message_user(
                request,
                f"Cancelled {result.requests_cancelled} pending request(s) for "
                f"{form.instance.name}, because it is no longer requestable. The requesters "
                "were told why by e-mail.",
                messages.WARNING,
            )
        if result.steps_reassigned:
            self.message_user(
                request,
                f"Gave {result.steps_reassigned} open approval step(s) of pending requests "
                f"for {form.instance.name} to its new owners, or to the portal admins where "
                "no owner other than the requester is left.",
            )
        if result.requests_without_approver:
            self.message_user(
                request,
                f"Cancelled {result.requests_without_approver} pending request(s) for "
                f"{form.instance.name}, because nobody is left to approve them. The "
                "requesters were told why by e-mail.",
                messages.WARNING,
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
