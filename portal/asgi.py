"""ASGI entry point. The portal is deployed with WSGI (gunicorn); this exists for ASGI servers."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")

application = get_asgi_application()
