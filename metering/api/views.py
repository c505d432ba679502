from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.response import Response

from metering.filters import MeterFilterSet
from metering.services import meter_archive, meter_create, meter_update
from metering.models import Meter

from .serializers import FeatureInput, FeatureOutput, FeatureUpdate


class FeatureViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin, viewsets.GenericViewSet
):
    """Metered features. Creating one creates its meter; deleting archives it (events are kept)."""

    queryset = Meter.objects.all()
    serializer_class = FeatureOutput
    filterset_class = MeterFilterSet
    ordering_fields = ["name", "created_at", "lookup_key"]
    scope_resource = "features"
    permission_model = "metering.meter"

    @extend_schema(request=FeatureInput, responses={201: FeatureOutput})
    def create(self, request):
        data = FeatureInput(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        fields.pop("type")
        fields["event_name"] = fields.pop("meter_name")
        meter = meter_create(**fields)
        return Response(FeatureOutput(meter).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=FeatureUpdate, responses={200: FeatureOutput})
    def partial_update(self, request, pk=None):
        data = FeatureUpdate(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        meter = meter_update(meter=self.get_object(), **data.validated_data)
        return Response(FeatureOutput(meter).data)

    def perform_destroy(self, instance):
        meter_archive(meter=instance)
