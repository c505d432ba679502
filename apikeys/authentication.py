"""How API callers prove who they are: `X-API-Key`, or a staff JWT (Bearer header, or the `access_token` cookie
plus the CSRF token on unsafe methods)."""

from __future__ import annotations

import pghistory
from django.conf import settings
from django.utils import timezone
from rest_framework import authentication, exceptions
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import InvalidToken, TokenError

from .models import ApiKey
from .services import KeyRejected, api_key_authenticate


class ApiKeyPrincipal:
    """The request's user when it came with an API key: authenticated, not a person, not staff."""

    is_authenticated = True
    is_anonymous = False
    is_staff = False
    is_superuser = False
    pk = None
    id = None

    def __init__(self, key: ApiKey):
        self.key = key
        self.username = f"api-key:{key.prefix}"

    def __str__(self) -> str:
        return self.username

    def has_perm(self, perm, obj=None) -> bool:
        return False


class ApiKeyAuthentication(authentication.BaseAuthentication):
    """Reads `X-API-Key` (header names are case-insensitive, so `x-api-key` works too)."""

    def authenticate(self, request):
        raw_key = request.META.get("HTTP_X_API_KEY")
        if raw_key is None:
            return None
        view = request.parser_context.get("view") if request.parser_context else None
        # Ingestion views opt in to a key checked within the last few seconds: one query less per event.
        cached = request.method == "POST" and getattr(view, "accepts_cached_api_key", False)
        try:
            key = api_key_authenticate(raw_key=raw_key.strip(), now=timezone.now(), cached=cached)
        except KeyRejected as exc:
            raise exceptions.AuthenticationFailed(str(exc)) from exc
        # Adds to the request's history context, if one is open (writes only): who made the change.
        pghistory.context(api_key=key.prefix)
        return ApiKeyPrincipal(key), key

    def authenticate_header(self, request) -> str:
        # Makes DRF answer 401 (not 403) when no credentials came at all.
        return 'ApiKey header="X-API-Key"'


class CookieJWTAuthentication(JWTAuthentication):
    """Staff sessions for API tools: `Authorization: Bearer <jwt>` or `Cookie: access_token=<jwt>`."""

    def authenticate(self, request):
        header = self.get_header(request)
        from_cookie = header is None
        if from_cookie:
            raw_token = request.COOKIES.get(settings.JWT_ACCESS_COOKIE)
        else:
            raw_token = self.get_raw_token(header)
        if not raw_token:
            return None
        try:
            validated = self.get_validated_token(raw_token)
        except (InvalidToken, TokenError) as exc:
            raise exceptions.AuthenticationFailed("Access token is invalid or expired") from exc
        user = self.get_user(validated)
        if from_cookie:
            # The browser attaches the cookie to any request to this site, a forged cross-site one too;
            # a Bearer header it never adds by itself, so only the cookie needs the CSRF token.
            self.enforce_csrf(request)
        # pghistory records the user's id when DRF sets request.user; the email says who without a lookup.
        pghistory.context(email=user.email)
        return user, validated

    def enforce_csrf(self, request) -> None:
        """Django's CSRF check, as DRF's SessionAuthentication runs it (safe methods pass)."""
        check = authentication.CSRFCheck(lambda request: None)
        check.process_request(request)
        reason = check.process_view(request, None, (), {})
        if reason:
            raise exceptions.PermissionDenied(f"CSRF Failed: {reason}")

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="api"'
