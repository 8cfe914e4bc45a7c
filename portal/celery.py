"""The portal's Celery app.

Worker: `celery -A portal worker --pool=prefork`. Beat: `celery -A portal beat`, as its own
process. Configuration comes from the CELERY_* Django settings, and each installed app's
`tasks` module is discovered.
"""

import os

from celery import Celery
from kombu.transport import TRANSPORT_ALIASES

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

# filesystem:// URLs get the transport whose messages appear in the queue folder whole.
TRANSPORT_ALIASES["filesystem"] = "portal.filesystem_broker:Transport"

app = Celery("portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
