"""WSGI entry point, served by granian (`python -m scimserver.server`)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "scimserver.settings")

application = get_wsgi_application()
