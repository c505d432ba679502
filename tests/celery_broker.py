"""Point the Celery app at another broker for one test (the app reads the CELERY_-namespaced key)."""

from contextlib import contextmanager

from kombu import pools

from fluxbill.celery import app


def _drop_pools() -> None:
    # The producer pools are built on the connection pool: all must go, or the next test
    # acquires from a pool that was closed.
    if app._pool is not None:
        app._pool.force_close_all()
        app._pool = None
    app.amqp._producer_pool = None
    # kombu also keeps producer pools globally, keyed by broker URL: drop those too.
    pools.reset()


@contextmanager
def celery_broker(url: str, transport_options: dict | None = None):
    previous = app.conf.get("CELERY_BROKER_URL")
    previous_options = app.conf.get("CELERY_BROKER_TRANSPORT_OPTIONS")
    app.conf.CELERY_BROKER_URL = url
    app.conf.CELERY_BROKER_TRANSPORT_OPTIONS = transport_options or {}
    _drop_pools()
    try:
        yield app
    finally:
        app.conf.CELERY_BROKER_URL = previous
        app.conf.CELERY_BROKER_TRANSPORT_OPTIONS = previous_options
        _drop_pools()
