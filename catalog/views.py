"""Dashboard pages for plans and charges. Rules live in catalog.services and catalog.pricing."""

from __future__ import annotations

from django.contrib import messages
from django.db.models import Count
from django.http import JsonResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse

from fluxbill.core import permissions as perms
from fluxbill.core.dashboard import require
from fluxbill.core.errors import DomainError
from fluxbill.core.fields import decimal_to_string
from fluxbill.core.forms import add_domain_error
from fluxbill.core.lists import Button, ObjectListView

from django.utils import timezone

from . import selectors, services, taxes
from .choices import ChargeType, PlanType
from .filters import PlanFilterSet, TaxRateFilterSet
from .forms import ChargeForm, PlanForm, QuantityForm, TaxRateForm, UsagePricingForm, show_error, tier_rows, tiers_for_service
from .models import Charge, Plan, TaxRate
from .tables import PlanTable, TaxRateTable

class PlanList(ObjectListView):
    permission = perms.VIEW_PLAN
    filterset_class = PlanFilterSet
    table_class = PlanTable
    title = "Plans"
    url_name = "catalog:plan-list"
    export_url_name = "catalog:plan-export"
    export_filename = "plans"
    toolbar_filters = ("q", "status")
    buttons = (Button("New plan", "catalog:plan-create", perms.ADD_PLAN),)
    plural = "plans"
    empty_text = (
        "<p>No plans yet. A plan sets what customers pay each period (fixed fees and metered usage): "
        "{% if user|can:'catalog.add_plan' %}<a href=\"{% url 'catalog:plan-create' %}\">create the first plan</a>, "
        "then add its charges.{% else %}ask someone in Finance to create one.{% endif %}</p>"
    )

    def get_queryset(self):
        return selectors.plan_list_rows()


plan_list = PlanList.list_view()
plan_export = PlanList.export_view()


@require(perms.VIEW_PLAN)
def plan_detail(request, pk):
    plan = get_object_or_404(Plan.objects.annotate(subscription_count=Count("subscriptions")), pk=pk)
    charges = list(plan.charges.select_related("meter").order_by("created_at", "id"))
    calculator = reverse("catalog:charge-preview", args=[plan.pk])
    for charge in charges:
        if charge.type == ChargeType.USAGE:
            charge.calculator_url = f"{calculator}?{_calculator_query(charge)}"
    return render(request, "catalog/plan_detail.html", {"plan": plan, "charges": charges})


def _calculator_query(charge: Charge) -> str:
    """The price calculator's query string, filled in with a saved charge's pricing."""
    params = QueryDict(mutable=True)
    params["pricing_model"] = charge.pricing_model
    for name in ("unit_price", "package_size", "package_price", "free_units"):
        value = getattr(charge, name)
        if value is not None:
            params[name] = decimal_to_string(value)
    for tier in charge.tiers or []:
        params.appendlist("tier_up_to", tier.get("up_to") or "")
        params.appendlist("tier_unit_price", tier.get("unit_price") or "")
        params.appendlist("tier_flat_amount", tier.get("flat_amount") or "")
    return params.urlencode()


@require(perms.ADD_PLAN)
def plan_create(request):
    form = PlanForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            plan = services.plan_create(**form.cleaned_data)
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            messages.success(request, f"Plan “{plan.name}” created. Add its charges next.")
            return redirect("catalog:plan-detail", pk=plan.pk)
    return render(request, "catalog/plan_form.html", {"form": form, "plan": None})


@require(perms.CHANGE_PLAN)
def plan_edit(request, pk):
    plan = get_object_or_404(Plan, pk=pk)
    initial = {name: getattr(plan, name) for name in PlanForm.base_fields}
    form = PlanForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            plan = services.plan_update(plan=plan, **form.cleaned_data)
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            messages.success(request, f"Plan “{plan.name}” saved.")
            return redirect("catalog:plan-detail", pk=plan.pk)
    return render(request, "catalog/plan_form.html", {"form": form, "plan": plan})


@require(perms.DELETE_PLAN)
def plan_delete(request, pk):
    """GET asks for confirmation (the no-JavaScript path); POST deletes, or explains why not."""
    plan = get_object_or_404(Plan, pk=pk)
    if request.method != "POST":
        return render(request, "catalog/plan_delete.html", {"plan": plan})
    try:
        services.plan_delete(plan=plan)
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("catalog:plan-detail", pk=plan.pk)
    messages.success(request, f"Plan “{plan.name}” deleted.")
    return redirect("catalog:plan-list")


# --- Charges and the price preview ----------------------------------------------------


def _preview(plan: Plan, pricing_form: UsagePricingForm, quantity_form: QuantityForm, rows: list[dict]) -> dict:
    """What the preview box shows: a priced quantity, the reason it cannot be priced yet, or nothing."""
    if not quantity_form.is_valid():
        return {"error": quantity_form.errors["quantity"][0]}
    quantity = quantity_form.cleaned_data["quantity"]
    if quantity is None:
        return {}
    if not pricing_form.is_valid():
        return {"error": "Fix the highlighted fields to see a price."}
    tiers, origin = tiers_for_service(rows)
    try:
        priced = services.charge_preview(
            currency=plan.currency, quantity=quantity, tiers=tiers, **pricing_form.pricing()
        )
    except DomainError as exc:
        tier_errors: list[str] = []
        show_error(exc, form=pricing_form, rows=rows, origin=origin, tier_errors=tier_errors)
        return {"error": exc.message}
    return {"priced": priced}


def _charge_context(plan, form, quantity_form, rows, tier_errors, preview) -> dict:
    return {
        "plan": plan,
        "form": form,
        "quantity_form": quantity_form,
        "tier_rows": rows,
        "tier_errors": tier_errors,
        "preview": preview,
        "preview_url": reverse("catalog:charge-preview", args=[plan.pk]),
    }


@require(perms.ADD_CHARGE)
def charge_create(request, pk):
    plan = get_object_or_404(Plan, pk=pk)
    if request.method != "POST":
        initial_type = ChargeType.FIXED if plan.type == PlanType.FIXED else ChargeType.USAGE
        form = ChargeForm(initial={"type": initial_type})
        context = _charge_context(plan, form, QuantityForm(), tier_rows(), [], {})
        return render(request, "catalog/charge_form.html", context)

    form = ChargeForm(request.POST)
    rows = tier_rows(request.POST)
    quantity_form = QuantityForm(request.POST)
    tier_errors: list[str] = []
    if "preview" in request.POST:
        # The no-JavaScript preview: price what is in the form, save nothing.
        form.is_valid()
        preview = _preview(plan, form, quantity_form, rows)
        return render(request, "catalog/charge_form.html", _charge_context(plan, form, quantity_form, rows, tier_errors, preview))
    if form.is_valid():
        tiers, origin = tiers_for_service(rows)
        data = form.cleaned_data
        try:
            charge = services.charge_create(
                plan=plan,
                type=data["type"],
                display_name=data["display_name"],
                amount=data["amount"],
                meter=data["meter"],
                tiers=tiers,
                tax_rates=data.get("tax_rates") or [],
                **form.pricing(),
            )
        except DomainError as exc:
            show_error(exc, form=form, rows=rows, origin=origin, tier_errors=tier_errors)
        else:
            messages.success(request, f"Charge “{charge.display_name}” added to {plan.name}.")
            return redirect("catalog:plan-detail", pk=plan.pk)
    context = _charge_context(plan, form, quantity_form, rows, tier_errors, {})
    return render(request, "catalog/charge_form.html", context)


@require(perms.VIEW_CHARGE)
def charge_preview(request, pk):
    """What N units would cost. `?fragment=1` (the live preview's fetch) answers with just the result;
    otherwise a full page with its own GET form: the price calculator, which needs no JavaScript."""
    plan = get_object_or_404(Plan, pk=pk)
    data = request.GET if request.GET else QueryDict()
    form = UsagePricingForm(data if data else None)
    rows = tier_rows(data if data else None)
    quantity_form = QuantityForm(data if data else None)
    preview = _preview(plan, form, quantity_form, rows) if data else {}
    status = 400 if preview.get("error") else 200
    if request.GET.get("fragment"):
        return render(request, "catalog/_price_preview.html", {"plan": plan, "preview": preview}, status=status)
    return render(
        request,
        "catalog/charge_preview.html",
        {"plan": plan, "form": form, "quantity_form": quantity_form, "tier_rows": rows, "tier_errors": [], "preview": preview},
        status=status,
    )


@require(perms.VIEW_PLAN)
def plan_search(request):
    """JSON for the subscription form's plan picker: active plans matching ?q=."""
    found = selectors.plan_search(request.GET.get("q", "")[:100])
    return JsonResponse({"results": [
        {"value": p.lookup_id, "label": f"{p.name} · {p.currency} per {p.billing_interval}"} for p in found
    ]})  # fmt: skip


# --- Tax rates --------------------------------------------------------------------------------------------------


class TaxRateList(ObjectListView):
    permission = perms.VIEW_TAX_RATE
    filterset_class = TaxRateFilterSet
    toolbar_filters = ("q", "status")
    table_class = TaxRateTable
    title = "Tax rates"
    url_name = "catalog:tax-rate-list"
    export_url_name = "catalog:tax-rate-export"
    export_filename = "tax-rates"
    buttons = (Button("New tax rate", "catalog:tax-rate-create", perms.ADD_TAX_RATE),)
    plural = "tax rates"
    empty_text = (
        "<p>No tax rates yet. Create one (e.g. VAT 19 %), then name its code on plans, charges, customers or the "
        "billing entity.</p>"
    )

    def get_queryset(self):
        return TaxRate.objects.filter(archived_at__isnull=True)


tax_rate_list = TaxRateList.list_view()
tax_rate_export = TaxRateList.export_view()


@require(perms.ADD_TAX_RATE)
def tax_rate_create(request):
    form = TaxRateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            rate = taxes.tax_rate_create(**form.cleaned_data)
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            messages.success(request, f"Tax rate {rate.code} created.")
            return redirect("catalog:tax-rate-list")
    return render(request, "catalog/tax_rate_form.html", {"form": form, "tax_rate": None})


@require(perms.CHANGE_TAX_RATE)
def tax_rate_edit(request, pk):
    tax_rate = get_object_or_404(TaxRate, pk=pk, archived_at__isnull=True)
    initial = {name: getattr(tax_rate, name) for name in TaxRateForm.base_fields}
    form = TaxRateForm(request.POST or None, initial=initial)
    form.fields["code"].disabled = True
    if request.method == "POST" and form.is_valid():
        data = {key: value for key, value in form.cleaned_data.items() if key != "code"}
        try:
            saved = taxes.tax_rate_update(tax_rate=tax_rate, data=data, now=timezone.now())
        except DomainError as exc:
            add_domain_error(form, exc)
        else:
            note = " (the old rate is archived; issued invoices keep it)" if saved.pk != tax_rate.pk else ""
            messages.success(request, f"Tax rate {saved.code} saved{note}.")
            return redirect("catalog:tax-rate-list")
    return render(request, "catalog/tax_rate_form.html", {"form": form, "tax_rate": tax_rate})
