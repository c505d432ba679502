"""Celery worker and beat processes for the SIGKILL tests, configured from the environment as a deployed
one is (fluxbill.settings.local, DATABASE_URL at the test database). Each runs in its own process group,
so a kill takes the prefork parent and its pool children at once, as a host dying would."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]
REDIS_URL = settings.FLUXBILL_TEST_REDIS_URL


def process_env(**extra: str) -> dict:
    s = connection.settings_dict
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="fluxbill.settings.local",
        DATABASE_URL=f"postgres://{s['USER']}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}",
        CELERY_BROKER_URL=REDIS_URL,
        DEBUG="false",
    )
    env.update(extra)
    return env


class Group:
    """A process started in a session of its own; `kill()` SIGKILLs the whole group."""

    def __init__(self, args: list[str], env: dict, log: Path):
        self.log = log
        with open(log, "ab") as out:
            self.process = subprocess.Popen(
                args, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )

    def kill(self) -> None:
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait(15)

    def stop(self) -> None:
        if self.process.poll() is not None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            pass
        self.kill()

    def alive(self) -> bool:
        return self.process.poll() is None


def worker(log: Path, **env: str) -> Group:
    """A prefork worker with one pool process: the task runs in a child, as in production."""
    return Group(
        [sys.executable, "-m", "celery", "-A", "fluxbill", "worker", "--pool", "prefork", "--concurrency", "1",
         "--loglevel", "WARNING", "--without-heartbeat", "--without-gossip", "--without-mingle"],
        process_env(**env), log,
    )  # fmt: skip


def beat(log: Path, workdir: Path, **env: str) -> Group:
    """celery beat on the DatabaseScheduler (the PeriodicTask rows schedules_install writes)."""
    return Group(
        [sys.executable, "-m", "celery", "-A", "fluxbill", "beat", "--loglevel", "WARNING",
         "--pidfile", str(workdir / "beat.pid"), "--schedule", str(workdir / "beat-schedule")],
        process_env(**env), log,
    )  # fmt: skip


def python(code: str, log: Path, **env: str) -> Group:
    """A Django process of its own running `code` (fluxbill.settings.local, like a web worker)."""
    prelude = "import django; django.setup()\n"
    return Group([sys.executable, "-c", prelude + code], process_env(**env), log)
