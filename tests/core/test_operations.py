"""Production settings, health endpoints, request ids, and what clients see when the database is away."""

import json
import logging
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

from tests.celery_broker import celery_broker
from tests.factories import MeterFactory, make_api_key

ROOT = Path(__file__).resolve().parents[2]


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _manage(*args, env_extra=None):
    env = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "ALLOWED_HOSTS")}
    env.update(env_extra or {})
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def _database_url() -> str:
    s = connection.settings_dict
    return f"postgres://{s['USER']}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def test_check_deploy_is_clean_with_production_settings():
    result = _manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        env_extra={
            "DJANGO_SETTINGS_MODULE": "fluxbill.settings.production",
            "SECRET_KEY": "x" * 20 + "production-secret-from-the-environment-0123456789",
            "ALLOWED_HOSTS": "billing.example.com",
            "DATABASE_URL": _database_url(),
        },
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_refuses_to_start_without_a_secret_key():
    result = _manage(
        "check",
        env_extra={
            "DJANGO_SETTINGS_MODULE": "fluxbill.settings.production",
            "ALLOWED_HOSTS": "billing.example.com",
            "DATABASE_URL": _database_url(),
        },
    )
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


@pytest.mark.django_db
def test_healthz_answers_without_credentials(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_readyz_checks_database_and_broker(client):
    response = client.get("/readyz")
    assert response.status_code == 200, response.content
    assert response.json()["database"] == "ok" and response.json()["broker"] == "ok"


@pytest.mark.django_db
def test_readyz_is_503_when_the_broker_is_unreachable(client, settings):
    settings.FLUXBILL_READYZ_TIMEOUT = 0.5
    with celery_broker(f"redis://127.0.0.1:{_closed_port()}/0"):
        response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["database"] == "ok"
    assert response.json()["broker"] != "ok"


@pytest.mark.django_db
def test_request_id_is_echoed_or_made(client):
    assert client.get("/healthz", HTTP_X_REQUEST_ID="abc-123").headers["X-Request-ID"] == "abc-123"
    made = client.get("/healthz", HTTP_X_REQUEST_ID="bad id with spaces").headers["X-Request-ID"]
    assert made != "bad id with spaces" and len(made) == 32


def test_json_log_lines_carry_the_request_id():
    from pythonjsonlogger.json import JsonFormatter

    from fluxbill.core.middleware import RequestIdLogFilter, request_id_var

    record = logging.LogRecord("fluxbill", logging.INFO, __file__, 1, "hello %s", ("there",), None)
    token = request_id_var.set("req-42")
    try:
        RequestIdLogFilter().filter(record)
    finally:
        request_id_var.reset(token)
    line = JsonFormatter("%(asctime)s %(levelname)s %(name)s %(request_id)s %(message)s").format(record)
    parsed = json.loads(line)
    assert parsed["request_id"] == "req-42"
    assert parsed["message"] == "hello there"


class _Lines(logging.Handler):
    def __init__(self):
        super().__init__()
        self.lines = []

    def emit(self, record):
        self.lines.append(self.format(record))


@pytest.mark.django_db
def test_django_request_log_lines_for_4xx_answers_carry_the_request_id(client):
    from fluxbill.core.middleware import RequestIdLogFilter

    handler = _Lines()
    handler.addFilter(RequestIdLogFilter())
    handler.setFormatter(logging.Formatter("%(levelname)s [%(request_id)s] %(message)s"))
    django_request = logging.getLogger("django.request")
    django_request.addHandler(handler)
    try:
        assert client.get("/api/v1/events", HTTP_X_REQUEST_ID="req-401").status_code == 401
    finally:
        django_request.removeHandler(handler)
    assert handler.lines == ["WARNING [req-401] Unauthorized: /api/v1/events"]


@pytest.mark.django_db(transaction=True)
def test_ingestion_answers_503_not_500_while_the_database_is_unreachable(api_client):
    meter = MeterFactory(event_name="api.calls", aggregation_type="COUNT", property_name="")
    _, raw = make_api_key(scopes=["usage.write"])
    api_client.credentials(HTTP_X_API_KEY=raw)
    body = {"meter_token": str(meter.token), "customer_external_id": "c-1", "quantity": 1, "idempotency_key": "k-1"}
    assert api_client.post("/api/v1/sdk/track", body, format="json").status_code == 201

    real_port = connection.settings_dict["PORT"]
    connection.close()
    connection.settings_dict["PORT"] = str(_closed_port())
    try:
        response = api_client.post("/api/v1/sdk/track", body, format="json")
    finally:
        connection.close()
        connection.settings_dict["PORT"] = real_port
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert "database" in response.json()["error"]

    # Back online: the client's retry with the same key is answered with the original event, stored once.
    again = api_client.post("/api/v1/sdk/track", body, format="json")
    assert again.status_code == 201
    from metering.models import UsageEvent

    assert UsageEvent.objects.filter(idempotency_key="k-1").count() == 1


def test_test_database_and_redis_come_from_the_environment():
    """Two test runs on one machine stay apart when each names its own database and Redis database."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "fluxbill.settings.test",
        "FLUXBILL_TEST_DATABASE_NAME": "test_fluxbill_other_run",
        "FLUXBILL_TEST_REDIS_URL": "redis://127.0.0.1:6379/9",
    }
    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "print(s.DATABASES['default']['TEST']['NAME'], s.FLUXBILL_TEST_REDIS_URL)"
    )
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.split() == ["test_fluxbill_other_run", "redis://127.0.0.1:6379/9"]


def test_the_procfile_web_line_serves_as_readme_and_the_ingest_bench_do():
    """Found (issue 14 §4): the Procfile started sync workers with an access log, and `/sdk/track` through it
    answered 1,254 req/s against 1,806 with gthread 2×8. `make run` and Procfile deploys run this line."""
    import re
    import shlex
    from pathlib import Path

    from django.conf import settings

    lines = dict(line.split(":", 1) for line in Path(settings.BASE_DIR, "Procfile").read_text().splitlines() if ":" in line)
    web = shlex.split(lines["web"])
    assert web[0].endswith("gunicorn") and "fluxbill.wsgi" in web
    assert web[web.index("--worker-class") + 1] == "gthread"
    assert re.fullmatch(r"\$\{WEB_THREADS:-8\}", web[web.index("--threads") + 1])
    assert not any(arg.startswith("--access-log") for arg in web), "an access log costs every request a write"
    readme = Path(settings.BASE_DIR, "README.md").read_text()
    assert "--worker-class gthread --threads 8" in readme
