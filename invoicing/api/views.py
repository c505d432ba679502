from django.http import HttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response

from customers.models import Customer, Subscription
from fluxbill.core import permissions as perms
from fluxbill.core.errors import Conflict, DomainError, InvalidInput
from fluxbill.core.lookups import get_by_id_or_key
from fluxbill.core.schema import ErrorResponse
from invoicing import selectors
from invoicing.filters import CreditNoteFilterSet, InvoiceFilterSet, PaymentFilterSet, default_ordering
from invoicing.services import (
    Actor,
    EmailResult,
    draft_refresh_if_old,
    invoice_email_send,
    invoice_finalize,
    invoice_mark_paid,
    invoice_mark_uncollectible,
    invoice_pdf,
    invoice_regenerate,
    invoice_void,
    subscription_generate_interim,
)

from invoicing.services.credit import credit_adjust
from invoicing.services.credit_note_delivery import credit_note_email_send, credit_note_pdf
from invoicing.services.credit_notes import credit_note_issue, credit_note_preview, credit_note_void
from invoicing.services.payments import payment_record, payment_reverse

from .serializers import (
    BalanceOutput,
    CreditAdjustInput,
    CreditEntryOutput,
    CreditNoteCreateInput,
    CreditNoteInput,
    CreditNoteOutput,
    CreditNotePreviewOutput,
    CreditNoteVoidInput,
    InvoiceDetailOutput,
    InvoiceOutput,
    MarkPaidInput,
    PaymentInput,
    PaymentOutput,
    PaymentReverseInput,
    PreviewOutput,
    VoidInput,
)


class PassthroughPDFRenderer(BaseRenderer):
    """Lets clients ask for `Accept: application/pdf`; the view returns the bytes itself."""

    media_type = "application/pdf"
    format = "pdf"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if isinstance(data, (bytes, bytearray)):
            return data
        # Only an error body (404, 403, …) reaches a renderer here: answer it as JSON, not as a broken PDF.
        response = (renderer_context or {}).get("response")
        if response is not None:
            response["Content-Type"] = "application/json"
        return JSONRenderer().render(data, renderer_context=renderer_context)


class EmailNotSent(DomainError):
    """The mail server refused or could not be reached."""

    status_code = 502


class InvoiceViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Invoices and the transitions staff may apply to them."""

    queryset = selectors.invoice_list()
    serializer_class = InvoiceOutput
    filterset_class = InvoiceFilterSet
    ordering_fields = ["created_at", "issued_at", "period_start", "total", "number"]
    scope_resource = "invoices"
    permission_model = "invoicing.invoice"
    action_permissions = {
        "finalize": perms.FINALIZE_INVOICE,
        "void": perms.VOID_INVOICE,
        "mark_paid": perms.MARK_PAID_INVOICE,
        "mark_uncollectible": perms.MARK_UNCOLLECTIBLE_INVOICE,
        "regenerate": perms.REGENERATE_INVOICE,
        "send_email": perms.SEND_INVOICE_EMAIL,
        "pdf": perms.VIEW_INVOICE,
    }

    @property
    def ordering(self):
        """Without ?ordering=, the order the dashboard shows: drafts by period, the rest newest first."""
        request = getattr(self, "request", None)
        return list(default_ordering(request.query_params.get("status") if request is not None else None))

    def get_serializer_class(self):
        return InvoiceDetailOutput if self.action != "list" else InvoiceOutput

    def get_queryset(self):
        if self.action == "list":
            return selectors.invoice_list()
        return selectors.invoice_list().select_related("replaces").prefetch_related("lines", "audit")

    def retrieve(self, request, *args, **kwargs):
        """A draft computed over FLUXBILL_DRAFT_FRESH_SECONDS ago is recomputed first (invoicing.services.freshness)."""
        invoice = self.get_object()
        if draft_refresh_if_old(invoice=invoice, now=timezone.now()):
            invoice = self.get_object()
        return Response(self.get_serializer(invoice).data)

    def _answer(self, invoice):
        return Response(InvoiceDetailOutput(selectors.invoice_detail(invoice.pk)).data)

    @extend_schema(request=None, responses={200: InvoiceDetailOutput})
    @action(detail=True, methods=["post"])
    def finalize(self, request, pk=None):
        return self._answer(invoice_finalize(invoice=self.get_object(), now=timezone.now(), actor=Actor.from_request(request)))

    @extend_schema(request=VoidInput, responses={200: InvoiceDetailOutput})
    @action(detail=True, methods=["post"])
    def void(self, request, pk=None):
        data = VoidInput(data=request.data or {})
        data.is_valid(raise_exception=True)
        invoice = invoice_void(
            invoice=self.get_object(), now=timezone.now(), actor=Actor.from_request(request), reason=data.validated_data["reason"]
        )
        return self._answer(invoice)

    @extend_schema(request=MarkPaidInput, responses={200: InvoiceDetailOutput})
    @action(detail=True, methods=["post"], url_path="mark-paid")
    def mark_paid(self, request, pk=None):
        data = MarkPaidInput(data=request.data or {})
        data.is_valid(raise_exception=True)
        invoice = invoice_mark_paid(
            invoice=self.get_object(),
            now=timezone.now(),
            actor=Actor.from_request(request),
            paid_at=data.validated_data.get("paid_at"),
            reference=data.validated_data["reference"],
        )
        return self._answer(invoice)

    @extend_schema(request=None, responses={200: InvoiceDetailOutput})
    @action(detail=True, methods=["post"], url_path="mark-uncollectible")
    def mark_uncollectible(self, request, pk=None):
        invoice = invoice_mark_uncollectible(invoice=self.get_object(), now=timezone.now(), actor=Actor.from_request(request))
        return self._answer(invoice)

    @extend_schema(request=None, responses={200: InvoiceDetailOutput})
    @action(detail=True, methods=["post"])
    def regenerate(self, request, pk=None):
        invoice = invoice_regenerate(invoice=self.get_object(), now=timezone.now(), actor=Actor.from_request(request))
        return self._answer(invoice)

    @extend_schema(
        request=None,
        responses={
            200: InvoiceDetailOutput,
            502: OpenApiResponse(ErrorResponse, description="The mail server refused the message or could not be reached."),
        },
    )
    @action(detail=True, methods=["post"], url_path="send-email")
    def send_email(self, request, pk=None):
        result, error = invoice_email_send(
            invoice=self.get_object(), now=timezone.now(), actor=Actor.from_request(request), force=True
        )
        if result is EmailResult.FAILED:
            if "no email address" in error:
                raise Conflict(f"Email not sent: {error}", field="email")
            raise EmailNotSent(f"Email not sent: {error}")
        return self._answer(self.get_object())

    @extend_schema(responses={(200, "application/pdf"): OpenApiTypes.BINARY})
    @action(detail=True, methods=["get"], renderer_classes=[JSONRenderer, PassthroughPDFRenderer])
    def pdf(self, request, pk=None):
        invoice = selectors.invoice_detail(self.get_object().pk)
        if draft_refresh_if_old(invoice=invoice, now=timezone.now()):
            invoice = selectors.invoice_detail(invoice.pk)
        response = HttpResponse(invoice_pdf(invoice), content_type="application/pdf")
        response["Content-Disposition"] = f'attachment; filename="{invoice.number or "draft-" + str(invoice.pk)[:8]}.pdf"'
        return response


class SubscriptionInvoiceViewSet(viewsets.GenericViewSet):
    """A subscription's invoice endpoints, /subscriptions/{id}/generate-invoice and /preview-invoice.

    Invoicing's (it is above customers), routed beside customers' SubscriptionViewSet under the same
    path and route names (fluxbill/api_router.py)."""

    queryset = Subscription.objects.select_related("customer", "plan")
    scope_resource = "subscriptions"
    action_scopes = {"generate_invoice": "invoices.write", "preview_invoice": "invoices.read"}
    permission_model = "customers.subscription"
    action_permissions = {
        "generate_invoice": perms.GENERATE_INTERIM_INVOICE,
        "preview_invoice": perms.VIEW_INVOICE,
    }

    @extend_schema(request=None, responses={201: InvoiceDetailOutput})
    @action(detail=True, methods=["post"], url_path="generate-invoice")
    def generate_invoice(self, request, pk=None):
        invoice = subscription_generate_interim(
            subscription=self.get_object(), now=timezone.now(), actor=Actor.from_request(request)
        )
        return Response(InvoiceDetailOutput(selectors.invoice_detail(invoice.pk)).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses={200: PreviewOutput})
    @action(detail=True, methods=["get"], url_path="preview-invoice")
    def preview_invoice(self, request, pk=None):
        subscription = self.get_object()
        estimate = selectors.subscription_estimate(subscription=subscription, now=timezone.now())
        money = estimate.money
        body = {
            "subscription_id": subscription.pk,
            "currency": estimate.currency,
            "period_start": estimate.start,
            "period_end": estimate.end,
            **money.invoice_fields(),
            "lines": money.lines,
        }
        return Response(PreviewOutput(body, context={"currency": estimate.currency}).data)


class CustomerCreditViewSet(viewsets.GenericViewSet):
    """A customer's credit: /customers/{id}/balance and /customers/{id}/balance-transactions (the ledger;
    POST is Finance's manual adjustment). Invoicing's, routed beside customers' CustomerViewSet."""

    queryset = Customer.objects.all()
    lookup_value_regex = "[^/]+"
    scope_resource = "customers"
    action_scopes = {"balance": "customers.read"}
    method_scopes = {"GET": "customers.read", "POST": "invoices.write"}
    action_permissions = {
        "balance": "invoicing.view_creditentry",
        "balance_transactions": {"GET": "invoicing.view_creditentry", "POST": "invoicing.add_creditentry"},
    }

    def get_object(self):
        customer = get_by_id_or_key(Customer.objects.all(), self.kwargs["pk"], "external_id", label="Customer")
        self.check_object_permissions(self.request, customer)
        return customer

    @extend_schema(responses={200: BalanceOutput(many=True)})
    @action(detail=True, methods=["get"], url_path="balance", pagination_class=None)
    def balance(self, request, pk=None):
        """The balance per currency (a currency with no entries is absent: 0)."""
        customer = self.get_object()
        rows = selectors.customer_credit_balances(customer)
        return Response(BalanceOutput(rows, many=True).data)

    @extend_schema(request=CreditAdjustInput, responses={200: CreditEntryOutput(many=True), 201: CreditEntryOutput})
    @action(detail=True, methods=["get", "post"], url_path="balance-transactions")
    def balance_transactions(self, request, pk=None):
        customer = self.get_object()
        if request.method == "GET":
            currency = request.query_params.get("currency") or None
            if currency is not None and not (len(currency) == 3 and currency.isascii() and currency.isalpha()):
                raise InvalidInput(f"currency must be a 3-letter ISO 4217 code, got {currency!r}", field="currency")
            entries = selectors.customer_credit_entries(customer, currency=currency)
            page = self.paginate_queryset(entries)
            return self.get_paginated_response(CreditEntryOutput(page, many=True).data)
        data = CreditAdjustInput(data=request.data)
        data.is_valid(raise_exception=True)
        entry = credit_adjust(customer=customer, actor=Actor.from_request(request), **data.validated_data)
        return Response(CreditEntryOutput(entry).data, status=status.HTTP_201_CREATED)


def _split(data: dict) -> dict:
    return {name: data.get(name) for name in ("offset_amount", "credit_amount", "refund_amount")}


class InvoiceCreditNoteViewSet(viewsets.GenericViewSet):
    """POST /invoices/{id}/credit-notes/preview: what a note would be, nothing stored. Routed beside InvoiceViewSet."""

    queryset = selectors.invoice_list()
    scope_resource = "credit_notes"
    action_scopes = {"credit_note_preview": "credit_notes.read"}
    action_permissions = {"credit_note_preview": perms.VIEW_CREDIT_NOTE}

    @extend_schema(request=CreditNoteInput, responses={200: CreditNotePreviewOutput})
    @action(detail=True, methods=["post"], url_path="credit-notes/preview")
    def credit_note_preview(self, request, pk=None):
        invoice = self.get_object()
        data = CreditNoteInput(data=request.data)
        data.is_valid(raise_exception=True)
        draft = credit_note_preview(invoice=invoice, items=data.validated_data["items"], split=_split(data.validated_data))
        return Response(CreditNotePreviewOutput(draft, context={"currency": invoice.currency}).data)


class CreditNoteViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Credit notes: issue (POST), list, read, void, PDF, resend."""

    serializer_class = CreditNoteOutput
    filterset_class = CreditNoteFilterSet
    ordering_fields = ["issued_at", "number", "total"]
    ordering = ["-issued_at", "-number"]
    scope_resource = "credit_notes"
    permission_model = "invoicing.creditnote"
    action_permissions = {
        "void": perms.VOID_CREDIT_NOTE,
        "send_email": perms.SEND_CREDIT_NOTE_EMAIL,
        "pdf": perms.VIEW_CREDIT_NOTE,
    }

    def get_queryset(self):
        return selectors.credit_note_list()

    @extend_schema(request=CreditNoteCreateInput, responses={201: CreditNoteOutput})
    def create(self, request):
        data = CreditNoteCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        invoice = selectors.invoice_list().filter(pk=values["invoice_id"]).first()
        if invoice is None:
            raise InvalidInput(f"invoice_id: no invoice {values['invoice_id']}", field="invoice_id")
        note = credit_note_issue(
            invoice=invoice, reason=values["reason"], memo=values["memo"], items=values["items"], split=_split(values),
            now=timezone.now(), actor=Actor.from_request(request),
        )
        return Response(CreditNoteOutput(selectors.credit_note_list().get(pk=note.pk)).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=CreditNoteVoidInput, responses={200: CreditNoteOutput})
    @action(detail=True, methods=["post"])
    def void(self, request, pk=None):
        data = CreditNoteVoidInput(data=request.data or {})
        data.is_valid(raise_exception=True)
        note = credit_note_void(credit_note=self.get_object(), now=timezone.now(), actor=Actor.from_request(request),
                                reason=data.validated_data["reason"])
        return Response(CreditNoteOutput(selectors.credit_note_list().get(pk=note.pk)).data)

    @extend_schema(
        request=None,
        responses={
            200: CreditNoteOutput,
            502: OpenApiResponse(ErrorResponse, description="The mail server refused the message or could not be reached."),
        },
    )
    @action(detail=True, methods=["post"], url_path="send-email")
    def send_email(self, request, pk=None):
        result, error = credit_note_email_send(
            credit_note=self.get_object(), now=timezone.now(), actor=Actor.from_request(request), force=True
        )
        if result is EmailResult.FAILED:
            if "no email address" in error:
                raise Conflict(f"Email not sent: {error}", field="email")
            raise EmailNotSent(f"Email not sent: {error}")
        return Response(CreditNoteOutput(selectors.credit_note_list().get(pk=pk)).data)

    @extend_schema(responses={(200, "application/pdf"): OpenApiTypes.BINARY})
    @action(detail=True, methods=["get"], renderer_classes=[JSONRenderer, PassthroughPDFRenderer])
    def pdf(self, request, pk=None):
        note = self.get_object()
        response = HttpResponse(credit_note_pdf(note), content_type="application/pdf")
        response["Content-Disposition"] = f'attachment; filename="{note.number}.pdf"'
        return response


class InvoicePaymentViewSet(viewsets.GenericViewSet):
    """GET/POST /invoices/{id}/payments: an invoice's payments, and recording one. Routed beside InvoiceViewSet."""

    queryset = selectors.invoice_list()
    filter_backends = ()  # the list's filters are /payments'; here the invoice is looked up by its id alone
    scope_resource = "payments"
    action_permissions = {"payments": {"GET": perms.VIEW_PAYMENT, "POST": perms.ADD_PAYMENT}}

    @extend_schema(methods=["GET"], request=None, responses={200: PaymentOutput(many=True)})
    @extend_schema(methods=["POST"], request=PaymentInput, responses={201: PaymentOutput})
    @action(detail=True, methods=["get", "post"], url_path="payments")
    def payments(self, request, pk=None):
        invoice = self.get_object()
        if request.method == "GET":
            page = self.paginate_queryset(selectors.payment_list().filter(invoice_id=invoice.pk))
            return self.get_paginated_response(PaymentOutput(page, many=True).data)
        data = PaymentInput(data=request.data)
        data.is_valid(raise_exception=True)
        payment = payment_record(invoice=invoice, now=timezone.now(), actor=Actor.from_request(request), **data.validated_data)
        return Response(PaymentOutput(selectors.payment_list().get(pk=payment.pk)).data, status=status.HTTP_201_CREATED)


class PaymentViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Payments: list, read, reverse (recording one is per invoice: /invoices/{id}/payments)."""

    serializer_class = PaymentOutput
    filterset_class = PaymentFilterSet
    ordering_fields = ["received_at", "amount", "created_at"]
    ordering = ["-received_at", "-created_at"]
    scope_resource = "payments"
    permission_model = "invoicing.payment"
    action_permissions = {"reverse": perms.REVERSE_PAYMENT}

    def get_queryset(self):
        return selectors.payment_list()

    @extend_schema(request=PaymentReverseInput, responses={200: PaymentOutput})
    @action(detail=True, methods=["post"])
    def reverse(self, request, pk=None):
        data = PaymentReverseInput(data=request.data or {})
        data.is_valid(raise_exception=True)
        payment = payment_reverse(payment=self.get_object(), reason=data.validated_data["reason"], now=timezone.now(),
                                  actor=Actor.from_request(request))
        return Response(PaymentOutput(selectors.payment_list().get(pk=payment.pk)).data)
