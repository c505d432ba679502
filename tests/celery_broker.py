"""Point the Celery app at another broker for one test (the app reads the CELERY_-namespaced key)."""

from contextlib import contextmanager

from fluxbill.celery import app


def _drop_pools() -> None:
    # The producer pool is built on the connection pool: both must go, or the next test
    # acquires from a pool that was closed.
    if app._pool is not None:
        app._pool.force_close_all()
        app._pool = None
    app.amqp._producer_pool = None


@contextmanager
def celery_broker(url: str):
    previous = app.conf.get("CELERY_BROKER_URL")
    app.conf.CELERY_BROKER_URL = url
    app.conf.CELERY_BROKER_TRANSPORT_OPTIONS = {}
    _drop_pools()
    try:
        yield app
    finally:
        app.conf.CELERY_BROKER_URL = previous
        _drop_pools()
