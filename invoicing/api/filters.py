import django_filters

from fluxbill.core.filters import UTCDateTimeFilter
from invoicing.models import Invoice


class InvoiceFilter(django_filters.FilterSet):
    status = django_filters.CharFilter()
    kind = django_filters.CharFilter()
    customer = django_filters.UUIDFilter(field_name="customer_id")
    external_customer_id = django_filters.CharFilter(field_name="customer__external_id")
    subscription = django_filters.UUIDFilter(field_name="subscription_id")
    number = django_filters.CharFilter(lookup_expr="icontains")
    period_from = UTCDateTimeFilter(field_name="period_start", lookup_expr="gte")
    period_to = UTCDateTimeFilter(field_name="period_end", lookup_expr="lte")
    currency = django_filters.CharFilter(lookup_expr="iexact")

    class Meta:
        model = Invoice
        fields = ["status", "kind", "customer", "subscription", "number", "currency"]
