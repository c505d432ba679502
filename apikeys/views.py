"""Dashboard pages for API keys: list, create (the key shown once), revoke.

Support may read the list; creating and revoking are Finance actions.
"""

from __future__ import annotations

import datetime

from django.contrib import messages
from django.db.models import Q, Value
from django.db.models.functions import Coalesce
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.views.decorators.http import require_http_methods

from fluxbill.core import dashboard
from fluxbill.core import permissions as perms
from fluxbill.core.dashboard import require
from fluxbill.core.errors import DomainError

from .examples import example_request
from .forms import ApiKeyCreateForm
from .models import ApiKey
from .services import api_key_create, api_key_revoke

# The raw key rides in the session only from the create POST to the one page that shows it.

SORTS = {"name": "name", "created": "created_at", "last_used": "last_used_sort", "expires": "expires_sort"}
# Never used sorts as the oldest use and never expiring as the latest expiry, in either direction
# (PostgreSQL would otherwise put NULLs first when sorting descending).
_NEVER_USED = Value(datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC))
_NEVER_EXPIRES = Value(datetime.datetime(9999, 12, 31, tzinfo=datetime.UTC))
STATUSES = {
    "active": "Active",
    "expired": "Expired",
    "revoked": "Revoked",
}


def _status(key: ApiKey, now) -> str:
    if key.revoked_at is not None:
        return "revoked"
    if key.expires_at is not None and key.expires_at <= now:
        return "expired"
    return "active"


def _filter_status(queryset, status: str, now):
    if status == "revoked":
        return queryset.filter(revoked_at__isnull=False)
    if status == "expired":
        return queryset.filter(revoked_at__isnull=True, expires_at__lte=now)
    if status == "active":
        return queryset.filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now), revoked_at__isnull=True)
    return queryset


@require(perms.VIEW_API_KEY)
def key_list(request):
    now = timezone.now()
    keys = ApiKey.objects.select_related("created_by").annotate(
        last_used_sort=Coalesce("last_used_at", _NEVER_USED), expires_sort=Coalesce("expires_at", _NEVER_EXPIRES)
    )
    search = request.GET.get("q", "").strip()
    if search:
        keys = keys.filter(Q(name__icontains=search) | Q(prefix__icontains=search))
    status = request.GET.get("status", "")
    if status not in STATUSES:
        status = ""
    keys = _filter_status(keys, status, now)
    keys, current_sort = dashboard.sort(request, keys, SORTS, default="-created")
    page = dashboard.paginate(request, keys)
    rows = []
    for key in page.object_list:
        status_key = _status(key, now)
        rows.append((key, status_key, STATUSES[status_key]))
    context = {
        "page": page,
        "rows": rows,
        "sort": current_sort,
        "search": search,
        "status": status,
        "statuses": STATUSES,
        "filtered": bool(search or status),
    }
    return render(request, "apikeys/key_list.html", context)


@require(perms.MANAGE_API_KEYS)
@require_http_methods(["GET", "POST"])
def key_create(request):
    form = ApiKeyCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            key, raw_key = api_key_create(
                name=form.cleaned_data["name"],
                scopes=form.cleaned_data["scopes"],
                expires_at=form.expires_at,
                created_by=request.user,
                now=timezone.now(),
            )
        except DomainError as exc:
            field = {"expires_at": "expires_on"}.get(exc.field, exc.field)
            form.add_error(field if field in form.fields else None, exc.message)
        else:
            # The full key exists only in this response: not in the session, a message cookie or a redirect.
            # The page swaps its address for key-created's, so a reload lands there instead of posting again.
            example = example_request(key.scopes)
            context = {
                "key": key,
                "raw_key": raw_key,
                "example": example,
                "example_url": request.build_absolute_uri(example.path),
                "created_url": reverse("apikeys:key-created", kwargs={"pk": key.pk}),
            }
            response = render(request, "apikeys/key_created.html", context)
            add_never_cache_headers(response)
            return response
    return render(request, "apikeys/key_form.html", {"form": form}, status=400 if form.errors else 200)


@require(perms.MANAGE_API_KEYS)
def key_created(request, pk):
    """Where the created page's address points after it was shown: the key was in that one response only."""
    key = get_object_or_404(ApiKey, pk=pk)
    messages.info(
        request,
        f"The full key of “{key.name}” was shown once, when it was created, and cannot be shown again. "
        "If it was lost, create a new key and revoke this one.",
    )
    return redirect("apikeys:key-list")


@require(perms.MANAGE_API_KEYS)
@require_http_methods(["GET", "POST"])
def key_revoke(request, pk):
    """GET asks for confirmation (this page works without JavaScript); POST revokes."""
    key = get_object_or_404(ApiKey, pk=pk)
    if request.method == "GET":
        return render(request, "apikeys/key_revoke.html", {"key": key, "status": _status(key, timezone.now())})
    try:
        api_key_revoke(key=key, now=timezone.now())
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Revoked “{key.name}” ({key.prefix}…). Requests using it now get 401.")
    return redirect("apikeys:key-list")
