"""Rollover benchmark: draft every invoice of a busy period end, next to a plain GROUP BY over the same events.

    .venv/bin/python bench/rollover.py          # a few minutes; --help for the knobs

What it does, in one run on one machine:
1. drops and recreates a database (fluxbill_bench_rollover on DATABASE_URL's server, else 127.0.0.1:5432)
   and migrates it with `manage.py migrate` (settings fluxbill.settings.local, DEBUG off);
2. loads it with SQL, not the ORM row by row: meters of mixed aggregation types (mostly SUM; some COUNT,
   MAX, UNIQUE_COUNT, LATEST), plans of 1 to --charges-max usage charges (per_unit, graduated, volume,
   package; every third plan also has a fixed fee), --subscriptions customers with one monthly
   subscription each whose period ended a minute before `now`, and --events usage events spread over
   those customers and their plans' meters inside that period (INSERT … SELECT generate_series, the
   event table's secondary indexes built after the load); then VACUUM ANALYZE;
3. times the floor, one plain `SELECT customer_id, meter_id, SUM(quantity) … GROUP BY customer_id, meter_id`
   over the period, twice, and keeps the second (warm) time;
4. warms up the rollover the same way — one full run inside a transaction that is rolled back — then
   times `subscriptions_rollover(now=…, actor=Actor.task("bench"))` drafting every invoice, and checks
   it made exactly one invoice per subscription and that every SUM line's quantity equals the floor's sum;
   Every customer is taxed, with one to three rates (VAT 19 %, STATE 8.875 %, CITY 2.5 %) of one entity, so the
   money pipeline's tax step runs on every invoice; the check also wants each draft's tax table to list them;
5. times finalizing every draft (`invoices_finalize_due`: recompute, number, snapshot, tax, credit), each in its
   own transaction as the beat does it, with the email enqueue going to an in-memory broker;
6. prints the figures, the ratio rollover / floor and PASS/FAIL against the target (within 6× the floor), and
   the finalization as seconds and invoices per second. It exits 0 either way: it is a benchmark, not a test.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

REPO = Path(__file__).resolve().parent.parent
DEFAULT_SERVER = "postgres://postgres@127.0.0.1:5432/postgres"
TARGET_RATIO = 6.0
TAX_RATES = (("VAT", "VAT 19%", "19"), ("STATE", "State tax 8.875%", "8.875"), ("CITY", "City tax 2.5%", "2.5"))

# Mostly SUM, as real usage meters are; one or two of every other type the rollover must answer.
METER_TYPES = ["SUM"] * 10 + ["COUNT", "COUNT", "MAX", "MAX", "UNIQUE_COUNT", "LATEST"]
PRICING_MODELS = ["per_unit", "graduated", "volume", "package"]
PLANS = 40
UNIQUE_USERS = 97

FLOOR_SQL = """
    SELECT customer_id, meter_id, SUM(quantity)
    FROM metering_usageevent
    WHERE timestamp >= %s AND timestamp < %s
    GROUP BY customer_id, meter_id
"""


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--subscriptions", type=int, default=10_000, help="customers, one subscription each (default 10000)")
    p.add_argument("--events", type=int, default=5_000_000, help="usage events in the period (default 5000000)")
    p.add_argument("--charges-max", type=int, default=5, help="usage charges per plan: 1 to this (default 5)")
    p.add_argument("--batch-size", type=int, default=None, help="subscriptions_rollover batch_size (default: its own)")
    p.add_argument("--no-warmup", action="store_true", help="time the first rollover, without a rolled-back warm-up run")
    p.add_argument("--db-name", default="fluxbill_bench_rollover", help="database to drop, create and use")
    p.add_argument("--keep-db", action="store_true", help="leave the benchmark database in place afterwards")
    p.add_argument("--reuse-db", action="store_true", help="skip creating and loading: reset and reuse the database a --keep-db run left")
    args = p.parse_args()
    if not 1 <= args.charges_max <= len(METER_TYPES):
        p.error(f"--charges-max must be between 1 and {len(METER_TYPES)}")
    return args


# --- Database ---------------------------------------------------------------------------


def database_urls(db_name: str) -> tuple[str, str]:
    """(maintenance URL, benchmark URL) on DATABASE_URL's server, else the local default."""
    parts = urlsplit(os.environ.get("DATABASE_URL") or DEFAULT_SERVER)
    return urlunsplit(parts._replace(path="/postgres")), urlunsplit(parts._replace(path="/" + db_name))


def _admin(maintenance_url: str, *statements) -> None:
    import psycopg

    with psycopg.connect(maintenance_url, autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement)


def recreate_database(maintenance_url: str, db_name: str) -> None:
    from psycopg import sql

    name = sql.Identifier(db_name)
    _admin(
        maintenance_url,
        sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name),
        sql.SQL("CREATE DATABASE {}").format(name),
    )


def drop_database(maintenance_url: str, db_name: str) -> None:
    from psycopg import sql

    _admin(maintenance_url, sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(db_name)))


def app_environment(bench_url: str) -> dict[str, str]:
    environment = dict(os.environ)
    environment.update(
        DJANGO_SETTINGS_MODULE="fluxbill.settings.local",
        DATABASE_URL=bench_url,
        DEBUG="false",
        LOG_LEVEL="WARNING",
        # Finalizing enqueues an email per invoice: into memory, not into `make run`'s broker folder.
        CELERY_BROKER_URL="memory://",
    )
    return environment


def migrate(environment: dict[str, str]) -> None:
    subprocess.run(
        [sys.executable, str(REPO / "manage.py"), "migrate", "--no-input", "-v", "0"],
        cwd=REPO,
        env=environment,
        check=True,
    )


def setup_django(environment: dict[str, str]) -> None:
    os.environ.update(environment)
    sys.path.insert(0, str(REPO))
    import django

    django.setup()


# --- Data -------------------------------------------------------------------------------


def period(now):
    """The subscriptions' period: one calendar month that ended a minute before `now`."""
    from dateutil.relativedelta import relativedelta

    end = now - timedelta(minutes=1)
    return end - relativedelta(months=1), end


def _tiers(j: int) -> list[dict]:
    return [
        {"up_to": str(500 * (j + 1)), "unit_price": "0.05", "flat_amount": "0"},
        {"up_to": str(5000 * (j + 1)), "unit_price": "0.02", "flat_amount": "10"},
        {"up_to": None, "unit_price": "0.005", "flat_amount": "25"},
    ]


def create_catalog(charges_max: int) -> tuple[list, list]:
    """Meters and plans through bulk_create: a few hundred rows, with the models' own defaults."""
    from catalog.models import Charge, Plan
    from metering.models import Meter

    meters = Meter.objects.bulk_create(
        Meter(
            name=f"Bench meter {k} ({kind})",
            lookup_key=f"bench-meter-{k}",
            event_name=f"bench.meter.{k}",
            property_name="user_id" if kind == "UNIQUE_COUNT" else ("" if kind == "COUNT" else "value"),
            aggregation_type=kind,
            unit="units",
        )
        for k, kind in enumerate(METER_TYPES)
    )
    plans, charges = [], []
    for p in range(PLANS):
        currency = {7: "JPY", 9: "EUR"}.get(p % 10, "USD")
        plan = Plan(
            name=f"Bench plan {p}",
            lookup_id=f"bench-plan-{p}",
            type="HYBRID" if p % 3 == 0 else "USAGE",
            billing_interval="month",
            currency=currency,
        )
        plans.append(plan)
        if p % 3 == 0:
            charges.append(Charge(plan=plan, type="FIXED", display_name="Platform fee", amount=49 + p))
        for j in range(1 + p % charges_max):
            # 5 is prime to the meter count, so a plan's meters are distinct.
            meter = meters[(3 * p + 5 * j) % len(meters)]
            model = PRICING_MODELS[(p + j) % len(PRICING_MODELS)]
            charge = Charge(
                plan=plan,
                type="USAGE",
                display_name=f"{meter.name} ({model})",
                meter=meter,
                pricing_model=model,
                free_units=[0, 0, 100][j % 3],
            )
            if model == "per_unit":
                charge.unit_price = "0.0125"
            elif model == "package":
                charge.package_size, charge.package_price = 1000, "4.50"
            else:
                charge.tiers = _tiers(j)
            charges.append(charge)
    Plan.objects.bulk_create(plans)
    Charge.objects.bulk_create(charges)
    from catalog.models import TaxRate

    TaxRate.objects.bulk_create(TaxRate(code=code, name=name, rate=rate) for code, name, rate in TAX_RATES)
    return meters, plans


def load(cursor, *, subscriptions: int, events: int, start, end, meters, plans) -> None:
    from catalog.models import Charge

    plan_meters = {plan.pk: [] for plan in plans}
    for charge in Charge.objects.filter(type="USAGE").order_by("created_at", "id"):
        plan_meters[charge.plan_id].append(str(charge.meter_id))
    plan_ids = [str(plan.pk) for plan in plans]
    unique_meters = [str(m.pk) for m in meters if m.aggregation_type == "UNIQUE_COUNT"]

    # One row per customer: its index, id, plan and the meters its plan charges for.
    cursor.execute(
        """
        CREATE TEMP TABLE bench_customer AS
        SELECT g AS idx, gen_random_uuid() AS id FROM generate_series(0, %(n)s - 1) g
        """,
        {"n": subscriptions},
    )
    cursor.execute("CREATE TEMP TABLE bench_plan (idx int PRIMARY KEY, id uuid, meters uuid[])")
    cursor.executemany(
        "INSERT INTO bench_plan VALUES (%s, %s, %s::uuid[])",
        [(i, plan_id, plan_meters[plan.pk]) for i, (plan_id, plan) in enumerate(zip(plan_ids, plans))],
    )
    cursor.execute(
        """
        INSERT INTO customers_customer (id, name, email, external_id, metadata, created_at, updated_at, billing_entity_id,
                                        legal_name, invoice_email, cc_emails, address_line1, address_line2, city, state,
                                        postal_code, country, tax_id, tax_rates)
        SELECT bench_customer.id, 'Bench customer ' || idx, 'bench' || idx || '@example.com', 'bench-cust-' || idx,
               '{}', now(), now(), e.id, '', '', '{}', '1 Bench Street', '', '', '', '', '', '',
               (%(codes)s::varchar[])[1:1 + idx %% 3]
        FROM bench_customer, (SELECT id FROM customers_billingentity WHERE is_default) e
        """,
        {"codes": [code for code, _, _ in TAX_RATES]},
    )
    cursor.execute(
        """
        INSERT INTO customers_subscription (id, customer_id, plan_id, status, billing_interval, start_date,
                                            current_period_start, current_period_end, billing_error, billing_failures,
                                            created_at, updated_at)
        SELECT gen_random_uuid(), c.id, p.id, 'ACTIVE', 'month', %(start)s, %(start)s, %(end)s, '', 0, now(), now()
        FROM bench_customer c JOIN bench_plan p ON p.idx = c.idx %% %(plans)s
        """,
        {"start": start, "end": end, "plans": len(plans)},
    )
    cursor.execute(
        """
        CREATE TEMP TABLE bench_customer_meters AS
        SELECT c.idx, c.id, p.meters, cardinality(p.meters) AS n
        FROM bench_customer c JOIN bench_plan p ON p.idx = c.idx %% %(plans)s
        """,
        {"plans": len(plans)},
    )
    cursor.execute("ANALYZE bench_customer_meters")

    # Build the secondary indexes after the load, as a bulk import would; the FKs were checked above
    # by construction (replica role skips their triggers for the 5M rows).
    cursor.execute(
        """
        SELECT indexname, indexdef FROM pg_indexes
        WHERE tablename = 'metering_usageevent' AND indexname <> 'metering_usageevent_pkey'
        """
    )
    indexes = cursor.fetchall()
    for name, _ in indexes:
        cursor.execute(f'DROP INDEX "{name}"')
    cursor.execute("SET session_replication_role = replica")
    # Event g goes to customer g mod N and cycles through that customer's meters; timestamps are
    # uniform over the period; UNIQUE_COUNT meters carry a user_id among UNIQUE_USERS values.
    cursor.execute(
        """
        INSERT INTO metering_usageevent (meter_id, customer_id, quantity, timestamp, idempotency_key,
                                         properties, source, created_at)
        SELECT m.meter_id, m.customer_id, m.quantity, m.ts, NULL,
               CASE WHEN m.meter_id = ANY(%(unique)s::uuid[])
                    THEN jsonb_build_object('user_id', 'user-' || (m.g %% %(users)s)) ELSE '{}'::jsonb END,
               'bench', now()
        FROM (
            SELECT g, c.id AS customer_id, c.meters[1 + (g / %(customers)s) %% c.n] AS meter_id,
                   round((random() * 100)::numeric, 3) AS quantity,
                   %(start)s::timestamptz + random() * (%(end)s::timestamptz - %(start)s::timestamptz) AS ts
            FROM generate_series(0, %(events)s - 1) g
            JOIN bench_customer_meters c ON c.idx = g %% %(customers)s
        ) m
        """,
        {
            "unique": unique_meters,
            "users": UNIQUE_USERS,
            "customers": subscriptions,
            "start": start,
            "end": end,
            "events": events,
        },
    )
    cursor.execute("SET session_replication_role = DEFAULT")
    cursor.execute("SET maintenance_work_mem = '1GB'")
    for _, definition in indexes:
        cursor.execute(definition)
    cursor.execute("RESET maintenance_work_mem")
    for table in ("bench_customer", "bench_plan", "bench_customer_meters"):
        cursor.execute(f"DROP TABLE {table}")
    cursor.execute("VACUUM ANALYZE")


# --- Measurements -----------------------------------------------------------------------


def time_floor(cursor, start, end) -> tuple[float, dict, str]:
    timings = []
    for _ in range(2):
        began = time.perf_counter()
        cursor.execute(FLOOR_SQL, [start, end])
        rows = cursor.fetchall()
        timings.append(time.perf_counter() - began)
    cursor.execute("EXPLAIN " + FLOOR_SQL, [start, end])
    lines = [line for (line,) in cursor.fetchall()]
    nodes = [lines[0]] + [line for line in lines[1:] if "->" in line]
    plan = " / ".join(node.strip().lstrip("-> ").split("  (")[0] for node in nodes)
    return timings[1], {(c, m): s for c, m, s in rows}, plan


class _RolledBack(Exception):
    pass


def rollover(now, batch_size, *, roll_back: bool) -> tuple[float, int]:
    from django.db import transaction

    from invoicing.services import Actor, subscriptions_rollover

    kwargs = {} if batch_size is None else {"batch_size": batch_size}
    began = time.perf_counter()
    created = 0
    try:
        with transaction.atomic():
            created = subscriptions_rollover(now=now, actor=Actor.task("bench"), **kwargs)
            elapsed = time.perf_counter() - began
            if roll_back:
                raise _RolledBack
    except _RolledBack:
        pass
    return elapsed, created


def check(cursor, *, subscriptions: int, created: int, floor_sums: dict) -> list[str]:
    """What is wrong with the drafts, if anything."""
    problems = []
    if created != subscriptions:
        problems.append(f"rollover reported {created} invoices for {subscriptions} subscriptions")
    cursor.execute(
        """
        SELECT count(*), count(DISTINCT subscription_id), count(*) FILTER (WHERE status <> 'DRAFT')
        FROM invoicing_invoice
        """
    )
    invoices, distinct, not_draft = cursor.fetchone()
    if invoices != subscriptions or distinct != subscriptions or not_draft:
        problems.append(f"{invoices} invoices for {distinct} of {subscriptions} subscriptions, {not_draft} not DRAFT")
    cursor.execute(
        """
        SELECT i.customer_id, l.meter_id, l.quantity
        FROM invoicing_invoiceline l
        JOIN invoicing_invoice i ON i.id = l.invoice_id
        JOIN metering_meter m ON m.id = l.meter_id
        WHERE m.aggregation_type = 'SUM'
        """
    )
    lines = cursor.fetchall()
    wrong = sum(1 for customer, meter, quantity in lines if floor_sums.get((customer, meter), 0) != quantity)
    if wrong:
        problems.append(f"{wrong} of {len(lines)} SUM lines disagree with the floor's sums")
    cursor.execute(
        """
        SELECT count(*) FROM invoicing_invoice i JOIN customers_customer c ON c.id = i.customer_id
        WHERE jsonb_array_length(i.tax_summary) <> cardinality(c.tax_rates)
           OR i.total <> i.subtotal - i.discount_total + i.tax_total
        """
    )
    untaxed = cursor.fetchone()[0]
    if untaxed:
        problems.append(f"{untaxed} drafts without their customer's tax rates, or whose total is not subtotal + tax")
    return problems


def finalize_all(now) -> tuple[float, int]:
    """Every draft finalized as the beat does it (one transaction each); (seconds, invoices finalized)."""
    from invoicing.models import Invoice
    from invoicing.services import Actor, invoices_finalize_due

    Invoice.objects.filter(status="DRAFT").update(finalize_at=now)
    drafts = Invoice.objects.filter(status="DRAFT").count()
    began = time.perf_counter()
    finalized = invoices_finalize_due(now=now, actor=Actor.task("bench"), limit=drafts)
    return time.perf_counter() - began, finalized


def counts(cursor) -> dict:
    cursor.execute(
        """
        SELECT (SELECT count(*) FROM metering_usageevent),
               (SELECT count(*) FROM customers_subscription),
               (SELECT count(*) FROM customers_subscription s JOIN catalog_charge c ON c.plan_id = s.plan_id
                 WHERE c.type = 'USAGE'),
               (SELECT count(*) FROM customers_subscription s JOIN catalog_charge c ON c.plan_id = s.plan_id
                 WHERE c.type = 'FIXED'),
               (SELECT string_agg(aggregation_type || ' ' || n, ', ' ORDER BY n DESC) FROM (
                   SELECT m.aggregation_type, count(*) AS n FROM customers_subscription s
                   JOIN catalog_charge c ON c.plan_id = s.plan_id JOIN metering_meter m ON m.id = c.meter_id
                   GROUP BY 1) t),
               (SELECT count(*) FROM invoicing_invoiceline),
               current_setting('server_version')
        """
    )
    events, subscriptions, usage, fixed, by_type, lines, version = cursor.fetchone()
    return {
        "events": events,
        "subscriptions": subscriptions,
        "usage_charges": usage,
        "fixed_charges": fixed,
        "by_type": by_type,
        "lines": lines,
        "pg_version": version,
    }


def main() -> None:
    args = parse_args()
    maintenance_url, bench_url = database_urls(args.db_name)
    environment = app_environment(bench_url)

    began = time.perf_counter()
    if not args.reuse_db:
        print(f"creating {args.db_name} and migrating …", flush=True)
        recreate_database(maintenance_url, args.db_name)
        migrate(environment)
    setup_django(environment)

    from django.db import connection
    from django.utils import timezone

    from customers.models import Subscription

    if args.reuse_db:
        # Undo a previous run: no invoices, every subscription back in the period the load gave it.
        with connection.cursor() as cursor:
            cursor.execute("TRUNCATE invoicing_invoiceevent, invoicing_invoiceline, invoicing_invoice")
            cursor.execute(
                "UPDATE customers_subscription SET current_period_start = start_date, "
                "current_period_end = start_date + interval '1 month', status = 'ACTIVE', ended_at = NULL"
            )
            cursor.execute("VACUUM ANALYZE customers_subscription")
        first = Subscription.objects.order_by("current_period_end").first()
        start, end = first.current_period_start, first.current_period_end
        now = end + timedelta(minutes=1)
    else:
        now = timezone.now().replace(microsecond=0)
        start, end = period(now)
        print(
            f"loading {args.subscriptions} subscriptions and {args.events} events over [{start:%Y-%m-%d %H:%M}, "
            f"{end:%Y-%m-%d %H:%M}) …",
            flush=True,
        )
        meters, plans = create_catalog(args.charges_max)
        with connection.cursor() as cursor:
            load(cursor, subscriptions=args.subscriptions, events=args.events, start=start, end=end, meters=meters, plans=plans)
    loaded = time.perf_counter() - began
    print(f"ready in {loaded:.0f} s; measuring …", flush=True)

    with connection.cursor() as cursor:
        floor_seconds, floor_sums, floor_plan = time_floor(cursor, start, end)
    warmup_seconds = None
    if not args.no_warmup:
        warmup_seconds, _ = rollover(now, args.batch_size, roll_back=True)
    rollover_seconds, created = rollover(now, args.batch_size, roll_back=False)

    with connection.cursor() as cursor:
        problems = check(cursor, subscriptions=args.subscriptions, created=created, floor_sums=floor_sums)
        figures = counts(cursor)
    finalize_seconds, finalized = finalize_all(now + timedelta(hours=1))
    if finalized != created:
        problems.append(f"finalized {finalized} of {created} drafts")
    connection.close()
    if not args.keep_db:
        drop_database(maintenance_url, args.db_name)

    ratio = rollover_seconds / floor_seconds
    ok = ratio <= TARGET_RATIO and not problems
    print()
    print(f"Rollover benchmark — PostgreSQL {figures['pg_version']}, Python {platform.python_version()}, {os.cpu_count()} CPUs")
    print(f"  events                {figures['events']:>12,}")
    print(f"  subscriptions         {figures['subscriptions']:>12,}")
    print(f"  usage charges         {figures['usage_charges']:>12,}   ({figures['by_type']})")
    print(f"  fixed charges         {figures['fixed_charges']:>12,}")
    print(f"  invoices drafted      {created:>12,}   ({figures['lines']:,} lines)")
    if warmup_seconds is not None:
        print(f"  rollover warm-up      {warmup_seconds:>12.2f} s (rolled back)")
    print(f"  rollover              {rollover_seconds:>12.2f} s")
    print(f"  floor GROUP BY        {floor_seconds:>12.2f} s   ({floor_plan})")
    print(f"  ratio rollover/floor  {ratio:>12.2f} ×   target ≤ {TARGET_RATIO:g} ×")
    print(f"  finalize all drafts   {finalize_seconds:>12.2f} s   ({finalized:,} invoices, "
          f"{finalized / finalize_seconds:,.0f} invoices/s: recompute, number, snapshot, tax, credit)")
    for problem in problems:
        print(f"  CHECK FAILED: {problem}")
    print(f"{'PASS' if ok else 'FAIL'}: rollover {'within' if ratio <= TARGET_RATIO else 'over'} {TARGET_RATIO:g}× the floor")
    sys.exit(0)


if __name__ == "__main__":
    main()
