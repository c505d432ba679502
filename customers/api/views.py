from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from catalog.models import Plan
from customers.filters import CustomerFilterSet, SubscriptionFilterSet
from customers.models import BillingEntity, Customer, Subscription
from customers.selectors import billing_entity_list
from customers.services import (
    billing_entity_create,
    billing_entity_update,
    customer_create,
    customer_update,
    subscription_cancel,
    subscription_create,
)
from fluxbill.core import permissions as perms
from fluxbill.core.errors import InvalidInput, NotFound
from fluxbill.core.lookups import get_by_id_or_key
from fluxbill.core.schema import ErrorResponse

from .serializers import (
    BillingEntityInput,
    BillingEntityOutput,
    CustomerInput,
    CustomerOutput,
    CustomerUpdate,
    SubscriptionCancelInput,
    SubscriptionInput,
    SubscriptionOutput,
)


def _customer_fields(validated: dict) -> dict:
    """The service's keywords from a customer body: `billing_entity_id` (an id or a name) becomes the entity."""
    fields = dict(validated)
    if "billing_entity_id" in fields:
        reference = fields.pop("billing_entity_id")
        try:
            fields["billing_entity"] = get_by_id_or_key(
                BillingEntity.objects.all(), reference, "name", label="Billing entity", field="billing_entity_id"
            )
        except NotFound as exc:
            raise InvalidInput(f"billing_entity_id: {exc.message}", field="billing_entity_id") from exc
    return fields


class CustomerViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """Customers, found by id or by their `external_id` (`/customers/acme-corp-001`)."""

    queryset = Customer.objects.all()
    serializer_class = CustomerOutput
    filterset_class = CustomerFilterSet
    ordering_fields = ["name", "created_at", "external_id", "email"]
    lookup_value_regex = "[^/]+"
    scope_resource = "customers"
    permission_model = "customers.customer"

    def get_object(self):
        customer = get_by_id_or_key(Customer.objects.all(), self.kwargs["pk"], "external_id", label="Customer")
        self.check_object_permissions(self.request, customer)
        return customer

    def retrieve(self, request, pk=None):
        return Response(CustomerOutput(self.get_object()).data)

    @extend_schema(request=CustomerInput, responses={201: CustomerOutput})
    def create(self, request):
        data = CustomerInput(data=request.data)
        data.is_valid(raise_exception=True)
        customer = customer_create(**_customer_fields(data.validated_data))
        return Response(CustomerOutput(customer).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=CustomerUpdate, responses={200: CustomerOutput})
    def partial_update(self, request, pk=None):
        data = CustomerUpdate(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        customer = customer_update(customer=self.get_object(), **_customer_fields(data.validated_data))
        return Response(CustomerOutput(customer).data)


class BillingEntityViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """Who bills: the sellers on invoices, each numbering its own (`<prefix>-<year>-000001`)."""

    queryset = BillingEntity.objects.all()
    serializer_class = BillingEntityOutput
    ordering_fields = ["name", "created_at"]
    scope_resource = "billing_entities"
    permission_model = "customers.billingentity"

    def get_queryset(self):
        return billing_entity_list()

    def get_object(self):
        entity = get_by_id_or_key(billing_entity_list(), self.kwargs["pk"], "name", label="Billing entity")
        self.check_object_permissions(self.request, entity)
        return entity

    def retrieve(self, request, pk=None):
        return Response(BillingEntityOutput(self.get_object()).data)

    @extend_schema(request=BillingEntityInput, responses={201: BillingEntityOutput})
    def create(self, request):
        data = BillingEntityInput(data=request.data)
        data.is_valid(raise_exception=True)
        entity = billing_entity_create(data=dict(data.validated_data))
        return Response(BillingEntityOutput(entity).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=BillingEntityInput, responses={200: BillingEntityOutput})
    def partial_update(self, request, pk=None):
        data = BillingEntityInput(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        entity = billing_entity_update(entity=self.get_object(), data=dict(data.validated_data))
        return Response(BillingEntityOutput(entity).data)


class SubscriptionViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    queryset = Subscription.objects.all()
    serializer_class = SubscriptionOutput
    filterset_class = SubscriptionFilterSet
    ordering_fields = ["created_at", "current_period_end", "start_date"]
    scope_resource = "subscriptions"
    permission_model = "customers.subscription"
    action_permissions = {"cancel": perms.CANCEL_SUBSCRIPTION}

    @extend_schema(request=SubscriptionInput, responses={201: SubscriptionOutput, 404: ErrorResponse})
    def create(self, request):
        data = SubscriptionInput(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        customer = get_by_id_or_key(
            Customer.objects.all(), fields.pop("customer_id"), "external_id", label="Customer", field="customer_id"
        )
        plan = get_by_id_or_key(Plan.objects.all(), fields.pop("plan_id"), "lookup_id", label="Plan", field="plan_id")
        subscription = subscription_create(customer=customer, plan=plan, now=timezone.now(), **fields)
        return Response(SubscriptionOutput(subscription).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=SubscriptionCancelInput, responses={200: SubscriptionOutput})
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        data = SubscriptionCancelInput(data=request.data or {})
        data.is_valid(raise_exception=True)
        subscription = subscription_cancel(
            subscription=self.get_object(), now=timezone.now(), at_period_end=data.validated_data["at_period_end"]
        )
        return Response(SubscriptionOutput(subscription).data)
