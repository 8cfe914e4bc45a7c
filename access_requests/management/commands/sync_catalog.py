"""Copy Okta's groups and apps into the portal's catalog now, as the scheduled task does."""

from django.core.management.base import BaseCommand, CommandError

from access_requests import tasks
from portal.okta_api import OktaError


class Command(BaseCommand):
    help = (
        "Copy every Okta group and app into the catalog now (the same work as the hourly "
        "Celery task), and close requests and grants of resources deleted in Okta. New "
        "resources are not requestable until an admin enables them."
    )

    def handle(self, *args, **options) -> None:
        try:
            # Calling the task function runs it in this process, without a broker or worker.
            result = tasks.sync_catalog()
        except OktaError as error:
            raise CommandError(f"Reading groups and apps from Okta failed: {error}") from error
        counts = ", ".join(f"{name} {value}" for name, value in result.items())
        self.stdout.write(f"Catalog sync finished: {counts}")
