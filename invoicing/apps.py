from django.apps import AppConfig
from django.db.models.signals import post_migrate


class InvoicingConfig(AppConfig):
    name = "invoicing"
    verbose_name = "Invoicing"

    def ready(self):
        from invoicing.events import invoice_finalized, invoice_voided
        from invoicing.receivers import invoice_email_enqueue, void_notice_enqueue
        from invoicing.schedules import schedules_after_migrate

        invoice_finalized.connect(invoice_email_enqueue, dispatch_uid="invoicing.invoice_email_enqueue")
        invoice_voided.connect(void_notice_enqueue, dispatch_uid="invoicing.void_notice_enqueue")

        post_migrate.connect(schedules_after_migrate, sender=self, dispatch_uid="invoicing.schedules_after_migrate")
