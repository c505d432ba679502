"""Settings → Webhooks: endpoints (the secret shown once, at creation and rotation), their recent deliveries,
and the staff tools — resend, replay, test event — all through webhooks.services."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone

from fluxbill.core import permissions as perms
from fluxbill.core.actors import Actor
from fluxbill.core.dashboard import require
from fluxbill.core.errors import DomainError
from fluxbill.core.lists import Button, ObjectListView
from fluxbill.core.permissions import may

from .filters import EndpointFilterSet
from .forms import EndpointForm, ReplayForm
from .models import WebhookDelivery, WebhookEndpoint
from .services import (
    delivery_resend,
    endpoint_create,
    endpoint_replay,
    endpoint_rotate_secret,
    endpoint_test,
    endpoint_update,
)
from .tables import EndpointTable

RECENT_DELIVERIES = 50


class EndpointList(ObjectListView):
    permission = perms.VIEW_WEBHOOK_ENDPOINT
    filterset_class = EndpointFilterSet
    table_class = EndpointTable
    title = "Webhooks"
    heading = "Settings · Webhooks"
    intro = ("<p>Where Fluxbill POSTs signed events (Standard Webhooks) when billing things happen. "
             '<a href="{% url \'customers:billing-entity-list\' %}">Billing entities</a> are under Settings too.</p>')
    url_name = "webhooks:endpoint-list"
    export_url_name = "webhooks:endpoint-export"
    export_filename = "webhook-endpoints"
    plural = "webhook endpoints"
    toolbar_filters = ("q", "enabled")
    buttons = (Button("New endpoint", "webhooks:endpoint-create", perms.ADD_WEBHOOK_ENDPOINT),)
    empty_text = "<p>No webhook endpoints yet. Add one to receive invoice, credit-note, customer and subscription events.</p>"

    def get_queryset(self):
        return WebhookEndpoint.objects.all()


endpoint_list = EndpointList.list_view()
endpoint_export = EndpointList.export_view()


def _secret_page(request, endpoint, *, title: str):
    """The secret, this once; reloading the page goes to the endpoint's page, which never shows it."""
    return render(request, "webhooks/secret.html", {
        "endpoint": endpoint, "title": title, "detail_url": reverse("webhooks:endpoint-detail", args=[endpoint.pk]),
    })


@require(perms.ADD_WEBHOOK_ENDPOINT)
def endpoint_create_view(request):
    form = EndpointForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            endpoint = endpoint_create(actor=Actor.from_request(request), **form.cleaned_data)
        except DomainError as exc:
            form.add_error("url" if exc.field == "url" else None, exc.message)
        else:
            return _secret_page(request, endpoint, title="Webhook endpoint created")
    return render(request, "webhooks/endpoint_form.html", {"form": form, "endpoint": None},
                  status=400 if form.errors else 200)


@require(perms.VIEW_WEBHOOK_ENDPOINT)
def endpoint_detail(request, pk):
    endpoint = get_object_or_404(WebhookEndpoint, pk=pk)
    form = None
    if request.method == "POST":
        if not may(request.user, perms.CHANGE_WEBHOOK_ENDPOINT):
            raise PermissionDenied(f"You do not have the permission this needs ({perms.CHANGE_WEBHOOK_ENDPOINT}).")
        form = EndpointForm(request.POST)
        if form.is_valid():
            try:
                endpoint_update(endpoint=endpoint, data=form.cleaned_data)
            except DomainError as exc:
                form.add_error(exc.field if exc.field in form.fields else None, exc.message)
            else:
                messages.success(request, "Endpoint saved.")
                return redirect("webhooks:endpoint-detail", pk=endpoint.pk)
    if form is None:
        form = EndpointForm(initial={
            "url": endpoint.url, "description": endpoint.description, "event_types": endpoint.event_types,
            "enabled": endpoint.enabled,
        })
    deliveries = list(
        WebhookDelivery.objects.filter(endpoint=endpoint).select_related("event").order_by("-id")[:RECENT_DELIVERIES]
    )
    context = {
        "endpoint": endpoint, "form": form, "deliveries": deliveries, "replay_form": ReplayForm(),
        "may_change": may(request.user, perms.CHANGE_WEBHOOK_ENDPOINT),
        "may_manage": may(request.user, perms.MANAGE_WEBHOOKS),
    }
    return render(request, "webhooks/endpoint_detail.html", context, status=400 if form.errors else 200)


@require(perms.CHANGE_WEBHOOK_ENDPOINT)
def endpoint_rotate_view(request, pk):
    endpoint = get_object_or_404(WebhookEndpoint, pk=pk)
    if request.method != "POST":
        return redirect("webhooks:endpoint-detail", pk=endpoint.pk)
    endpoint = endpoint_rotate_secret(endpoint=endpoint, now=timezone.now())
    return _secret_page(request, endpoint, title="Signing secret rotated")


@require(perms.MANAGE_WEBHOOKS)
def endpoint_test_view(request, pk):
    endpoint = get_object_or_404(WebhookEndpoint, pk=pk)
    if request.method == "POST":
        try:
            endpoint_test(endpoint=endpoint, now=timezone.now())
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, "A webhook.test event is on its way.")
    return redirect("webhooks:endpoint-detail", pk=endpoint.pk)


@require(perms.MANAGE_WEBHOOKS)
def endpoint_replay_view(request, pk):
    endpoint = get_object_or_404(WebhookEndpoint, pk=pk)
    form = ReplayForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            count = endpoint_replay(endpoint=endpoint, since=form.cleaned_data["since"], now=timezone.now())
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, f"{count} event{'s' if count != 1 else ''} queued again, in order.")
    elif request.method == "POST":
        messages.error(request, f"Replay: {form.errors['since'][0]}")
    return redirect("webhooks:endpoint-detail", pk=endpoint.pk)


@require(perms.MANAGE_WEBHOOKS)
def delivery_resend_view(request, pk):
    delivery = get_object_or_404(WebhookDelivery.objects.select_related("event"), pk=pk)
    if request.method == "POST":
        delivery_resend(delivery=delivery, now=timezone.now())
        messages.success(request, f"{delivery.event.type} {delivery.event.uid} queued again.")
    return redirect("webhooks:endpoint-detail", pk=delivery.endpoint_id)
