"""Ingestion benchmark: /sdk/track and /events/bulk under gunicorn on PostgreSQL, each next to its limit.

    .venv/bin/python bench/ingest.py            # about 2½ minutes; --help for the knobs

What it does, in one run on one machine:
1. drops and recreates a database (fluxbill_bench on DATABASE_URL's server, else 127.0.0.1:5432),
   migrates it and creates a SUM meter, customers and a `*` API key through the project's own code;
2. starts gunicorn on it (rate limits off, the `{"ok": true}` yardstick view on) on a free loopback port;
3. drives it from a separate process (bench/loadgen.py: closed-loop keep-alive clients) against the plain
   view, single-event /sdk/track and 1000-event /events/bulk, and measures with psycopg a raw COPY of rows
   shaped like the bulk events and the dedup-safe path (COPY into a staging table, then INSERT … ON
   CONFLICT DO NOTHING). Every measurement is split into rounds and the rounds are interleaved, so a
   change in what else the machine is doing shifts every figure alike instead of skewing one ratio;
4. prints every figure with its ratio to its limit and PASS/FAIL per target. It exits 0 either way:
   it is a benchmark, not a test.
"""

from __future__ import annotations

import argparse
import http.client
import io
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

REPO = Path(__file__).resolve().parent.parent
LOADGEN = Path(__file__).resolve().parent / "loadgen.py"
DEFAULT_SERVER = "postgres://postgres@127.0.0.1:5432/postgres"

METER_EVENT = "bench.tokens"
METER_PROPERTY = "tokens"
CUSTOMER_PREFIX = "bench-cust-"

TRACK_SHARE_TARGET = 0.50
TRACK_P99_TARGET_MS = 50.0
BULK_SHARE_TARGET = 0.80


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=3, help="interleaved rounds every measurement is split into (3)")
    p.add_argument("--duration", type=float, default=12, help="measured seconds per HTTP phase, over all rounds (12)")
    p.add_argument("--warmup", type=float, default=1.5, help="unmeasured seconds before each HTTP phase, per round (1.5)")
    p.add_argument("--copy-seconds", type=float, default=9, help="seconds per COPY measurement, over all rounds (9)")
    p.add_argument("--clients", type=int, default=16, help="concurrent clients for plain view and track (16)")
    p.add_argument("--bulk-clients", type=int, default=2, help="concurrent clients for bulk (2)")
    p.add_argument("--batch", type=int, default=1000, help="events per bulk request and rows per COPY batch (1000)")
    p.add_argument(
        "--copy-connections",
        type=int,
        default=2,
        help="also measure the dedup-safe path over this many parallel connections (2; 1 skips it)",
    )
    p.add_argument("--customers", type=int, default=100, help="customers the events are spread over (100)")
    p.add_argument("--workers", type=int, default=2, help="gunicorn workers (2)")
    p.add_argument("--threads", type=int, default=8, help="gunicorn threads per worker (8)")
    p.add_argument("--worker-class", default="gthread", help="gunicorn worker class (gthread)")
    p.add_argument("--db-name", default="fluxbill_bench", help="database to drop, create and use (fluxbill_bench)")
    p.add_argument("--keep-db", action="store_true", help="leave the benchmark database in place afterwards")
    p.add_argument(
        "--compare",
        metavar="NAME=VALUE[,NAME=VALUE]",
        help="also run a second server with these environment settings (or workers=N, threads=N for gunicorn) "
        "and measure track on it in every round, interleaved with the first (an A/B that the machine's drift "
        "cannot skew)",
    )
    p.add_argument(
        "--phases", default="plain,track,bulk,copy", help="comma-separated subset of plain,track,bulk,copy (all)"
    )
    return p.parse_args()


# --- Database ---------------------------------------------------------------------------


def database_urls(db_name: str) -> tuple[str, str]:
    """(maintenance URL, benchmark URL) on DATABASE_URL's server, else the local default."""
    parts = urlsplit(os.environ.get("DATABASE_URL") or DEFAULT_SERVER)
    return urlunsplit(parts._replace(path="/postgres")), urlunsplit(parts._replace(path="/" + db_name))


def recreate_database(maintenance_url: str, db_name: str, *, create: bool = True) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(maintenance_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(db_name)))
        if create:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(db_name)))


def app_environment(bench_url: str) -> dict[str, str]:
    environment = dict(os.environ)
    environment.update(
        DJANGO_SETTINGS_MODULE="fluxbill.settings.local",
        DATABASE_URL=bench_url,
        DEBUG="false",
        LOG_LEVEL="WARNING",
        FLUXBILL_RATE_LIMIT_SINGLE="0",
        FLUXBILL_RATE_LIMIT_BULK="0",
        FLUXBILL_BENCH_PLAIN_VIEW="1",
        # Connections live through the whole run, so every backend's CPU is counted (default: 60 s).
        DATABASE_CONN_MAX_AGE="900",
    )
    return environment


def prepare_fixtures(environment: dict[str, str], customers: int) -> dict:
    """Migrate and create the meter, customers and API key through the project's own code."""
    os.environ.update(environment)
    sys.path.insert(0, str(REPO))
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from metering.services import meter_create
    from customers.services import customer_create

    call_command("migrate", interactive=False, verbosity=0)
    meter = meter_create(
        name="Bench tokens",
        lookup_key="bench-tokens",
        event_name=METER_EVENT,
        aggregation_type="SUM",
        property_name=METER_PROPERTY,
    )
    for i in range(customers):
        customer_create(external_id=f"{CUSTOMER_PREFIX}{i}", name=f"Bench customer {i}")
    out = io.StringIO()
    call_command("createapikey", name="bench", scopes="*", stdout=out)
    connection.close()
    return {"meter_id": str(meter.id), "meter_token": str(meter.token), "api_key": out.getvalue().strip()}


# --- The server -------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


_TICKS = os.sysconf("SC_CLK_TCK")


def process_cpu(pids) -> dict[int, float]:
    """CPU seconds (user + system) so far, per live process."""
    seconds = {}
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        seconds[pid] = (int(fields[11]) + int(fields[12])) / _TICKS
    return seconds


def cpu_spent(before: dict[int, float], after: dict[int, float]) -> float:
    # A process that started in between counts whole; one that ended in between is lost (rare:
    # the server keeps its database connections for DATABASE_CONN_MAX_AGE).
    return sum(spent - before.get(pid, 0.0) for pid, spent in after.items())


def connections_per_worker(workers: list[int], port: int) -> list[int]:
    """Established client connections each worker holds on `port` (from /proc: socket inodes)."""
    established = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                next(f)
                for line in f:
                    fields = line.split()
                    if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == "01":
                        established.add(fields[9])
        except OSError:
            continue
    counts = []
    for pid in workers:
        held = 0
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                try:
                    target = os.readlink(f"/proc/{pid}/fd/{fd}")
                except OSError:
                    continue
                if target.startswith("socket:[") and target[8:-1] in established:
                    held += 1
        except OSError:
            continue
        counts.append(held)
    return counts


class CpuMeter:
    """What gunicorn (master and workers) and the benchmark database's backends have spent.

    CPU per request does not move when other processes share the machine, as throughput does."""

    def __init__(self, server: "Server", bench_url: str):
        import psycopg

        self.server = server
        self.monitor = psycopg.connect(bench_url, autocommit=True)

    def writes(self) -> int:
        """The next transaction id: it moves by one per transaction that writes (reads take none)."""
        return int(self.monitor.execute("SELECT pg_snapshot_xmax(pg_current_snapshot())::text").fetchone()[0])

    def log_flushes(self) -> int:
        """WAL flushes to disk by the whole server (pg_stat_wal.wal_sync, PostgreSQL 14+; 0 before). Backends
        report it within about a second, so a round's figure is close, not exact."""
        if self.monitor.info.server_version < 140000:
            return 0
        return int(self.monitor.execute("SELECT wal_sync FROM pg_stat_wal").fetchone()[0])

    def workers(self) -> list[int]:
        master = self.server.process.pid
        try:
            with open(f"/proc/{master}/task/{master}/children") as f:
                return [int(pid) for pid in f.read().split()]
        except OSError:
            return []

    def connections(self) -> list[int]:
        """Client connections per gunicorn worker, largest first."""
        return sorted(connections_per_worker(self.workers(), self.server.port), reverse=True)

    def sample(self) -> tuple[dict, dict]:
        master = self.server.process.pid
        workers = self.workers()
        backends = [
            row[0]
            for row in self.monitor.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        ]
        return process_cpu([master, *workers]), process_cpu(backends)

    def close(self) -> None:
        self.monitor.close()


class Server:
    def __init__(self, args, environment: dict[str, str]):
        self.port = free_port()
        self.log = tempfile.NamedTemporaryFile(prefix="fluxbill-bench-gunicorn-", suffix=".log", delete=False)
        self.command = [
            sys.executable, "-m", "gunicorn", "fluxbill.wsgi:application",
            "--bind", f"127.0.0.1:{self.port}",
            "--workers", str(args.workers),
            "--worker-class", args.worker_class,
            "--threads", str(args.threads),
            "--log-level", "warning",
        ]  # fmt: skip
        self.process = subprocess.Popen(
            self.command, cwd=REPO, env=environment, stdout=self.log, stderr=subprocess.STDOUT
        )
        self._wait_ready()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"gunicorn exited with {self.process.returncode}; see {self.log.name}")
            try:
                status, _ = self.request("GET", "/bench/plain")
                if status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        self.stop()
        raise SystemExit(f"gunicorn did not answer within 60 s; see {self.log.name}")

    def request(self, method: str, path: str, body=None, key: str | None = None) -> tuple[int, object]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        headers = {"Content-Type": "application/json"}
        if key:
            headers["X-API-Key"] = key
        conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
        response = conn.getresponse()
        payload = response.read()
        conn.close()
        return response.status, json.loads(payload) if payload else None

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


def smoke_check(server: Server, fixtures: dict) -> None:
    """One request per endpoint, checked by shape, so the figures below measure working answers."""
    status, body = server.request("GET", "/bench/plain")
    assert (status, body) == (200, {"ok": True}), (status, body)
    status, body = server.request(
        "POST",
        "/api/v1/sdk/track",
        {"meter_token": fixtures["meter_token"], "customer_external_id": f"{CUSTOMER_PREFIX}0", "quantity": 2,
         "idempotency_key": "smoke-track"},
        fixtures["api_key"],
    )  # fmt: skip
    expected = {"id", "customer_id", "meter_id", "quantity", "timestamp", "created_at", "meta_data"}
    assert status == 201 and set(body) == expected and body["quantity"] == "2", (status, body)
    status, body = server.request(
        "POST",
        "/api/v1/events/bulk",
        {"events": [
            {"event_name": METER_EVENT, "external_customer_id": f"{CUSTOMER_PREFIX}{i}", "event_id": f"smoke-{i}",
             "properties": {METER_PROPERTY: 3}}
            for i in range(2)
        ]},
        fixtures["api_key"],
    )  # fmt: skip
    assert status == 202 and body["accepted"] == "2", (status, body)


def drive(server: Server, meter: CpuMeter, args, fixtures: dict, kind: str, clients: int) -> dict:
    """One round of one HTTP phase, in a separate process."""
    config = {
        "kind": kind,
        "host": "127.0.0.1",
        "port": server.port,
        "clients": clients,
        "duration": args.duration / args.rounds,
        "warmup": args.warmup,
        "batch": args.batch,
        "api_key": fixtures["api_key"],
        "meter_token": fixtures["meter_token"],
        "event_name": METER_EVENT,
        "property_name": METER_PROPERTY,
        "customers": args.customers,
        "customer_prefix": CUSTOMER_PREFIX,
        "run_id": uuid.uuid4().hex[:12],
    }
    with tempfile.TemporaryFile("w+") as errors:
        process = subprocess.Popen(
            [sys.executable, str(LOADGEN), json.dumps(config)], stdout=subprocess.PIPE, stderr=errors, text=True
        )
        before = None
        writes_before, flushes_before, split = 0, 0, []
        answer = ""
        for line in process.stdout:
            if line.strip() == "MEASURING":
                before = meter.sample()
                writes_before = meter.writes()
                flushes_before = meter.log_flushes()
                split = meter.connections()
            else:
                answer = line
        after = meter.sample()
        writes = meter.writes() - writes_before
        flushes = meter.log_flushes() - flushes_before
        if process.wait() != 0 or before is None:
            errors.seek(0)
            raise SystemExit(f"load generator failed:\n{errors.read()}")
    result = json.loads(answer)
    result["server_cpu_s"] = cpu_spent(before[0], after[0])
    result["pg_cpu_s"] = cpu_spent(before[1], after[1])
    result["writes"] = writes
    result["log_flushes"] = flushes
    result["split"] = split
    if result["errors"]:
        print(f"  ! {kind}: {result['errors']} failed requests, e.g. {result['error_samples'][:2]}", flush=True)
    return result


def merge_rounds(rounds: list[dict]) -> dict:
    seconds = sum(r["seconds"] for r in rounds)
    latencies = sorted(ms for r in rounds for ms in r["latencies_ms"])

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] if latencies else float("nan")

    return {
        "clients": rounds[0]["clients"],
        "requests": sum(r["requests"] for r in rounds),
        "errors": sum(r["errors"] for r in rounds),
        "requests_per_s": sum(r["requests"] for r in rounds) / seconds,
        "events_per_s": sum(r["events"] for r in rounds) / seconds,
        "per_round": [r["requests_per_s"] for r in rounds],
        "splits": [r.get("split") or [] for r in rounds],
        "cpu_s": {
            "server": sum(r["server_cpu_s"] for r in rounds),
            "postgres": sum(r["pg_cpu_s"] for r in rounds),
            "load generator": sum(r["loadgen_cpu_s"] for r in rounds),
        },
        "events": sum(r["events"] for r in rounds),
        "writes": sum(r["writes"] for r in rounds),
        "log_flushes": sum(r["log_flushes"] for r in rounds),
        "p50_ms": pct(0.50),
        "p99_ms": pct(0.99),
    }


# --- PostgreSQL limits ------------------------------------------------------------------

_COLUMNS = "meter_id, customer_id, quantity, timestamp, idempotency_key, properties, source, created_at"
_STAGE = """
    CREATE TEMP TABLE bench_stage (
        meter_id uuid, customer_id uuid, quantity numeric, ts timestamptz, idem text, props jsonb, source text
    ) ON COMMIT DELETE ROWS
"""
_MERGE = """
    INSERT INTO metering_usageevent
        (meter_id, customer_id, quantity, timestamp, idempotency_key, properties, source, created_at)
    SELECT meter_id, customer_id, quantity, ts, idem, props, source, now() FROM bench_stage
    ON CONFLICT (meter_id, customer_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
"""
_TAG = b"@TAG@"


class CopyLimits:
    """The bulk phase's rows (same meter, customers, quantities, properties) straight into PostgreSQL."""

    def __init__(self, bench_url: str, args):
        import psycopg

        self.url = bench_url
        self.args = args
        with psycopg.connect(bench_url, autocommit=True) as conn:
            meter_id = conn.execute("SELECT id FROM metering_meter WHERE event_name = %s", [METER_EVENT]).fetchone()[0]
            customers = [
                row[0]
                for row in conn.execute(
                    "SELECT id FROM customers_customer WHERE external_id LIKE %s ORDER BY external_id",
                    [CUSTOMER_PREFIX + "%"],
                )
            ]
            conn.execute("DROP TABLE IF EXISTS bench_usage_copy")
            conn.execute("CREATE TABLE bench_usage_copy (LIKE metering_usageevent INCLUDING ALL)")
        stamp = (datetime.now(timezone.utc) - timedelta(minutes=5)).isoformat()
        lines = []
        for n in range(args.batch):
            q = n % 7 + 1
            lines.append(
                f"{meter_id}\t{customers[n % len(customers)]}\t{q}\t{stamp}\t@TAG@-{n}\t"
                f'{{"{METER_PROPERTY}": {q}, "model": "gpt-4o"}}\tbench'
            )
        # Each batch gets fresh idempotency keys by one bytes.replace, so making rows costs next to nothing.
        self.template = "\n".join(lines).encode() + b"\n"
        created = f"\t{datetime.now(timezone.utc).isoformat()}\n".encode()
        self.raw_template = self.template.replace(b"\tbench\n", b"\tbench" + created)
        self.counter = 0
        self.lock = threading.Lock()

    def _batch(self, template: bytes) -> bytes:
        with self.lock:
            self.counter += 1
            tag = f"{uuid.uuid4().hex[:8]}{self.counter}".encode()
        return template.replace(_TAG, tag)

    def _run(self, connections: int, seconds: float, setup: str | None, work) -> tuple[int, float, dict]:
        """(rows, seconds, CPU seconds) with `connections` sessions committing one batch at a time."""
        import psycopg

        sessions = []
        for _ in range(connections):
            conn = psycopg.connect(self.url)
            if setup:
                conn.execute(setup)
                conn.commit()
            sessions.append(conn)
        barrier = threading.Barrier(connections + 1)
        rows = [0] * connections
        failures = []
        stop_at = [0.0]

        def worker(index, conn):
            barrier.wait()
            try:
                while time.perf_counter() < stop_at[0]:
                    work(conn)
                    conn.commit()
                    rows[index] += self.args.batch
            except Exception as exc:  # surfaced below
                failures.append(exc)

        threads = [threading.Thread(target=worker, args=(i, c)) for i, c in enumerate(sessions)]
        for t in threads:
            t.start()
        backends = [conn.info.backend_pid for conn in sessions]
        pg_before, client_before = process_cpu(backends), process_cpu([os.getpid()])
        began = time.perf_counter()
        stop_at[0] = began + seconds
        barrier.wait()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - began
        cpu = {
            "postgres": cpu_spent(pg_before, process_cpu(backends)),
            "client": cpu_spent(client_before, process_cpu([os.getpid()])),
        }
        for conn in sessions:
            conn.close()
        if failures:
            raise failures[0]
        return sum(rows), elapsed, cpu

    def raw_copy(self, seconds: float) -> tuple[int, float, dict]:
        def work(conn):
            with conn.cursor().copy(f"COPY bench_usage_copy ({_COLUMNS}) FROM STDIN") as copy:
                copy.write(self._batch(self.raw_template))

        return self._run(1, seconds, None, work)

    def dedup_safe(self, seconds: float, connections: int = 1) -> tuple[int, float, dict]:
        def work(conn):
            cursor = conn.cursor()
            with cursor.copy("COPY bench_stage FROM STDIN") as copy:
                copy.write(self._batch(self.template))
            cursor.execute(_MERGE)

        return self._run(connections, seconds, _STAGE, work)


# --- Report ---------------------------------------------------------------------------


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def rate(runs: list[tuple[int, float, dict]]) -> float:
    return sum(run[0] for run in runs) / sum(run[1] for run in runs)


def cpu_per_unit(cpu: dict[str, float], units: int) -> tuple[float, str]:
    """(total CPU ms per unit, 'part 0.12, part 0.03 …')."""
    total = sum(cpu.values()) * 1000 / units
    parts = ", ".join(f"{name} {seconds * 1000 / units:.3f}" for name, seconds in cpu.items())
    return total, parts


def copy_cpu(runs: list[tuple[int, float, dict]]) -> tuple[float, str]:
    merged: dict[str, float] = {}
    for _, _, cpu in runs:
        for name, seconds in cpu.items():
            merged[name] = merged.get(name, 0.0) + seconds
    return cpu_per_unit(merged, sum(run[0] for run in runs))


def report(args, server_command: list[str], pg_version: str, results: dict) -> None:
    plain, track, bulk = results.get("plain"), results.get("track"), results.get("bulk")
    copy = results.get("copy")
    before, after = results["loadavg"]
    print()
    print(f"Fluxbill ingestion benchmark · {os.cpu_count()} CPUs · Python {platform.python_version()} · {pg_version}")
    print(f"server: {' '.join(server_command[2:])}")
    print(
        f"load:   {args.rounds} interleaved rounds; per HTTP phase {args.duration:g} s measured "
        f"(+{args.warmup:g} s warm-up per round), per COPY figure {args.copy_seconds:g} s"
    )
    print(
        f"machine load average (1 min) before/after: {before:.1f} / {after:.1f}"
        + ("  ← other processes were busy too; figures are noisier" if max(before, after) > 1.5 else "")
    )
    print()

    def rounds(r: dict) -> str:
        return "rounds " + " / ".join(
            f"{x:,.0f}" + (f" ({'+'.join(map(str, split))})" if split else "")
            for x, split in zip(r["per_round"], r["splits"])
        )

    if plain:
        print(
            f"plain view   GET /bench/plain            {plain['clients']:>3} clients {plain['requests_per_s']:>9,.0f} req/s"
            f"     p50 {plain['p50_ms']:5.1f} ms  p99 {plain['p99_ms']:5.1f} ms   {rounds(plain)}"
        )
    if track:
        print(
            f"track        POST /api/v1/sdk/track      {track['clients']:>3} clients {track['requests_per_s']:>9,.0f} req/s"
            f"     p50 {track['p50_ms']:5.1f} ms  p99 {track['p99_ms']:5.1f} ms   {rounds(track)}"
        )
    if bulk:
        print(
            f"bulk         POST /api/v1/events/bulk    {bulk['clients']:>3} clients {bulk['events_per_s']:>9,.0f} events/s"
            f"  ({args.batch} per request; p50 {bulk['p50_ms']:.0f} ms, p99 {bulk['p99_ms']:.0f} ms)"
        )
    if copy:
        print(
            f"raw COPY     into the usage table's shape      1 conn  {rate(copy['raw']):>9,.0f} rows/s"
            f"    (batches of {args.batch}, one commit each)"
        )
        print(
            f"dedup-safe   COPY→staging, INSERT…ON CONFLICT   1 conn  {rate(copy['dedup']):>9,.0f} rows/s"
            f"    ← the limit bulk is held to"
        )
        if copy["dedup_parallel"]:
            print(
                f"dedup-safe   the same                       {args.copy_connections:>2} conns  "
                f"{rate(copy['dedup_parallel']):>9,.0f} rows/s    (PostgreSQL alone on every core)"
            )
    print()
    if plain and track:
        share = track["requests_per_s"] / plain["requests_per_s"]
        print(f"track / plain view            {share:6.2f}   target ≥ {TRACK_SHARE_TARGET:.2f}   {verdict(share >= TRACK_SHARE_TARGET)}")
        p99 = track["p99_ms"]
        print(f"track p99 latency          {p99:6.1f} ms   target < {TRACK_P99_TARGET_MS:.0f} ms    {verdict(p99 < TRACK_P99_TARGET_MS)}")
    if bulk and copy:
        share = bulk["events_per_s"] / rate(copy["dedup"])
        print(f"bulk / dedup-safe (1 conn)    {share:6.2f}   target ≥ {BULK_SHARE_TARGET:.2f}   {verdict(share >= BULK_SHARE_TARGET)}")
        if copy["dedup_parallel"]:
            parallel = bulk["events_per_s"] / rate(copy["dedup_parallel"])
            print(f"bulk / dedup-safe ({args.copy_connections} conns)   {parallel:6.2f}   (for reference)")
        raw = bulk["events_per_s"] / rate(copy["raw"])
        print(f"bulk / raw COPY               {raw:6.2f}   (for reference; raw COPY skips dedup and foreign keys)")
    print()
    print("CPU spent per request (ms; gunicorn + the database's backends + load generator) — what the figures")
    print("above would be bound by on an otherwise idle machine, and unaffected by other processes' share:")
    cpu = {}
    if plain:
        cpu["plain"], parts = cpu_per_unit(plain["cpu_s"], plain["requests"])
        print(f"  plain view   {cpu['plain']:7.3f} per request   ({parts})")
    if track:
        cpu["track"], parts = cpu_per_unit(track["cpu_s"], track["requests"])
        print(f"  track        {cpu['track']:7.3f} per request   ({parts})")
        print(
            f"  track: {track['requests'] / max(1, track['writes']):.1f} events per writing transaction (group commit), "
            f"{track['requests'] / max(1, track['log_flushes']):.1f} per WAL flush to disk (should be about the same:"
            f" every answer waits for its flush)"
        )
    if bulk:
        cpu["bulk"], parts = cpu_per_unit(bulk["cpu_s"], bulk["events"])
        print(f"  bulk         {cpu['bulk']:7.3f} per event     ({parts})")
    if copy:
        cpu["dedup"], parts = copy_cpu(copy["dedup"])
        print(f"  dedup-safe   {cpu['dedup']:7.3f} per row       ({parts})")
    if "plain" in cpu and "track" in cpu:
        print(f"  track / plain view by CPU       {cpu['plain'] / cpu['track']:5.2f}   (target {TRACK_SHARE_TARGET:.2f} applies to the rates above)")
    if "bulk" in cpu and "dedup" in cpu:
        print(f"  bulk / dedup-safe by CPU        {cpu['dedup'] / cpu['bulk']:5.2f}   (both cores busy on both sides)")
    failed = sum(r["errors"] for r in (plain, track, bulk) if r)
    if failed:
        print(f"\n{failed} requests failed during measurement; the figures above count only correct answers.")


def report_comparison(args, results: dict) -> None:
    a, b, plain = results["track"], results["track_b"], results.get("plain")
    print(f"\nA/B: B = the same server with {args.compare}, measured in the same rounds")
    for name, r in (("A", a), ("B", b)):
        cpu, parts = cpu_per_unit(r["cpu_s"], r["requests"])
        share = f"  = {r['requests_per_s'] / plain['requests_per_s']:.2f} of the plain view" if plain else ""
        print(
            f"  track {name}  {r['requests_per_s']:>7,.0f} req/s{share}   p99 {r['p99_ms']:5.1f} ms   "
            f"CPU {cpu:.3f} ms/request ({parts})   {r['requests'] / max(1, r['writes']):.1f} events/xid, "
            f"{r['requests'] / max(1, r['log_flushes']):.1f}/WAL flush"
        )
    print(f"  B / A  {b['requests_per_s'] / a['requests_per_s']:.2f} by rate")


def main() -> None:
    args = parse_args()
    phases = {p.strip() for p in args.phases.split(",") if p.strip()}
    maintenance_url, bench_url = database_urls(args.db_name)
    began = time.monotonic()
    print(f"preparing database {args.db_name} …", flush=True)
    recreate_database(maintenance_url, args.db_name)
    environment = app_environment(bench_url)
    fixtures = prepare_fixtures(environment, args.customers)
    import psycopg

    with psycopg.connect(bench_url) as conn:
        pg_version = "PostgreSQL " + conn.execute("SHOW server_version").fetchone()[0].split()[0]

    results: dict = {"loadavg": [os.getloadavg()[0], None]}
    rounds: dict[str, list] = {"plain": [], "track": [], "bulk": []}
    copy = {"raw": [], "dedup": [], "dedup_parallel": []}
    print("starting gunicorn …", flush=True)
    server = Server(args, environment)
    meter = CpuMeter(server, bench_url)
    other = other_meter = None
    if args.compare:
        overrides = dict(item.split("=", 1) for item in args.compare.split(",") if item)
        # workers= and threads= change gunicorn's command line; anything else is an environment variable.
        other_args = argparse.Namespace(**vars(args))
        for knob in ("workers", "threads"):
            if knob in overrides:
                setattr(other_args, knob, int(overrides.pop(knob)))
        other = Server(other_args, {**environment, **overrides})
        other_meter = CpuMeter(other, bench_url)
        rounds["track_b"] = []
    try:
        smoke_check(server, fixtures)
        limits = CopyLimits(bench_url, args) if "copy" in phases else None
        copy_seconds = args.copy_seconds / args.rounds
        for number in range(1, args.rounds + 1):
            print(f"round {number}/{args.rounds}:", end="", flush=True)
            if "plain" in phases:
                print(" plain view …", end="", flush=True)
                rounds["plain"].append(drive(server, meter, args, fixtures, "plain", args.clients))
            if "track" in phases:
                order = [("track", server, meter, "")]
                if other is not None:
                    # B goes first in every other round: whichever runs second was seen to gain up to 10%.
                    order.insert(0 if number % 2 else 1, ("track_b", other, other_meter, " (B)"))
                for kind, target, target_meter, label in order:
                    print(f" track{label} …", end="", flush=True)
                    rounds[kind].append(drive(target, target_meter, args, fixtures, "track", args.clients))
            if "bulk" in phases:
                print(" bulk …", end="", flush=True)
                rounds["bulk"].append(drive(server, meter, args, fixtures, "bulk", args.bulk_clients))
            if limits:
                # gunicorn sits idle meanwhile; its workers use no CPU while no request comes.
                print(" COPY …", end="", flush=True)
                copy["raw"].append(limits.raw_copy(copy_seconds))
                copy["dedup"].append(limits.dedup_safe(copy_seconds))
                if args.copy_connections > 1:
                    copy["dedup_parallel"].append(limits.dedup_safe(copy_seconds, args.copy_connections))
            print(flush=True)
    finally:
        meter.close()
        server.stop()
        if other is not None:
            other_meter.close()
            other.stop()
    for kind, measured in rounds.items():
        if measured:
            results[kind] = merge_rounds(measured)
    if "copy" in phases:
        results["copy"] = copy
    results["loadavg"][1] = os.getloadavg()[0]
    if not args.keep_db:
        recreate_database(maintenance_url, args.db_name, create=False)
    report(args, server.command, pg_version, results)
    if "track_b" in results:
        report_comparison(args, results)
    os.unlink(server.log.name)  # kept only when something went wrong (the error names it)
    print(f"\n(total {time.monotonic() - began:.0f} s)")


if __name__ == "__main__":
    main()
