"""The portal's Celery app.

Worker: `celery -A portal worker --pool=prefork`. Beat: `celery -A portal beat`, as its own
process. Configuration comes from the CELERY_* Django settings, and each installed app's
`tasks` module is discovered.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

app = Celery("portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
