"""Creating, revoking and checking API keys."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction

from fluxbill.core.bounded import BoundedCache
from fluxbill.core.errors import DomainError, InvalidInput, InvalidTransition

from .models import ApiKey
from .scopes import ALL, SCOPES

# 32 random bytes → 43 URL-safe characters after the prefix.
_RANDOM_BYTES = 32
_VISIBLE_CHARS = 8
LAST_USED_RESOLUTION = timedelta(minutes=1)


class PermissionRefused(DomainError):
    status_code = 403


class KeyRejected(Exception):
    """The presented key cannot be used; the message says why, for the 401 body."""


def hash_key(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode("utf-8", "surrogatepass")).hexdigest()


def validate_scopes(scopes) -> list[str]:
    if not isinstance(scopes, (list, tuple)) or not scopes:
        raise InvalidInput("scopes must be a non-empty list of scope names", field="scopes")
    unknown = [s for s in scopes if not isinstance(s, str) or s not in SCOPES]
    if unknown:
        raise InvalidInput(
            f"Unknown scope {unknown[0]!r}; allowed: {', '.join(SCOPES)}", field="scopes"
        )
    return sorted(set(scopes), key=SCOPES.index)


@transaction.atomic
def api_key_create(
    *,
    name: str,
    scopes: list[str],
    now: datetime,
    expires_at: datetime | None = None,
    created_by=None,
    parent: ApiKey | None = None,
) -> tuple[ApiKey, str]:
    """Create a key; returns the row and the full key, which is never available again.

    When another key mints it (`parent`), it may hand out only scopes the parent holds, never outlives the
    parent (no expiry given: the parent's), and is revoked with it.
    """
    name = (name or "").strip()
    if not name:
        raise InvalidInput("Missing required field: name", field="name")
    scopes = validate_scopes(scopes)
    if parent is not None and ALL not in parent.scopes:
        beyond = [scope for scope in scopes if scope not in parent.scopes]
        if beyond:
            raise PermissionRefused(
                f"This API key cannot grant scope {beyond[0]!r}: a key may only grant scopes it holds", field="scopes"
            )
    if expires_at is not None and expires_at <= now:
        raise InvalidInput("expires_at must be in the future", field="expires_at")
    if parent is not None and parent.expires_at is not None:
        if expires_at is None:
            expires_at = parent.expires_at
        elif expires_at > parent.expires_at:
            raise InvalidInput(
                f"expires_at must not be after the creating key's expiry ({parent.expires_at.isoformat()})",
                field="expires_at",
            )
    raw_key = settings.FLUXBILL_API_KEY_PREFIX + secrets.token_urlsafe(_RANDOM_BYTES)
    key = ApiKey.objects.create(
        name=name,
        prefix=raw_key[: len(settings.FLUXBILL_API_KEY_PREFIX) + _VISIBLE_CHARS],
        key_hash=hash_key(raw_key),
        scopes=scopes,
        expires_at=expires_at,
        created_by=created_by,
        parent=parent,
    )
    return key, raw_key


# Every key minted from a key, at any depth, not yet revoked: revoked in one statement with it.
_REVOKE_DESCENDANTS_SQL = """
    WITH RECURSIVE tree(id) AS (
        SELECT id FROM {table} WHERE parent_id = %s
        UNION
        SELECT child.id FROM {table} child JOIN tree ON child.parent_id = tree.id
    )
    UPDATE {table} SET revoked_at = %s
    WHERE id IN (SELECT id FROM tree) AND revoked_at IS NULL
    RETURNING key_hash
""".format(table=ApiKey._meta.db_table)


@transaction.atomic
def api_key_revoke(*, key: ApiKey, now: datetime, by: ApiKey | None = None) -> ApiKey:
    """Revoke a key and every key minted from it. A key revoking (`by`) may revoke only keys whose scopes
    it holds itself, so a narrow key cannot cut off a broader one."""
    locked = ApiKey.objects.select_for_update().get(pk=key.pk)
    if locked.revoked_at is not None:
        raise InvalidTransition(f"API key was already revoked at {locked.revoked_at.isoformat()}")
    if by is not None and ALL not in by.scopes:
        beyond = [scope for scope in locked.scopes if scope not in by.scopes]
        if beyond:
            raise PermissionRefused(
                f"This API key cannot revoke a key holding scope {beyond[0]!r}, which it does not hold itself",
                field="scopes",
            )
    locked.revoked_at = now
    locked.save(update_fields=["revoked_at"])
    with connection.cursor() as cursor:
        cursor.execute(_REVOKE_DESCENDANTS_SQL, [locked.pk, now])
        hashes = [locked.key_hash, *(row[0] for row in cursor.fetchall())]
    # This process stops accepting the keys at once; others within FLUXBILL_API_KEY_CACHE_SECONDS.
    for digest in hashes:
        forget_cached_key(digest)
    transaction.on_commit(lambda: [forget_cached_key(digest) for digest in hashes])
    return locked


def api_key_authenticate(*, raw_key: str, now: datetime, cached: bool = False) -> ApiKey:
    """Find the key for a presented secret, or raise KeyRejected saying why.

    With `cached`, a key read from the database in the last FLUXBILL_API_KEY_CACHE_SECONDS is
    reused (the ingestion endpoints ask for this: no query per event). Revocation, expiry and
    scopes are still checked on every call, against that copy.
    """
    if not raw_key:
        raise KeyRejected("Missing API key")
    digest = hash_key(raw_key)
    key = _cached_key(digest) if cached else None
    if key is None:
        key = _key_by_hash(digest)
        if cached and key is not None:
            _remember_key(key)
    # The lookup is by hash; comparing again in constant time keeps timing independent of the match.
    if key is None or not hmac.compare_digest(key.key_hash, digest):
        raise KeyRejected("Invalid API key")
    if key.revoked_at is not None:
        raise KeyRejected("API key has been revoked")
    if key.expires_at is not None and key.expires_at <= now:
        raise KeyRejected("API key has expired")
    api_key_touch(key=key, now=now)
    return key


def _key_by_hash(digest: str) -> ApiKey | None:
    """One index probe in hand-written SQL: this runs on every API request, and building the
    equivalent ORM query costs more CPU than PostgreSQL spends answering it."""
    with connection.cursor() as cursor:
        cursor.execute(_KEY_SQL, [digest])
        row = cursor.fetchone()
    return ApiKey.from_db(connection.alias, _KEY_FIELDS, row) if row else None


_KEY_FIELDS = [f.attname for f in ApiKey._meta.concrete_fields]
_KEY_SQL = "SELECT {} FROM {} WHERE key_hash = %s".format(
    ", ".join(f.column for f in ApiKey._meta.concrete_fields), ApiKey._meta.db_table
)

# key_hash → (monotonic deadline, key). Only keys that exist are kept, so random secrets cannot fill it.
_key_cache: BoundedCache[str, tuple[float, ApiKey]] = BoundedCache(lambda: settings.FLUXBILL_API_KEY_CACHE_SIZE)


def _cached_key(digest: str) -> ApiKey | None:
    hit = _key_cache.get(digest)
    if hit is not None and hit[0] > time.monotonic():
        return hit[1]
    return None


def _remember_key(key: ApiKey) -> None:
    seconds = settings.FLUXBILL_API_KEY_CACHE_SECONDS
    if seconds <= 0:
        return
    _key_cache.set(key.key_hash, (time.monotonic() + seconds, key))


def forget_cached_key(digest: str | None = None) -> None:
    """Drop one cached key (by its hash), or all of them."""
    if digest is None:
        _key_cache.clear()
    else:
        _key_cache.pop(digest, None)


def api_key_touch(*, key: ApiKey, now: datetime) -> None:
    """Record use at most once per LAST_USED_RESOLUTION, so a busy key costs no write per request."""
    if key.last_used_at is not None and now - key.last_used_at < LAST_USED_RESOLUTION:
        return
    threshold = now - LAST_USED_RESOLUTION
    from django.db.models import Q

    ApiKey.objects.filter(Q(last_used_at__isnull=True) | Q(last_used_at__lt=threshold), pk=key.pk).update(
        last_used_at=now
    )
    key.last_used_at = now
