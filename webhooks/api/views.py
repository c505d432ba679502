"""The webhook API: endpoints (the secret shown once), their deliveries, resend, replay and a test event."""

from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from fluxbill.core import permissions as perms
from fluxbill.core.actors import Actor
from webhooks.models import WebhookDelivery, WebhookEndpoint
from webhooks.services import (
    delivery_resend,
    endpoint_create,
    endpoint_replay,
    endpoint_rotate_secret,
    endpoint_test,
    endpoint_update,
)

from .serializers import (
    WebhookDeliveryDetailOutput,
    WebhookDeliveryOutput,
    WebhookEndpointCreatedOutput,
    WebhookEndpointInput,
    WebhookEndpointOutput,
    WebhookReplayInput,
)

class WebhookEndpointViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin,
                             viewsets.GenericViewSet):
    queryset = WebhookEndpoint.objects.all()
    serializer_class = WebhookEndpointOutput
    ordering_fields = ["created_at", "url"]
    ordering = ["created_at"]
    scope_resource = "webhooks"
    permission_model = "webhooks.webhookendpoint"
    action_permissions = {
        "rotate_secret": perms.CHANGE_WEBHOOK_ENDPOINT,
        "send_test": perms.MANAGE_WEBHOOKS,
        "replay": perms.MANAGE_WEBHOOKS,
        "deliveries": perms.VIEW_WEBHOOK_ENDPOINT,
    }

    @extend_schema(request=WebhookEndpointInput, responses={201: WebhookEndpointCreatedOutput})
    def create(self, request):
        data = WebhookEndpointInput(data=request.data)
        data.is_valid(raise_exception=True)
        endpoint = endpoint_create(actor=Actor.from_request(request), **data.validated_data)
        return Response(WebhookEndpointCreatedOutput(endpoint).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=WebhookEndpointInput, responses={200: WebhookEndpointOutput})
    def partial_update(self, request, pk=None):
        data = WebhookEndpointInput(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        endpoint = endpoint_update(endpoint=self.get_object(), data=dict(data.validated_data))
        return Response(WebhookEndpointOutput(endpoint).data)

    @extend_schema(request=None, responses={200: WebhookEndpointCreatedOutput})
    @action(detail=True, methods=["post"], url_path="rotate-secret")
    def rotate_secret(self, request, pk=None):
        endpoint = endpoint_rotate_secret(endpoint=self.get_object(), now=timezone.now())
        return Response(WebhookEndpointCreatedOutput(endpoint).data)

    @extend_schema(request=None, responses={202: None})
    @action(detail=True, methods=["post"], url_path="test")
    def send_test(self, request, pk=None):
        endpoint_test(endpoint=self.get_object(), now=timezone.now())
        return Response({"queued": 1}, status=status.HTTP_202_ACCEPTED)

    @extend_schema(request=WebhookReplayInput, responses={202: None})
    @action(detail=True, methods=["post"])
    def replay(self, request, pk=None):
        data = WebhookReplayInput(data=request.data)
        data.is_valid(raise_exception=True)
        count = endpoint_replay(endpoint=self.get_object(), since=data.validated_data["since"], now=timezone.now())
        return Response({"queued": count}, status=status.HTTP_202_ACCEPTED)

    @extend_schema(responses={200: WebhookDeliveryOutput(many=True)})
    @action(detail=True, methods=["get"])
    def deliveries(self, request, pk=None):
        endpoint = self.get_object()
        rows = WebhookDelivery.objects.filter(endpoint=endpoint).select_related("event").order_by("-id")
        wanted = request.query_params.get("status")
        if wanted:
            rows = rows.filter(status=wanted)
        page = self.paginate_queryset(rows)
        return self.get_paginated_response(WebhookDeliveryOutput(page, many=True).data)


class WebhookDeliveryViewSet(mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    queryset = WebhookDelivery.objects.select_related("event").prefetch_related("attempt_log")
    serializer_class = WebhookDeliveryDetailOutput
    scope_resource = "webhooks"
    permission_model = "webhooks.webhookendpoint"
    action_permissions = {"retrieve": perms.VIEW_WEBHOOK_ENDPOINT, "resend": perms.MANAGE_WEBHOOKS}

    @extend_schema(request=None, responses={202: WebhookDeliveryOutput})
    @action(detail=True, methods=["post"])
    def resend(self, request, pk=None):
        delivery = delivery_resend(delivery=self.get_object(), now=timezone.now())
        return Response(WebhookDeliveryOutput(delivery).data, status=status.HTTP_202_ACCEPTED)
