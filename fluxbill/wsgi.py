import os

from django.conf import settings
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fluxbill.settings.local")

application = get_wsgi_application()

from fluxbill.core.memory import malloc_configure  # noqa: E402 — after the settings are loaded

# Before gunicorn's worker starts its request threads (the app is loaded in each worker first).
malloc_configure(settings.FLUXBILL_MALLOC_ARENAS)
