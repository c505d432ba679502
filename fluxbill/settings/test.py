"""Test settings: PostgreSQL always (DATABASE_URL, else 127.0.0.1:5432, else embedded)."""

from . import env as _env

_env.PREFER_LOCAL_SERVER = True

from .base import *  # noqa: E402,F401,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
CELERY_TASK_ALWAYS_EAGER = False
# Tasks enqueued by services (emails after finalize) stay in this process; the end-to-end test
# points the app at Redis and runs a real worker.
CELERY_BROKER_URL = _env.env.str("CELERY_BROKER_URL", default="memory://")
CELERY_BROKER_TRANSPORT_OPTIONS = {}
# Two test runs on one machine each name their own database and Redis database, or share today's.
_test_database = _env.env.str("FLUXBILL_TEST_DATABASE_NAME", default="")
if _test_database:
    DATABASES["default"]["TEST"] = {"NAME": _test_database}  # noqa: F405
# Worker end-to-end tests use this Redis database as broker and flush it first.
FLUXBILL_TEST_REDIS_URL = _env.env.str("FLUXBILL_TEST_REDIS_URL", default="redis://127.0.0.1:6379/15")
MIDDLEWARE = [m for m in MIDDLEWARE if not m.startswith("whitenoise.")]  # noqa: F405

# Tests count today's events on every view (desk.selectors); the cached count has its own test.
FLUXBILL_OVERVIEW_TODAY_SECONDS = 0

# Webhook receivers in tests listen on 127.0.0.1.
FLUXBILL_WEBHOOK_ALLOW_PRIVATE_URLS = True
