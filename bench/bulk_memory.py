"""Memory per bulk request: 32 concurrent 5 MB `/api/v1/events/bulk` requests against gunicorn run as the
Procfile runs it (gthread, 2 workers × 8 threads), and the workers' peak RSS read from /proc, next to
the bound measured in the same run.

    .venv/bin/python bench/bulk_memory.py                  # about 2 minutes; --help for the knobs

For each configuration (default: `before`, bulk parses unbounded and glibc's own malloc arenas,
FLUXBILL_BULK_CONCURRENCY=0 FLUXBILL_MALLOC_ARENAS=0; then `shipped`, the default settings), one fresh
gunicorn on a fresh database:
1. warm-up: a few one-event bulk requests, so every worker has imported and connected; `base` is then
   the largest worker's RSS (VmRSS);
2. one 5 MB request at a time, --alone (8) times: `per request` is the largest rise of a worker's peak RSS
   (VmHWM, reset through /proc/<pid>/clear_refs) over its RSS before;
3. as many requests at once as the workers parse at once (C per worker), --rounds (3) times: the peak
   the gate should hold any burst to, printed beside the burst's;
4. 32 clients each send one 5 MB request at once (a 503 is retried after its Retry-After, as a client
   would); `peak` is the largest worker's VmHWM over this phase.
The bound printed beside it is base + C × per request, C = the parses a worker runs at once
(FLUXBILL_BULK_CONCURRENCY, or its threads when unbounded). Exits 0 either way: it is a benchmark.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ingest import (  # noqa: E402 — the ingestion benchmark's database and fixture helpers
    CUSTOMER_PREFIX,
    METER_EVENT,
    METER_PROPERTY,
    app_environment,
    database_urls,
    free_port,
    prepare_fixtures,
    recreate_database,
)

REPO = Path(__file__).resolve().parent.parent
MIB = 1024 * 1024
ORIGINAL_ENVIRONMENT = dict(os.environ)
# Bulk parses unbounded and glibc's own arenas: the code as it was before the bound.
BEFORE = "FLUXBILL_BULK_CONCURRENCY=0;FLUXBILL_MALLOC_ARENAS=0"


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--requests", type=int, default=32, help="concurrent bulk requests (32)")
    p.add_argument("--body-mib", type=float, default=5.0, help="size of each request body in MiB (5; the limit is FLUXBILL_MAX_BODY_BYTES)")
    p.add_argument("--events", type=int, default=1000, help="events per request (1000, FLUXBILL_BULK_MAX_EVENTS)")
    p.add_argument("--alone", type=int, default=8, help="requests sent one at a time to measure one request's memory (8)")
    p.add_argument("--rounds", type=int, default=3, help="rounds of as many requests at once as the workers parse at once (3)")
    p.add_argument("--workers", type=int, default=2, help="gunicorn workers (2, as the Procfile)")
    p.add_argument("--threads", type=int, default=8, help="gunicorn threads per worker (8, as the Procfile)")
    p.add_argument(
        "--configs", default=f"before={BEFORE},shipped=",
        help="comma-separated NAME=ENV[;ENV] server configurations, run one after the other "
        f"(default: before={BEFORE},shipped=)",
    )
    p.add_argument("--db-name", default="fluxbill_bench_bulkmem", help="database to drop, create and use")
    return p.parse_args()


# --- /proc ----------------------------------------------------------------------------


def status_kib(pid: int, field: str) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


def children(pid: int) -> list[int]:
    found = []
    for task in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{task}/children") as f:
            found.extend(int(c) for c in f.read().split())
    return found


def reset_peak(pids) -> bool:
    """Writing 5 to clear_refs resets VmHWM to the current RSS (Linux ≥ 4.0)."""
    try:
        for pid in pids:
            with open(f"/proc/{pid}/clear_refs", "w") as f:
                f.write("5")
        return True
    except OSError:
        return False


# --- Requests -------------------------------------------------------------------------


def bulk_body(tag: str, events: int, size: int) -> bytes:
    """`events` Flexprice events whose properties pad the body to `size` bytes: many short properties,
    the shape that costs a parser the most objects per byte."""
    def body(pad_pairs: int) -> bytes:
        return json.dumps({"events": [
            {
                "event_name": METER_EVENT,
                "external_customer_id": f"{CUSTOMER_PREFIX}{i % 100}",
                "event_id": f"{tag}-{i}",
                "timestamp": "2026-01-01T00:00:00Z",
                "properties": {METER_PROPERTY: 1, **{f"p{k:03d}": f"v{i:04d}-{k:03d}-abcdefghijklmnopqrstuvwxyz0123456789" for k in range(pad_pairs)}},
            }
            for i in range(events)
        ]}).encode()  # fmt: skip

    one_pair = len(body(1)) - len(body(0))
    pairs = max(0, (size - len(body(0))) // one_pair)
    return body(pairs)


def fresh(template: bytes, tag: str) -> bytes:
    """The template's body with event ids of its own, so no request's events are duplicates of another's."""
    return template.replace(b'"TAG-', f'"{tag}-'.encode())


def post(port: int, body: bytes, key: str, statuses: list, lock: threading.Lock, deadline: float) -> None:
    while True:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        try:
            conn.request("POST", "/api/v1/events/bulk", body=body,
                         headers={"Content-Type": "application/json", "X-API-Key": key})  # fmt: skip
            response = conn.getresponse()
            response.read()
            status, retry_after = response.status, response.getheader("Retry-After")
        finally:
            conn.close()
        with lock:
            statuses.append(status)
        if status == 503 and retry_after and time.monotonic() < deadline:
            time.sleep(float(retry_after))
            continue
        return


class Server:
    def __init__(self, args, environment: dict[str, str]):
        self.port = free_port()
        self.log = tempfile.NamedTemporaryFile(prefix="fluxbill-bench-bulkmem-", suffix=".log", delete=False)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "fluxbill.wsgi", "--bind", f"127.0.0.1:{self.port}",
             "--workers", str(args.workers), "--worker-class", "gthread", "--threads", str(args.threads),
             "--log-level", "warning"],
            cwd=REPO, env=environment, stdout=self.log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"gunicorn exited with {self.process.returncode}; see {self.log.name}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                conn.request("GET", "/healthz")
                conn.getresponse().read()
                conn.close()
                if len(self.workers()) == args.workers:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        self.stop()
        raise SystemExit(f"gunicorn did not answer within 60 s; see {self.log.name}")

    def workers(self) -> list[int]:
        return children(self.process.pid)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


def bulk_concurrency(environment: dict[str, str]) -> int:
    """FLUXBILL_BULK_CONCURRENCY as the server's settings read it; -1 for code that has no such setting."""
    out = subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); from django.conf import settings; "
         "print(getattr(settings, 'FLUXBILL_BULK_CONCURRENCY', -1))"],
        cwd=REPO, env=environment, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return int(out.stdout.split()[-1])


def measure(args, name: str, extra_env: dict[str, str], template: bytes, small: bytes) -> dict:
    # prepare_fixtures puts a configuration's environment into this process's: start each from the original.
    os.environ.clear()
    os.environ.update(ORIGINAL_ENVIRONMENT)
    maintenance, bench_url = database_urls(args.db_name)
    recreate_database(maintenance, args.db_name)
    environment = app_environment(bench_url)
    environment.update(extra_env)
    limit = bulk_concurrency(environment)
    # The parses a worker runs at once: its threads, unless FLUXBILL_BULK_CONCURRENCY bounds them.
    parses = args.threads if limit <= 0 else min(limit, args.threads)
    fixtures = prepare_fixtures(environment, customers=100)
    server = Server(args, environment)
    key = fixtures["api_key"]
    lock = threading.Lock()
    tags = iter(range(10**9))

    def at_once(count: int, statuses: list) -> float:
        deadline = time.monotonic() + 120
        bodies = [fresh(template, f"r{next(tags)}") for _ in range(count)]
        threads = [threading.Thread(target=post, args=(server.port, b, key, statuses, lock, deadline)) for b in bodies]
        del bodies
        started = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return time.monotonic() - started

    try:
        statuses: list[int] = []
        for _ in range(4 * args.workers):
            post(server.port, small, key, statuses, lock, time.monotonic())
        pids = server.workers()
        base = max(status_kib(p, "VmRSS") for p in pids)
        before = {p: status_kib(p, "VmRSS") for p in pids}
        if not reset_peak(pids):
            print("  (cannot reset VmHWM through clear_refs: peaks include start-up)")
        single: list[int] = []
        for _ in range(args.alone):
            post(server.port, fresh(template, f"r{next(tags)}"), key, single, lock, time.monotonic())
        per_request = max(status_kib(p, "VmHWM") - before[p] for p in pids)

        # As many at once as the workers parse at once, a few times: what the gate should hold 32 to.
        reset_peak(pids)
        few: list[int] = []
        for _ in range(args.rounds):
            at_once(parses * args.workers, few)
        few_peak = max(status_kib(p, "VmHWM") for p in pids)

        reset_peak(pids)
        concurrent: list[int] = []
        took = at_once(args.requests, concurrent)
        peaks = sorted((status_kib(p, "VmHWM") for p in pids), reverse=True)
    finally:
        server.stop()
    return dict(name=name, env=extra_env, base=base, per_request=per_request, single=single, peaks=peaks,
                concurrent=concurrent, took=took, limit=limit, parses=parses, few_peak=few_peak, few=few)  # fmt: skip


def main() -> None:
    args = parse_args()
    size = int(args.body_mib * MIB)
    print(f"building a body of {args.events} events, {args.body_mib} MiB …", flush=True)
    template = bulk_body("TAG", args.events, size)
    small = json.dumps({"events": [{"event_name": METER_EVENT, "external_customer_id": f"{CUSTOMER_PREFIX}0",
                                    "properties": {METER_PROPERTY: 1}}]}).encode()  # fmt: skip
    print(f"body: {len(template):,} bytes, {args.events} events; gunicorn gthread {args.workers} workers × "
          f"{args.threads} threads", flush=True)  # fmt: skip
    results = []
    for spec in args.configs.split(","):
        name, _, assignments = spec.partition("=")
        extra = dict(a.split("=", 1) for a in assignments.split(";") if a)
        print(f"\n[{name}] {' '.join(f'{k}={v}' for k, v in extra.items()) or '(shipped settings)'}", flush=True)
        r = measure(args, name, extra, template, small)
        results.append(r)
        parses = r["parses"]
        bound = r["base"] + parses * r["per_request"]
        ok = sum(1 for s in r["concurrent"] if s == 202)
        refused = sum(1 for s in r["concurrent"] if s == 503)
        other = sorted({s for s in r["concurrent"] if s not in (202, 503)})
        print(f"  FLUXBILL_BULK_CONCURRENCY = {r['limit'] if r['limit'] >= 0 else '(no such setting)'}")
        print(f"  base (largest worker, warm): {r['base'] / 1024:.0f} MiB; one request alone: +{r['per_request'] / 1024:.0f} MiB "
              f"(largest rise over {args.alone} sent one at a time; statuses {sorted(set(r['single']))})")  # fmt: skip
        print(f"  {args.requests} concurrent: peak RSS per worker {', '.join(f'{p / 1024:.0f}' for p in r['peaks'])} MiB; "
              f"bound base + {parses} × per request = {bound / 1024:.0f} MiB (peak ÷ bound {r['peaks'][0] / bound:.2f})")  # fmt: skip
        print(f"  {parses * args.workers} at once ({parses} per worker), {args.rounds} rounds: peak RSS {r['few_peak'] / 1024:.0f} MiB; "
              f"{args.requests} at once ÷ that: {r['peaks'][0] / r['few_peak']:.2f}")  # fmt: skip
        print(f"  answers: {ok} × 202, {refused} × 503 (retried after Retry-After){', other: ' + str(other) if other else ''}; "
              f"all {args.requests} done in {r['took']:.1f} s")  # fmt: skip
    if len(results) > 1:
        first, last = results[0], results[-1]
        print(f"\npeak RSS of the largest worker: {first['name']} {first['peaks'][0] / 1024:.0f} MiB → "
              f"{last['name']} {last['peaks'][0] / 1024:.0f} MiB")  # fmt: skip
    recreate_database(database_urls(args.db_name)[0], args.db_name, create=False)


if __name__ == "__main__":
    main()
