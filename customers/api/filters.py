import django_filters
from django.db.models import Q

from customers.models import Customer, Subscription


class CustomerFilter(django_filters.FilterSet):
    external_id = django_filters.CharFilter()
    email = django_filters.CharFilter(lookup_expr="iexact")
    search = django_filters.CharFilter(method="filter_search")

    class Meta:
        model = Customer
        fields = ["external_id", "email"]

    def filter_search(self, queryset, name, value):
        return queryset.filter(
            Q(name__icontains=value) | Q(email__icontains=value) | Q(external_id__icontains=value)
        )


class SubscriptionFilter(django_filters.FilterSet):
    customer = django_filters.UUIDFilter(field_name="customer_id")
    plan = django_filters.UUIDFilter(field_name="plan_id")
    status = django_filters.CharFilter()

    class Meta:
        model = Subscription
        fields = ["customer", "plan", "status"]
