"""Point the Celery app at another broker for one test (the app reads the CELERY_-namespaced key)."""

from contextlib import contextmanager

from fluxbill.celery import app


@contextmanager
def celery_broker(url: str):
    previous = app.conf.get("CELERY_BROKER_URL")
    app.conf.CELERY_BROKER_URL = url
    app.conf.CELERY_BROKER_TRANSPORT_OPTIONS = {}
    if app._pool is not None:
        app._pool.force_close_all()
        app._pool = None
    try:
        yield app
    finally:
        app.conf.CELERY_BROKER_URL = previous
        if app._pool is not None:
            app._pool.force_close_all()
            app._pool = None
