from django.apps import AppConfig


class CustomersConfig(AppConfig):
    name = "customers"
    verbose_name = "Customers and subscriptions"

    def ready(self):
        from django.db.models.signals import post_migrate

        from metering import lookups

        from . import selectors, services

        # There is always a default billing entity: the migration creates it, and this puts it back after a
        # database flush (tests that run in transactions flush every table, then send post_migrate).
        post_migrate.connect(services.billing_entity_default_ensure, sender=self, dispatch_uid="fluxbill-default-entity")

        # Metering sits below customers: it finds (and for /sdk/track creates) customers through these.
        lookups.customer_source_set(
            source=lookups.CustomerSource(
                ids_ensure=services.customer_ids_ensure,
                ids_by_external_id=selectors.customer_ids_by_external_id,
                id_by_pk=selectors.customer_id_by_pk,
            )
        )

        # What customers and subscriptions look like in webhook events: what the API returns for them.
        from webhooks.registry import shape_register

        from .api.serializers import CustomerOutput, SubscriptionOutput

        shape_register("customer", lambda customer: CustomerOutput(customer).data)
        shape_register("subscription", lambda subscription: SubscriptionOutput(subscription).data)
