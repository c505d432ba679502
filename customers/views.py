"""Dashboard pages for customers and subscriptions. Writes go through customers.services; a DomainError
it raises becomes a form error or a flash message. The customer and subscription pages, which show
invoices and estimates, and the interim-invoice page are invoicing's (invoicing/account_views.py)."""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from catalog.selectors import plan_search
from fluxbill.core import permissions as perms
from fluxbill.core.dashboard import require
from fluxbill.core.errors import DomainError
from fluxbill.core.lists import Button, ObjectListView
from fluxbill.core.permissions import may

from . import selectors, services
from .choices import SubscriptionStatus
from .details import logo_data_uri
from .filters import BillingEntityFilterSet, CustomerFilterSet, SubscriptionFilterSet
from .forms import BillingEntityForm, CancelForm, CustomerForm, SubscriptionForm
from .models import BillingEntity, Customer, Subscription
from .tables import BillingEntityTable, CustomerTable, SubscriptionTable

# Service errors name API fields; the forms call them differently.
_SUBSCRIPTION_FIELDS = {"plan_id": "plan", "customer_id": "customer", "start_date": "start_date"}


def _uuid(value) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value)) if value else None
    except ValueError:
        return None


def _form_error(form, exc: DomainError, fields: dict[str, str] | None = None) -> None:
    """Put a service's refusal beside the field it names, or above the form."""
    field = (fields or {}).get(exc.field, exc.field)
    form.add_error(field if field in form.fields else None, exc.message)


# --- customers --------------------------------------------------------------------------


class CustomerList(ObjectListView):
    permission = perms.VIEW_CUSTOMER
    filterset_class = CustomerFilterSet
    table_class = CustomerTable
    title = "Customers"
    url_name = "customers:customer-list"
    export_url_name = "customers:customer-export"
    export_filename = "customers"
    toolbar_filters = ("q",)
    buttons = (Button("New customer", "customers:customer-create", perms.ADD_CUSTOMER),)
    empty_filtered_text = (
        "<p>No customer's name, email or external id contains “{{ request.GET.q }}”. Check the spelling or "
        '<a href="{{ clear_url }}">show all customers</a>.</p>'
    )
    empty_text = (
        "<p>No customers yet. {% if user|can:'customers.add_customer' %}"
        '<a href="{% url \'customers:customer-create\' %}">Create the first customer</a>, or send usage events '
        "for a new external id through the API.{% else %}Finance staff create them here, or they are created "
        "through the API.{% endif %}</p>"
    )

    def get_queryset(self):
        return selectors.customer_list()


customer_list = CustomerList.list_view()
customer_export = CustomerList.export_view()


@require(perms.ADD_CUSTOMER)
def customer_create(request):
    form = CustomerForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            customer = services.customer_create(**form.service_fields())
        except DomainError as exc:
            _form_error(form, exc)
        else:
            messages.success(request, f"Customer {customer} created. Subscribe them to a plan to start billing.")
            return redirect("customers:customer-detail", pk=customer.pk)
    return render(request, "customers/customer_form.html", {"form": form, "customer": None})


@require(perms.CHANGE_CUSTOMER)
def customer_edit(request, pk):
    customer = get_object_or_404(Customer, pk=pk)
    initial = {name: getattr(customer, name) for name in ("name", "email", "external_id", *services.CUSTOMER_DETAIL_FIELDS)}
    initial["cc_emails"] = ", ".join(customer.cc_emails)
    initial["billing_entity"] = customer.billing_entity_id
    initial.update(tax_rates=customer.tax_rates, tax_exempt=customer.tax_exempt, reverse_charge=customer.reverse_charge)
    form = CustomerForm(request.POST or None, initial=initial)
    form.fields["external_id"].disabled = True  # fixed once the customer exists (customer_update)
    if request.method == "POST" and form.is_valid():
        try:
            customer = services.customer_update(customer=customer, **form.service_fields())
        except DomainError as exc:
            _form_error(form, exc)
        else:
            messages.success(request, f"Customer {customer} saved.")
            return redirect("customers:customer-detail", pk=customer.pk)
    return render(request, "customers/customer_form.html", {"form": form, "customer": customer})


# --- settings: billing entities -----------------------------------------------------------


class BillingEntityList(ObjectListView):
    permission = perms.VIEW_BILLING_ENTITY
    filterset_class = BillingEntityFilterSet
    table_class = BillingEntityTable
    title = "Billing entities"
    url_name = "customers:billing-entity-list"
    export_url_name = "customers:billing-entity-export"
    export_filename = "billing-entities"
    toolbar_filters = ("q",)
    buttons = (Button("New billing entity", "customers:billing-entity-create", perms.ADD_BILLING_ENTITY),)
    empty_filtered_text = '<p>No billing entity matches. <a href="{{ clear_url }}">Show all</a>.</p>'
    empty_text = "<p>No billing entities.</p>"
    heading = "Settings · Billing entities"
    intro = ("<p>Who bills: the seller on each invoice. Every entity numbers its invoices on its own, gap-free. "
             "<a href=\"{% url 'webhooks:endpoint-list' %}\">Webhooks</a> are under Settings too.</p>")

    def get_queryset(self):
        return selectors.billing_entity_list()


billing_entity_list = BillingEntityList.list_view()
billing_entity_export = BillingEntityList.export_view()


def _entity_data(form) -> dict:
    """The service's data from the form: an uploaded logo becomes its data URI, "remove" clears it."""
    data = {name: value for name, value in form.cleaned_data.items() if name not in ("logo_file", "logo_remove")}
    upload = form.cleaned_data.get("logo_file")
    if upload:
        data["logo"] = logo_data_uri(upload.read())
    elif form.cleaned_data.get("logo_remove"):
        data["logo"] = ""
    return data


def _entity_form_page(request, entity: BillingEntity | None):
    """The create and edit page: one form, saved through billing_entity_create / billing_entity_update."""
    initial = None
    if entity is not None:
        initial = {name: getattr(entity, name) for name in services.BILLING_ENTITY_FIELDS if name != "logo"}
    else:
        initial = {"net_days": BillingEntity._meta.get_field("net_days").get_default()}
    form = BillingEntityForm(request.POST or None, request.FILES or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            data = _entity_data(form)
            if entity is None:
                entity = services.billing_entity_create(data=data)
            else:
                entity = services.billing_entity_update(entity=entity, data=data)
        except DomainError as exc:
            _form_error(form, exc, {"logo": "logo_file"})
        else:
            messages.success(request, f"Billing entity {entity} saved.")
            return redirect("customers:billing-entity-edit", pk=entity.pk)
    editable = may(request.user, perms.CHANGE_BILLING_ENTITY if entity is not None else perms.ADD_BILLING_ENTITY)
    return render(request, "customers/billing_entity_form.html", {"form": form, "entity": entity, "editable": editable})


@require(perms.ADD_BILLING_ENTITY)
def billing_entity_create(request):
    return _entity_form_page(request, None)


@require(perms.VIEW_BILLING_ENTITY)
def billing_entity_edit(request, pk):
    entity = get_object_or_404(BillingEntity, pk=pk)
    if request.method == "POST" and not may(request.user, perms.CHANGE_BILLING_ENTITY):
        raise PermissionDenied
    return _entity_form_page(request, entity)


# --- subscriptions ----------------------------------------------------------------------


class SubscriptionList(ObjectListView):
    permission = perms.VIEW_SUBSCRIPTION
    filterset_class = SubscriptionFilterSet
    table_class = SubscriptionTable
    title = "Subscriptions"
    url_name = "customers:subscription-list"
    export_url_name = "customers:subscription-export"
    export_filename = "subscriptions"
    buttons = (Button("New subscription", "customers:subscription-create", perms.ADD_SUBSCRIPTION, carry=("customer",)),)
    empty_filtered_text = '<p>No subscription matches these filters. <a href="{{ clear_url }}">Show all subscriptions</a>.</p>'
    empty_text = (
        "<p>No subscriptions yet. {% if user|can:'customers.add_subscription' %}"
        '<a href="{% url \'customers:subscription-create\' %}">Subscribe a customer to a plan</a> to start billing them.'
        "{% else %}Finance staff subscribe customers to plans here.{% endif %}</p>"
    )

    def get_queryset(self):
        return selectors.subscription_list()

    def extra_context(self) -> dict:
        # Reached from a customer's page (?customer=<id>): say whose subscriptions these are.
        customer_id = _uuid(self.request.GET.get("customer"))
        customer = Customer.objects.filter(pk=customer_id).first() if customer_id else None
        if customer is None:
            return {}
        return {"heading": format_html('Subscriptions of <a href="{}">{}</a>', reverse("customers:customer-detail", args=[customer.pk]), customer)}


subscription_list = SubscriptionList.list_view()
subscription_export = SubscriptionList.export_view()


@require(perms.ADD_SUBSCRIPTION)
def subscription_create(request):
    initial = {}
    customer_id = _uuid(request.GET.get("customer"))
    if request.method == "GET" and customer_id:
        found = Customer.objects.filter(pk=customer_id).values_list("external_id", flat=True).first()
        if found:
            initial["customer"] = found
    form = SubscriptionForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            subscription = services.subscription_create(
                customer=form.cleaned_data["customer"],
                plan=form.cleaned_data["plan"],
                now=timezone.now(),
                start_date=form.start(),
            )
        except DomainError as exc:
            _form_error(form, exc, _SUBSCRIPTION_FIELDS)
        else:
            messages.success(
                request, f"{form.cleaned_data['customer']} is subscribed to {subscription.plan.name}; "
                f"the first period starts {subscription.current_period_start:%Y-%m-%d %H:%M} UTC."
            )
            return redirect("customers:subscription-detail", pk=subscription.pk)
    return render(request, "customers/subscription_form.html", {"form": form, "plans": plan_search("")})


def _subscription(pk) -> Subscription:
    return get_object_or_404(Subscription.objects.select_related("customer", "plan"), pk=pk)


@require(perms.VIEW_CUSTOMER)
def customer_search(request):
    """JSON for the subscription form's customer picker: up to 20 matches of ?q=."""
    found = selectors.customer_search(request.GET.get("q", "")[:100])
    return JsonResponse({"results": [
        {"value": c.external_id, "label": f"{c.name} · {c.email}" if c.email else c.name} for c in found
    ]})  # fmt: skip


def _confirm_page(request, subscription, *, title, text, button, css, form=None, action=""):
    return render(
        request,
        "invoicing/action.html",
        {
            "title": title,
            "text": text,
            "button": button,
            "css": css,
            "form": form,
            "action": action or request.path,
            "back": reverse("customers:subscription-detail", args=[subscription.pk]),
            "subject": subscription,
        },
    )


@require(perms.CANCEL_SUBSCRIPTION)
def subscription_cancel(request, pk):
    subscription = _subscription(pk)
    form = CancelForm(request.POST or None, initial={"when": "period_end"})
    if request.method != "POST":
        return _confirm_page(
            request,
            subscription,
            title="Cancel subscription",
            text="Canceling now bills the period up to this moment; at period end lets the current period run out.",
            button="Cancel subscription",
            css="danger",
            form=form,
        )
    if not form.is_valid():
        messages.error(request, "Choose when to cancel: now or at the end of the current period.")
        return redirect("customers:subscription-detail", pk=subscription.pk)
    try:
        canceled = services.subscription_cancel(
            subscription=subscription, now=timezone.now(), at_period_end=form.cleaned_data["when"] == "period_end"
        )
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        if canceled.ended_at is not None:
            messages.success(request, "Subscription ended: its current period had not started, so nothing is billed.")
        elif canceled.status == SubscriptionStatus.CANCELED:
            messages.success(request, "Subscription canceled now. The shortened period is invoiced by the next rollover.")
        else:
            messages.success(
                request,
                f"Subscription will end at the end of its current period ({canceled.cancel_at:%Y-%m-%d %H:%M} UTC).",
            )
    return redirect("customers:subscription-detail", pk=subscription.pk)
