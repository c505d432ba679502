"""Dashboard pages for API keys: list, create (the key shown once), revoke.

Support may read the list; creating and revoking are Finance actions.
"""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.views.decorators.http import require_http_methods

from fluxbill.core import permissions as perms
from fluxbill.core.dashboard import require
from fluxbill.core.errors import DomainError
from fluxbill.core.lists import Button, ObjectListView

from . import selectors
from .examples import example_request
from .filters import ApiKeyFilterSet
from .forms import ApiKeyCreateForm
from .models import ApiKey
from .services import api_key_create, api_key_revoke
from .tables import ApiKeyTable

# The raw key rides in the session only from the create POST to the one page that shows it.


def _status(key: ApiKey, now) -> str:
    if key.revoked_at is not None:
        return "revoked"
    if key.expires_at is not None and key.expires_at <= now:
        return "expired"
    return "active"


class ApiKeyList(ObjectListView):
    permission = perms.VIEW_API_KEY
    filterset_class = ApiKeyFilterSet
    table_class = ApiKeyTable
    title = "API keys"
    url_name = "apikeys:key-list"
    buttons = (Button("Create API key", "apikeys:key-create", perms.MANAGE_API_KEYS),)
    intro = (
        '<p class="help">Backends send usage events and call the API with a key in the <code>X-API-Key</code> header. '
        "Only a key's first characters are kept; the full key is shown once, when it is created.</p>"
    )
    empty_filtered_text = '<p>No API keys match these filters. <a href="{{ clear_url }}">Show all keys</a>.</p>'
    empty_text = (
        '<div class="card"><p>No API keys yet. A key lets your backend send usage events to <code>/api/v1/events</code>.</p>'
        "{% if user|can:'apikeys.manage_apikey' %}<p><a class=\"button primary\" href=\"{% url 'apikeys:key-create' %}\">"
        "Create your first API key</a></p>{% else %}<p>Ask someone in Finance to create one.</p>{% endif %}</div>"
    )

    def get_queryset(self):
        return selectors.api_key_list(now=timezone.now())


key_list = ApiKeyList.list_view()


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
