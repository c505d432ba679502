import django_filters

from catalog.models import Plan


class PlanFilter(django_filters.FilterSet):
    lookup_id = django_filters.CharFilter()
    currency = django_filters.CharFilter(lookup_expr="iexact")
    active = django_filters.BooleanFilter()
    search = django_filters.CharFilter(field_name="name", lookup_expr="icontains")

    class Meta:
        model = Plan
        fields = ["lookup_id", "type", "billing_interval", "currency", "active"]
