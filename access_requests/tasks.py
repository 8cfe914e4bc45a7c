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
    return services.sync_catalog()


@shared_task(name="access_requests.expire_pending_requests", ignore_result=True)
def expire_pending_requests() -> int:
    return services.expire_pending_requests()
