import django_filters

from fluxbill.core.filters import UTCDateTimeFilter
from metering.models import UsageEvent


class UsageEventFilter(django_filters.FilterSet):
    meter = django_filters.UUIDFilter(field_name="meter_id")
    event_name = django_filters.CharFilter(field_name="meter__event_name")
    customer = django_filters.UUIDFilter(field_name="customer_id")
    external_customer_id = django_filters.CharFilter(field_name="customer__external_id")
    source = django_filters.CharFilter()
    event_id = django_filters.CharFilter(field_name="idempotency_key")
    start_time = UTCDateTimeFilter(field_name="timestamp", lookup_expr="gte")
    end_time = UTCDateTimeFilter(field_name="timestamp", lookup_expr="lt")

    class Meta:
        model = UsageEvent
        fields = ["meter", "customer", "source"]
