"""Celery tasks of the accounts app: the Okta user sync."""

import logging
import time

from celery import shared_task
from django.core.cache import cache

from accounts.sync import sync_users
from portal.okta_api import OktaTransientError

logger = logging.getLogger(__name__)

# One sync at a time: a second run started meanwhile (beat and an admin's button) would only
# repeat the same reads. The lock expires on its own if a worker dies mid-run.
SYNC_LOCK_KEY = "accounts:sync-users:lock"
SYNC_LOCK_SECONDS = 30 * 60
MAX_SYNC_RETRIES = 5


@shared_task(name="accounts.sync_users", bind=True, max_retries=MAX_SYNC_RETRIES)
def sync_users_task(self) -> dict:
    """Run the Okta user sync; retried no earlier than Okta allows after a transient error."""
    if not cache.add(SYNC_LOCK_KEY, self.request.id or "local", SYNC_LOCK_SECONDS):
        logger.info("User sync skipped: another run holds the lock")
        return {"skipped": True}
    try:
        return sync_users().as_dict()
    except OktaTransientError as error:
        delay = max(error.retry_at - time.time(), 1.0)
        logger.warning("User sync failed (%s), retrying in %.0f s", error, delay)
        raise self.retry(countdown=delay) from error
    finally:
        cache.delete(SYNC_LOCK_KEY)
