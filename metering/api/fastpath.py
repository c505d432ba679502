"""The single-event ingestion endpoints' fast path: a well-formed request with an API key, past DRF.

DRF's per-request machinery (request wrapper, content negotiation, authenticator and permission
loops, template response) costs more CPU than storing the event does, and so do the session, CSRF,
authentication and messages middleware, which a request carrying an API key never uses. A POST to
`/sdk/track`, `/usage` or `/events` that needs none of that judgement is answered by
`IngestFastPathMiddleware`, which sits right after the request-id and security middleware: the
same key check (`api_key_authenticate`, cached), scope check (`required_scope`/`grants`), rate
limit (`rate_allow`), JSON parser and view logic (`view.ingest`), rendered by DRF's own JSON
renderer, with the headers the skipped middleware would have added. Anything else (no key or a bad
one, a missing scope, a rate limit reached, a body that does not parse, an unusual Accept or
content type, a large body) goes on down the stack, and DRF handles the request from the start,
error answers included. Nothing here writes before that decision, so falling back never does
anything twice.
"""

from __future__ import annotations

import io

from django.conf import settings
from django.http import HttpResponse
from django.middleware.clickjacking import XFrameOptionsMiddleware
from django.middleware.common import CommonMiddleware
from django.urls import NoReverseMatch, Resolver404, get_script_prefix, resolve, reverse
from django.utils import timezone
from rest_framework.exceptions import APIException
from rest_framework.renderers import JSONRenderer

from apikeys.permissions import required_scope
from apikeys.scopes import grants
from apikeys.services import KeyRejected, api_key_authenticate
from fluxbill.core.middleware import database_unavailable_answer
from fluxbill.core.parsers import DecimalJSONParser
from fluxbill.core.throttling import rate_allow

# One event is a few hundred bytes; anything much larger is left to DRF's streaming parser.
BODY_LIMIT = 64 * 1024

_PARSER = DecimalJSONParser()
_RENDERER = JSONRenderer()


def _accepts_json(request) -> bool:
    accept = request.META.get("HTTP_ACCEPT")
    return not accept or "json" in accept or "*/*" in accept


def post(view, request) -> HttpResponse | None:
    """The view's answer to `request`, or None when DRF must handle it."""
    if request.method != "POST" or not settings.FLUXBILL_INGEST_FAST_PATH:
        return None
    raw_key = request.META.get("HTTP_X_API_KEY")
    if not raw_key or request.content_type != "application/json" or not _accepts_json(request):
        return None
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return None
    if not 0 < length <= BODY_LIMIT:
        return None
    try:
        key = api_key_authenticate(raw_key=raw_key.strip(), now=timezone.now(), cached=True)
    except KeyRejected:
        return None
    if not grants(key.scopes, required_scope(view, request)):
        return None
    try:
        # request.body keeps the bytes, so DRF can parse them again after a fallback.
        data = _PARSER.parse(io.BytesIO(request.body), parser_context={"encoding": request.encoding or settings.DEFAULT_CHARSET})
    except APIException:
        return None
    # The last check before the answer, so that only a request already over the limit is counted twice
    # (here, then by DRF's throttle after the fallback).
    if not rate_allow(view.throttle_scope, f"key:{key.pk}")[0]:
        return None
    status_code, body, headers = view.ingest(data=data, path=request.path, key=key)
    response = HttpResponse(_RENDERER.render(body), status=status_code, content_type="application/json")
    for name, value in headers.items():
        response[name] = value
    # What DRF's finalize_response adds, so both paths answer alike.
    response["Allow"] = ", ".join(view.allowed_methods)
    return response


# The URL names of the endpoints the fast path serves (each view has an `ingest` method).
ROUTE_NAMES = ("sdk-track", "usage", "events")


class IngestFastPathMiddleware:
    """Answers what `post` can answer before the rest of the middleware stack and the URL resolver run."""

    def __init__(self, get_response):
        self.get_response = get_response
        self._routes: dict[str, type] | None = None
        # CommonMiddleware's request checks (the Host header against ALLOWED_HOSTS, user agents, redirects)
        # still decide first; it and X-Frame-Options add their headers to the answer the same way.
        self._common = CommonMiddleware(get_response)
        self._below = (XFrameOptionsMiddleware(get_response), self._common)

    def routes(self) -> dict[str, type]:
        """Request path_info (the path below any SCRIPT_NAME) -> view class, made on first use."""
        if self._routes is None:
            routes = {}
            prefix = get_script_prefix()
            for name in ROUTE_NAMES:
                try:
                    path = reverse(name)
                    path_info = "/" + path[len(prefix) :] if path.startswith(prefix) else path
                    view_class = resolve(path_info).func.view_class
                except (NoReverseMatch, Resolver404):
                    continue
                if hasattr(view_class, "ingest"):
                    routes[path_info] = view_class
            self._routes = routes
        return self._routes

    def _request_passes(self, request) -> bool:
        try:
            return self._common.process_request(request) is None
        except Exception:  # DisallowedHost, PermissionDenied: the stack below answers them (400, 403)
            return False

    def __call__(self, request):
        if request.method == "POST" and settings.FLUXBILL_INGEST_FAST_PATH:
            view_class = self.routes().get(request.path_info)
            if view_class is not None and self._request_passes(request):
                view = view_class()
                view.setup(request)
                try:
                    response = post(view, request)
                except Exception as exc:
                    response = database_unavailable_answer(exc)
                    if response is None:
                        raise
                if response is not None:
                    for below in self._below:
                        response = below.process_response(request, response)
                    return response
        return self.get_response(request)
