"""Register the portal's event hook endpoint in the Okta org and have Okta verify it."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.urls import reverse

from access_requests.event_hooks import SUBSCRIBED_EVENT_TYPES
from portal.okta_api import OktaError, get_client

DEFAULT_NAME = "Access portal"


class Command(BaseCommand):
    help = (
        "Create an Okta event hook that calls this portal (membership, app assignment and "
        "user lifecycle events), then ask Okta to verify it. The portal must be reachable "
        "from Okta at --url while this runs. Reuses a hook with the same URL."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--url",
            help="Public URL of the hook endpoint; default: PORTAL_URL + the endpoint's path.",
        )
        parser.add_argument("--name", default=DEFAULT_NAME, help="The hook's name in Okta.")

    def handle(self, *args, **options):
        secret = settings.PORTAL_EVENT_HOOK_SECRET
        if not secret:
            raise CommandError(
                "PORTAL_EVENT_HOOK_SECRET is not set: set it first; Okta sends it with every "
                "delivery and the endpoint refuses deliveries without it."
            )
        url = options["url"] or settings.PORTAL_URL + reverse("access_requests:okta_event_hook")
        client = get_client()
        try:
            hook = next((hook for hook in client.list_event_hooks() if hook.uri == url), None)
            if hook is None:
                hook = client.create_event_hook(
                    name=options["name"],
                    uri=url,
                    event_types=list(SUBSCRIBED_EVENT_TYPES),
                    header=settings.PORTAL_EVENT_HOOK_HEADER,
                    secret=secret,
                )
                self.stdout.write(f"Created event hook {hook.id} for {url}")
            else:
                self.stdout.write(f"Event hook {hook.id} already calls {url}")
            hook = client.verify_event_hook(hook.id)
        except OktaError as error:
            raise CommandError(f"The Okta request failed: {error}") from error
        self.stdout.write(
            self.style.SUCCESS(f"Event hook {hook.id} is {hook.status}, {hook.verification_status}")
        )
