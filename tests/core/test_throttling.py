"""The rate limiter against a real Redis client pointed at a closed port: ingestion goes on (fail open)."""

import socket

from django.core.cache import caches
from django.test import override_settings

from fluxbill.core import throttling


def _closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_rate_allow_fails_open_when_redis_is_stopped(monkeypatch, caplog):
    url = f"redis://127.0.0.1:{_closed_port()}/0"
    cfg = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": url,
                       "OPTIONS": {"socket_timeout": 0.5, "socket_connect_timeout": 0.5}}}
    with override_settings(CACHES=cfg):
        monkeypatch.setattr(throttling, "cache", caches["default"])
        allowed, _ = throttling.rate_allow("single", "key:1")
    assert allowed is True
    assert "rate limit store unreachable" in caplog.text


def test_rate_allow_fails_open_when_redis_is_frozen(monkeypatch, caplog):
    # A server that accepts connections and never answers, as a SIGSTOPped redis-server does.
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    url = f"redis://127.0.0.1:{server.getsockname()[1]}/0"
    cfg = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": url,
                       "OPTIONS": {"socket_timeout": 0.3, "socket_connect_timeout": 0.3}}}
    try:
        with override_settings(CACHES=cfg):
            monkeypatch.setattr(throttling, "cache", caches["default"])
            allowed, _ = throttling.rate_allow("single", "key:1")
    finally:
        server.close()
    assert allowed is True
    assert "rate limit store unreachable" in caplog.text
