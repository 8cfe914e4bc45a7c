"""Celery tasks of the access-request app. They take ids and are safe to run twice."""

from celery import shared_task

from access_requests import services


@shared_task(name="access_requests.run_operation", ignore_result=True)
def run_operation(operation_id: int) -> str:
    """Claim and run one Okta operation (see access_requests.services.provisioning)."""
    return services.run_operation(operation_id)


@shared_task(name="access_requests.sweep_operations", ignore_result=True)
def sweep_operations() -> dict:
    return services.sweep_operations()


@shared_task(name="access_requests.sync_catalog", ignore_result=True)
def sync_catalog() -> dict:
    from access_requests.services import reconciliation

    result = services.sync_catalog()
    # Requests and grants of groups and apps that vanished from Okta close right away.
    result["closed_for_deleted_resources"] = reconciliation.close_deleted_resources()
    return result


@shared_task(name="access_requests.expire_pending_requests", ignore_result=True)
def expire_pending_requests() -> int:
    return services.expire_pending_requests()


@shared_task(name="access_requests.expire_grants", ignore_result=True)
def expire_grants() -> int:
    """Start removing grants past their end (see access_requests.services.expiry)."""
    from access_requests.services import expiry

    return expiry.expire_grants()


@shared_task(name="access_requests.send_grant_reminders", ignore_result=True)
def send_grant_reminders() -> int:
    from access_requests.services import expiry

    return expiry.send_reminders()


@shared_task(name="access_requests.offboard_departed_users", ignore_result=True)
def offboard_departed_users() -> int:
    from access_requests.services import offboarding

    return offboarding.offboard_departed_users()


@shared_task(name="access_requests.apply_hook_events", ignore_result=True)
def apply_hook_events() -> int:
    """Apply stored Okta event hook events in published order (see access_requests.event_hooks)."""
    from access_requests import event_hooks

    return event_hooks.apply_pending_events()


@shared_task(name="access_requests.apply_stale_hook_events", ignore_result=True)
def apply_stale_hook_events() -> int:
    """Apply hook events whose task message was lost; beat runs it every minute."""
    from access_requests import event_hooks

    if not event_hooks.has_stale_events():
        return 0
    return event_hooks.apply_pending_events()


@shared_task(name="access_requests.reconcile", ignore_result=True)
def reconcile() -> dict:
    """Compare Okta with the grants for every managed resource and record the drift."""
    from access_requests.services import reconciliation

    results = reconciliation.reconcile_all()
    return {
        "resources": len(results),
        "failed": sum(1 for result in results if not result.ok),
        "unapproved": sum(len(result.unapproved) for result in results),
        "missing": sum(len(result.missing) for result in results),
    }


@shared_task(name="access_requests.reconcile_resource", ignore_result=True)
def reconcile_resource(resource_id: int) -> dict:
    """Compare one resource with Okta now: its baseline if it has none, and enforcement."""
    from access_requests.models import Resource
    from access_requests.services import reconciliation

    resource = Resource.objects.filter(pk=resource_id, deleted_in_okta_at=None).first()
    if resource is None or not resource.writable_in_okta:
        return {"resource": resource_id, "compared": False}
    result = reconciliation.reconcile_resource(resource)
    return {
        "resource": resource_id,
        "compared": result.ok,
        "unapproved": len(result.unapproved),
        "missing": len(result.missing),
    }
