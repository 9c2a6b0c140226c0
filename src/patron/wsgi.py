"""WSGI entry point (Patron serves with uvicorn over ASGI; this is for other servers)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "patron.settings")
application = get_wsgi_application()
