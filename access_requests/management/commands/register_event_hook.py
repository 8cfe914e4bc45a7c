"""Register the portal's event hook endpoint in the Okta org and have Okta verify it."""

import time

import requests
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.urls import reverse

from access_requests.event_hooks import SUBSCRIBED_EVENT_TYPES
from portal.okta_api import OktaError, get_client

DEFAULT_NAME = "Access portal"
# How often --wait polls the endpoint, and how long each poll may take, in seconds.
POLL_INTERVAL_SECONDS = 0.5
POLL_TIMEOUT_SECONDS = 2


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
        parser.add_argument(
            "--wait",
            type=float,
            default=0,
            metavar="SECONDS",
            help="Wait up to SECONDS for the endpoint to respond to HTTP before registering, "
            "for a web process that is still starting (default 0: do not wait).",
        )

    def handle(self, *args, **options):
        secret = settings.PORTAL_EVENT_HOOK_SECRET
        if not secret:
            raise CommandError(
                "PORTAL_EVENT_HOOK_SECRET is not set: set it first; Okta sends it with every "
                "delivery and the endpoint refuses deliveries without it."
            )
        url = options["url"] or settings.PORTAL_URL + reverse("access_requests:okta_event_hook")
        if options["wait"] > 0:
            wait_for_endpoint(url, options["wait"])
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
                # NOTE: a reused hook keeps the secret, header and event types it was created
                # with, so after a change of PORTAL_EVENT_HOOK_SECRET its verification fails.
                self.stdout.write(f"Event hook {hook.id} already calls {url}")
            hook = client.verify_event_hook(hook.id)
        except OktaError as error:
            raise CommandError(
                f"The Okta request to {settings.OKTA_ORG_URL} failed: {error}. "
                "Fix the cause and run this command again."
            ) from error
        self.stdout.write(
            self.style.SUCCESS(f"Event hook {hook.id} is {hook.status}, {hook.verification_status}")
        )


def wait_for_endpoint(url: str, timeout: float) -> None:
    """Poll `url` until it returns any HTTP response; raise CommandError after `timeout` seconds.

    Any status counts, because the endpoint rejects a GET without the hook secret with 401.
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            requests.get(url, timeout=POLL_TIMEOUT_SECONDS, allow_redirects=False).close()
            return
        except (requests.ConnectionError, requests.Timeout) as error:
            last_error = error
        except requests.RequestException as error:
            raise CommandError(
                f"The request to the hook endpoint {url} failed: {error}. Check the URL."
            ) from error
        if time.monotonic() >= deadline:
            raise CommandError(
                f"The hook endpoint {url} did not respond within {timeout:g} s "
                f"({type(last_error).__name__}). Start the portal's web process, check the URL, "
                "and run this command again."
            )
        time.sleep(POLL_INTERVAL_SECONDS)
