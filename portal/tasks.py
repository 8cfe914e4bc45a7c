"""Tasks that keep the task system itself healthy."""

import logging
import time
from pathlib import Path

from celery import shared_task
from django.conf import settings

logger = logging.getLogger(__name__)

# The folder contains only messages that a worker has already claimed and read, a few
# milliseconds after the claim, so an hour leaves a wide margin.
PROCESSED_MESSAGE_MAX_AGE_SECONDS = 3600


@shared_task(name="portal.ping")
def ping() -> str:
    """Return "pong"; used to check that a worker consumes from the broker."""
    return "pong"


@shared_task(name="portal.prune_processed_messages")
def prune_processed_messages() -> int:
    """Delete the embedded broker's claimed-message files older than an hour.

    The filesystem transport keeps each message it hands to a worker (see
    portal.config.broker_settings for why), so the folder would otherwise grow forever.
    Returns the number of files deleted.
    """
    folder = settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("processed_folder")
    if not folder:
        return 0
    return prune_files_older_than(Path(folder), PROCESSED_MESSAGE_MAX_AGE_SECONDS, time.time())


def prune_files_older_than(folder: Path, max_age_seconds: float, now: float) -> int:
    deleted = 0
    for path in folder.glob("*.msg"):
        try:
            # ctime, not mtime: the rename that claims a message updates ctime, so the age
            # counts from the claim even for a message that waited long in the queue.
            if now - path.stat().st_ctime > max_age_seconds:
                path.unlink()
                deleted += 1
        except FileNotFoundError:
            # Another prune run removed it first.
            continue
    logger.info("Pruned %d processed broker messages from %s", deleted, folder)
    return deleted
