"""Export memory benchmark: the event debugger's CSV export of 1,000,000 events, next to one of 100,000.

    .venv/bin/python bench/export_memory.py            # about a minute; --help for the knobs

What it does, in one run:
1. drops and recreates a database (fluxbill_bench_export on DATABASE_URL's server, else 127.0.0.1:5432),
   migrates it, and loads --events usage events of one meter for two customers with INSERT … SELECT
   generate_series: customer "small" holds a tenth of them, customer "big" the rest;
2. exports each customer's events through the real view (`/events/export.csv?customer=…`, a staff user,
   Django's test client in this process), reading the streamed answer chunk by chunk as a client would;
3. measures, for each export, the rows, the seconds and the process's peak resident memory after it
   (getrusage's ru_maxrss: the high-water mark, so the small export runs first), and prints how much the
   big export raised the peak next to the limit, a quarter of the small export's peak: a buffering
   export of nine times the rows would need several times the small one's memory; a streaming one
   raises the peak by almost nothing. It exits 0 either way: it is a benchmark, not a test.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import resource
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

REPO = Path(__file__).resolve().parent.parent
DEFAULT_SERVER = "postgres://postgres@127.0.0.1:5432/postgres"
LIMIT_SHARE = 0.25


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--events", type=int, default=1_000_000, help="events in all (default 1000000)")
    p.add_argument("--db-name", default="fluxbill_bench_export", help="database to drop, create and use")
    p.add_argument("--keep-db", action="store_true", help="leave the database in place afterwards")
    return p.parse_args()


def _urls(db_name: str) -> tuple[str, str]:
    parts = urlsplit(os.environ.get("DATABASE_URL") or DEFAULT_SERVER)
    return urlunsplit(parts._replace(path="/postgres")), urlunsplit(parts._replace(path="/" + db_name))


def _admin(url: str, statement) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(statement)


def _prepare(args) -> str:
    from psycopg import sql

    maintenance, bench = _urls(args.db_name)
    name = sql.Identifier(args.db_name)
    _admin(maintenance, sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))
    _admin(maintenance, sql.SQL("CREATE DATABASE {}").format(name))
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="fluxbill.settings.local", DATABASE_URL=bench, DEBUG="false", LOG_LEVEL="WARNING")
    subprocess.run([sys.executable, str(REPO / "manage.py"), "migrate", "--no-input", "-v", "0"], cwd=REPO, env=env, check=True)
    os.environ.update(env)
    sys.path.insert(0, str(REPO))
    import django

    django.setup()
    return maintenance


def _load(events: int):
    from django.db import connection

    from customers.models import Customer
    from metering.models import Meter

    meter = Meter.objects.create(name="Bench calls", lookup_key="bench-calls", event_name="bench.calls", aggregation_type="SUM", property_name="value")
    small = Customer.objects.create(name="Small", external_id="small")
    big = Customer.objects.create(name="Big", external_id="big")
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO metering_usageevent (meter_id, customer_id, quantity, timestamp, created_at, idempotency_key, source, properties)
            SELECT %(meter)s, CASE WHEN i %% 10 = 0 THEN %(small)s ELSE %(big)s END, (i %% 97) + 0.5,
                   now() - make_interval(secs => i), now(), NULL, 'bench', jsonb_build_object('value', i %% 97, 'region', 'eu')
            FROM generate_series(1, %(n)s) AS i
            """,
            {"meter": meter.pk, "small": small.pk, "big": big.pk, "n": events},
        )
        cursor.execute("VACUUM ANALYZE metering_usageevent")


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kilobytes on Linux


def _export(client, customer: str) -> tuple[int, float, float]:
    """(rows, seconds, peak resident MiB after it) of one export, read chunk by chunk as a client would."""
    started = time.perf_counter()
    response = client.get("/events/export.csv", {"customer": customer})
    assert response.status_code == 200, response.status_code
    lines = 0
    for chunk in response.streaming_content:
        lines += chunk.count(b"\n")
    response.close()
    return lines - 1, time.perf_counter() - started, _peak_mib()


def main() -> None:
    args = parse_args()
    maintenance = _prepare(args)
    try:
        started = time.perf_counter()
        _load(args.events)
        print(f"loaded {args.events:,} events in {time.perf_counter() - started:.1f} s")

        from django.contrib.auth import get_user_model
        from django.test import Client

        user = get_user_model().objects.create_superuser(username="bench", email="bench@example.com", password="x")
        client = Client(HTTP_HOST="localhost")  # a host ALLOWED_HOSTS holds
        client.force_login(user)
        _export(client, "small")  # warm: imports, connection, query plans
        small = _export(client, "small")
        big = _export(client, "big")
        for name, (rows, seconds, peak) in (("small", small), ("big", big)):
            print(f"export {name:>5}: {rows:>9,} rows in {seconds:6.1f} s ({rows / seconds:,.0f} rows/s), peak RSS after it {peak:6.1f} MiB")
        grown = big[2] - small[2]
        limit = LIMIT_SHARE * small[2]
        verdict = "PASS" if grown <= limit else "FAIL"
        print(
            f"the {big[0]:,}-row export raised the peak by {grown:.1f} MiB; limit {limit:.1f} MiB "
            f"(a quarter of the peak after the {small[0]:,}-row export) — {verdict}"
        )
    finally:
        from django.db import connections

        connections.close_all()
        if not args.keep_db:
            from psycopg import sql

            _admin(maintenance, sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(args.db_name)))


if __name__ == "__main__":
    main()
