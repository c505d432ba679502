"""Work lost with a SIGKILLed process is picked up again within the documented bounds (README, Reliability,
"Lost email"). Real prefork workers and celery beat on Redis, the test database, a real SMTP server in the
test process; each process is killed with its whole process group, as a dying host leaves it.

- a finalize task killed inside finalization: the drafts it did not reach are finalized by the next
  periodic `finalize_due_invoices` run (FLUXBILL_FINALIZE_EVERY_SECONDS), each once, numbers without gaps;
- an email lost between the finalizing commit and the publish: the outbox sweep sends it
  (FLUXBILL_EMAIL_SWEEP_EVERY_SECONDS), once;
- a worker killed mid-send (SMTP holding DATA): its claim goes stale after FLUXBILL_EMAIL_CLAIM_SECONDS and
  the sweep has it sent again, once.

The unacked message of a killed task also comes back by broker redelivery after
FLUXBILL_BROKER_VISIBILITY_TIMEOUT (300 s), tested on its own with beat off. The bounds of the first three
are far shorter, so they hold only through the periodic runs. `-s` prints the measured recovery times."""

from __future__ import annotations

import time
from collections import Counter

import pytest
import redis
from aiosmtpd.controller import Controller
from django.db import connection, transaction
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from invoicing.choices import InvoiceStatus
from invoicing.models import Invoice, InvoiceEvent
from invoicing.schedules import schedules_install
from invoicing.services import invoice_finalize
from tests.celery_broker import celery_broker
from tests.servers import HangingInbox, free_port, private_redis  # noqa: F401 — fixture

from . import workers
from .builders import ACTOR, period_draft

DRAFTS = 12
LOCKED = 6  # the draft the killed run is blocked on: the five before it are finalized, the rest are not
EVERY = 2  # seconds between periodic runs in these tests
CLAIM_SECONDS = 5
# Generous: a fresh worker or beat takes seconds to start on the shared 2-core machine. What the tests
# assert is that the work comes back through the periodic runs, long before the broker's redelivery.
STARTUP = 30


def _until(condition, timeout: float, every: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(every)
    return condition()


def _took(happened: bool, seconds: float) -> str:
    return f"{seconds:.1f} s" if happened else f"never (waited {seconds:.1f} s)"


def _blocked_on_a_lock() -> bool:
    """Another session of the test database waits for a lock (the worker, on the row the test holds)."""
    with connection.cursor() as cursor:
        # Inside a transaction pg_stat_activity is read once and kept: drop that snapshot each time.
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
            " AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0] > 0


def _only_schedules(*tasks: str) -> None:
    """Install the shipped beat schedules (at EVERY seconds, through the settings), keep only `tasks` on."""
    schedules_install()
    PeriodicTask.objects.exclude(task__in=tasks).update(enabled=False)
    assert set(PeriodicTask.objects.filter(enabled=True).values_list("task", flat=True)) == set(tasks)


@pytest.fixture
def fast_schedules(settings):
    settings.FLUXBILL_FINALIZE_EVERY_SECONDS = EVERY
    settings.FLUXBILL_EMAIL_SWEEP_EVERY_SECONDS = EVERY
    redis.Redis.from_url(workers.REDIS_URL).flushdb()


@pytest.fixture
def processes():
    started: list[workers.Group] = []
    yield started
    for group in started:
        group.stop()


@pytest.fixture
def smtp():
    port = free_port()
    inbox = HangingInbox(accept_on_release=False)  # a session cut off in DATA delivers nothing
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    inbox.port = port
    yield inbox
    inbox.release.set()
    controller.stop()


def _finalize_killed_inside(processes: list, tmp_path, *, by_beat: bool, **env: str) -> tuple[list, int, float]:
    """DRAFTS due drafts; a finalize run (from beat, or sent once as beat would) is SIGKILLed while it waits
    inside invoice_finalize for the LOCKED-th draft's row, which the test holds. Returns (drafts in the
    run's order, drafts OPEN at the kill, when it was killed)."""
    drafts = [period_draft(email="", name=f"Lost {i}")[0] for i in range(DRAFTS)]
    order = list(
        Invoice.objects.filter(pk__in=[d.pk for d in drafts]).order_by("finalize_at", "created_at").values_list("pk", flat=True)
    )
    assert all(d.finalize_at <= timezone.now() for d in drafts)
    _only_schedules("invoicing.finalize_due_invoices")
    with transaction.atomic():
        # The run finalizes the drafts before this one, then waits for its row with its transaction open.
        Invoice.objects.select_for_update().get(pk=order[LOCKED - 1])
        processes.append(workers.worker(tmp_path / "worker-1.log", EMAIL_URL="dummymail://", **env))
        if by_beat:
            processes.append(workers.beat(tmp_path / "beat.log", tmp_path))
        else:
            with celery_broker(workers.REDIS_URL) as app:
                app.send_task("invoicing.finalize_due_invoices")
        assert _until(_blocked_on_a_lock, STARTUP), "the finalize run never reached the locked draft"
        processes[0].kill()
        killed_at = time.monotonic()
        before = Invoice.objects.filter(status=InvoiceStatus.OPEN).count()
    # The killed run's database session gets the row once the test lets go, finds its client gone and
    # rolls back: its draft stays DRAFT and its number is not used.
    assert before == LOCKED - 1, "the kill did not land inside the run"
    return order, before, killed_at


def _assert_each_finalized_once(order: list) -> None:
    opened = Invoice.objects.filter(status=InvoiceStatus.OPEN)
    year = timezone.now().year
    assert sorted(opened.values_list("number", flat=True)) == [f"INV-{year}-{n:06d}" for n in range(1, DRAFTS + 1)]
    finalized = Counter(InvoiceEvent.objects.filter(action="finalized").values_list("invoice_id", flat=True))
    assert finalized == Counter(order), "an invoice was finalized twice or not at all"


def _no_drafts() -> bool:
    return not Invoice.objects.filter(status=InvoiceStatus.DRAFT).exists()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_finalize_run_killed_inside_finalization_is_redone_by_the_next_periodic_run(fast_schedules, processes, tmp_path):
    order, before, killed_at = _finalize_killed_inside(processes, tmp_path, by_beat=True)
    processes.append(workers.worker(tmp_path / "worker-2.log", EMAIL_URL="dummymail://"))
    done = _until(_no_drafts, STARTUP + EVERY)
    recovered = time.monotonic() - killed_at
    time.sleep(2 * EVERY)  # the runs that follow must find nothing left to do

    print(f"\nfinalize killed at {before} of {DRAFTS} drafts; after the kill the rest OPEN in {_took(done, recovered)} "
          f"(fresh worker start + periodic run every {EVERY} s; bound {STARTUP + EVERY} s)")  # fmt: skip
    assert done, f"drafts still DRAFT {STARTUP + EVERY} s after the kill"
    _assert_each_finalized_once(order)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_killed_task_is_redelivered_after_the_broker_visibility_timeout(fast_schedules, processes, tmp_path):
    """The backstop without beat: the killed task's unacked message is handed out again once it is older
    than FLUXBILL_BROKER_VISIBILITY_TIMEOUT (kombu's default would be an hour). kombu restores such
    messages when a worker starts and then on every tenth of its 10-second checks; the fresh worker here
    starts after the timeout, so it restores at once."""
    visibility = 5
    env = {"FLUXBILL_BROKER_VISIBILITY_TIMEOUT": str(visibility)}
    order, before, killed_at = _finalize_killed_inside(processes, tmp_path, by_beat=False, **env)
    time.sleep(visibility + 1)
    processes.append(workers.worker(tmp_path / "worker-2.log", EMAIL_URL="dummymail://", **env))
    done = _until(_no_drafts, STARTUP)
    recovered = time.monotonic() - killed_at

    print(f"\nfinalize task killed at {before} of {DRAFTS} drafts, no beat: the rest OPEN {_took(done, recovered)} "
          f"after the kill by redelivery (visibility timeout {visibility} s; bound {visibility + 1 + STARTUP} s)")  # fmt: skip
    assert done, "the killed task was not redelivered"
    _assert_each_finalized_once(order)


_FINALIZE = """
from django.utils import timezone
from invoicing.models import Invoice
from invoicing.services import Actor, invoice_finalize
invoice_finalize(invoice=Invoice(pk={pk!r}), now=timezone.now(), actor=Actor.task("finalize"))
print("published", flush=True)
"""


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_an_email_lost_between_commit_and_publish_is_sent_once_by_the_sweep(
    fast_schedules, processes, smtp, private_redis, tmp_path  # noqa: F811
):
    draft, _, _ = period_draft(units=3, email="ap@lost.test", name="Lost Mail Ltd")
    _only_schedules("invoicing.send_pending_emails")
    processes.append(workers.worker(tmp_path / "worker.log", EMAIL_URL=f"smtp://127.0.0.1:{smtp.port}"))

    # The finalizing process publishes to a broker that accepts the connection and never answers: after
    # the commit it sits in the on_commit publish, and is killed there.
    private_redis.freeze()
    finalizer = workers.python(
        _FINALIZE.format(pk=str(draft.pk)), tmp_path / "finalize.log",
        CELERY_BROKER_URL=private_redis.url(0), FLUXBILL_BROKER_SOCKET_TIMEOUT="120",
    )  # fmt: skip
    processes.append(finalizer)
    committed = _until(lambda: Invoice.objects.filter(pk=draft.pk, status=InvoiceStatus.OPEN).exists(), STARTUP)
    assert committed and finalizer.alive(), "the finalizing process did not stop in its publish"
    finalizer.kill()
    killed_at = time.monotonic()
    assert "published" not in finalizer.log.read_text()

    processes.append(workers.beat(tmp_path / "beat.log", tmp_path))
    sent = _until(lambda: len(smtp.envelopes) > 0, STARTUP + EVERY)
    recovered = time.monotonic() - killed_at
    time.sleep(3 * EVERY)  # later sweeps find it sent

    print(f"\nemail lost between commit and publish: sent {_took(sent, recovered)} after the kill "
          f"(beat start + sweep every {EVERY} s; bound {STARTUP + EVERY} s)")  # fmt: skip
    assert sent, "the lost email was never sent"
    assert [e.rcpt_tos for e in smtp.envelopes] == [["ap@lost.test"]]
    invoice = Invoice.objects.get(pk=draft.pk)
    assert invoice.email_sent_at is not None and invoice.email_attempts == 1


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_send_has_its_claim_retaken_after_the_claim_bound_and_sends_once(
    fast_schedules, processes, smtp, tmp_path
):
    draft, _, _ = period_draft(units=3, email="ap@midsend.test", name="Mid Send Ltd")
    _only_schedules("invoicing.send_pending_emails")
    env = dict(EMAIL_URL=f"smtp://127.0.0.1:{smtp.port}", EMAIL_TIMEOUT="60", FLUXBILL_EMAIL_CLAIM_SECONDS=str(CLAIM_SECONDS))
    processes.append(workers.worker(tmp_path / "worker-1.log", **env))
    smtp.hang.set()
    with celery_broker(workers.REDIS_URL):
        invoice = invoice_finalize(invoice=draft, now=timezone.now(), actor=ACTOR)
    assert smtp.hanging.wait(STARTUP), "the send never reached DATA"
    processes[0].kill()
    killed_at = time.monotonic()
    smtp.hang.clear()
    claimed = Invoice.objects.get(pk=invoice.pk)
    assert claimed.email_claim_token is not None and claimed.email_sent_at is None

    processes.append(workers.worker(tmp_path / "worker-2.log", **env))
    processes.append(workers.beat(tmp_path / "beat.log", tmp_path))
    sent = _until(lambda: len(smtp.envelopes) > 0, CLAIM_SECONDS + STARTUP + EVERY)
    recovered = time.monotonic() - killed_at
    time.sleep(3 * EVERY)

    print(f"\nworker killed mid-send: sent again {_took(sent, recovered)} after the kill (claim stale after "
          f"{CLAIM_SECONDS} s, sweep every {EVERY} s; bound {CLAIM_SECONDS + STARTUP + EVERY} s)")  # fmt: skip
    assert sent, "the email of the killed send was never sent"
    assert [e.rcpt_tos for e in smtp.envelopes] == [["ap@midsend.test"]]
    invoice.refresh_from_db()
    assert (invoice.email_attempts, invoice.email_claim_token) == (2, None)
    # Taken over only once the killed worker's claim was stale, never while it could still be sending.
    assert (invoice.email_sent_at - claimed.email_claimed_at).total_seconds() >= CLAIM_SECONDS
