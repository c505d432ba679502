from django.db.models import Prefetch
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from django.utils import timezone

from catalog.filters import PlanFilterSet, TaxRateFilterSet
from catalog.models import Charge, Plan, TaxRate
from catalog.services import charge_create, plan_create, plan_update
from catalog.taxes import tax_rate_create, tax_rate_update
from fluxbill.core.errors import NotFound
from metering.models import Meter

from .serializers import (
    ChargeInput,
    ChargeOutput,
    PlanInput,
    PlanOutput,
    PlanUpdate,
    TaxRateInput,
    TaxRateOutput,
    TaxRateUpdate,
)


class PlanViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Plans and, nested under them, their charges."""

    queryset = Plan.objects.prefetch_related(Prefetch("charges", queryset=Charge.objects.order_by("created_at", "id")))
    serializer_class = PlanOutput
    filterset_class = PlanFilterSet
    ordering_fields = ["name", "created_at", "lookup_id"]
    scope_resource = "plans"
    permission_model = "catalog.plan"
    action_permissions = {"charges": {"GET": "catalog.view_charge", "POST": "catalog.add_charge"}}

    @extend_schema(request=PlanInput, responses={201: PlanOutput})
    def create(self, request):
        data = PlanInput(data=request.data)
        data.is_valid(raise_exception=True)
        plan = plan_create(**data.validated_data)
        return Response(PlanOutput(plan).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=PlanUpdate, responses={200: PlanOutput})
    def partial_update(self, request, pk=None):
        data = PlanUpdate(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        plan = plan_update(plan=self.get_object(), **data.validated_data)
        return Response(PlanOutput(self.get_queryset().get(pk=plan.pk)).data)

    @extend_schema(request=ChargeInput, responses={200: ChargeOutput(many=True), 201: ChargeOutput})
    @action(detail=True, methods=["get", "post"], url_path="charges", filterset_class=None, pagination_class=None)
    def charges(self, request, pk=None):
        plan = self.get_object()
        if request.method == "GET":
            return Response(ChargeOutput(plan.charges.order_by("created_at", "id"), many=True).data)
        data = ChargeInput(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        meter_id = fields.pop("meter_id", None)
        meter = None
        if meter_id is not None:
            meter = Meter.objects.filter(pk=meter_id).first()
            if meter is None:
                raise NotFound(f"Meter '{meter_id}' not found", field="meter_id")
        charge = charge_create(plan=plan, meter=meter, **fields)
        return Response(ChargeOutput(charge).data, status=status.HTTP_201_CREATED)


class TaxRateViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Tax rates. A PATCH that changes `rate` answers with the new current rate (the old one is archived)."""

    queryset = TaxRate.objects.order_by("code", "-created_at")
    serializer_class = TaxRateOutput
    filterset_class = TaxRateFilterSet
    ordering_fields = ["code", "created_at"]
    scope_resource = "tax_rates"
    permission_model = "catalog.taxrate"

    def get_queryset(self):
        queryset = super().get_queryset()
        archived = self.request.query_params.get("archived")
        if self.action == "list" and archived not in ("true", "1"):
            queryset = queryset.filter(archived_at__isnull=True)
        return queryset

    @extend_schema(request=TaxRateInput, responses={201: TaxRateOutput})
    def create(self, request):
        data = TaxRateInput(data=request.data)
        data.is_valid(raise_exception=True)
        tax_rate = tax_rate_create(**data.validated_data)
        return Response(TaxRateOutput(tax_rate).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=TaxRateUpdate, responses={200: TaxRateOutput})
    def partial_update(self, request, pk=None):
        data = TaxRateUpdate(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        tax_rate = tax_rate_update(tax_rate=self.get_object(), data=data.validated_data, now=timezone.now())
        return Response(TaxRateOutput(tax_rate).data)
