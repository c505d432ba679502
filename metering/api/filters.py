import django_filters

from metering.models import Meter


class FeatureFilter(django_filters.FilterSet):
    lookup_key = django_filters.CharFilter()
    meter_name = django_filters.CharFilter(field_name="event_name")
    active = django_filters.BooleanFilter()
    aggregation_type = django_filters.CharFilter()
    search = django_filters.CharFilter(field_name="name", lookup_expr="icontains")

    class Meta:
        model = Meter
        fields = ["lookup_key", "meter_name", "active", "aggregation_type"]
