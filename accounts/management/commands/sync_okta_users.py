from django.core.management.base import BaseCommand, CommandError

from accounts.sync import sync_users
from portal.okta_api import OktaError


class Command(BaseCommand):
    help = (
        "Copy every Okta user's status, profile, manager and admin membership into the portal "
        "now, and end the sessions of users who are no longer ACTIVE."
    )

    def handle(self, *args, **options) -> None:
        try:
            result = sync_users()
        except OktaError as error:
            raise CommandError(f"Reading users from Okta failed: {error}") from error
        counts = ", ".join(f"{name} {value}" for name, value in result.as_dict().items())
        self.stdout.write(f"User sync finished: {counts}")
