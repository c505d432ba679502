from django.apps import AppConfig


class CustomersConfig(AppConfig):
    name = "customers"
    verbose_name = "Customers and subscriptions"

    def ready(self):
        from metering import lookups

        from . import selectors, services

        # Metering sits below customers: it finds (and for /sdk/track creates) customers through these.
        lookups.customer_source_set(
            source=lookups.CustomerSource(
                ids_ensure=services.customer_ids_ensure,
                ids_by_external_id=selectors.customer_ids_by_external_id,
                id_by_pk=selectors.customer_id_by_pk,
            )
        )
