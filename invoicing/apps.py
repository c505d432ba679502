from django.apps import AppConfig
from django.db.models.signals import post_migrate


class InvoicingConfig(AppConfig):
    name = "invoicing"
    verbose_name = "Invoicing"

    def ready(self):
        from invoicing.schedules import schedules_after_migrate

        post_migrate.connect(schedules_after_migrate, sender=self, dispatch_uid="invoicing.schedules_after_migrate")
