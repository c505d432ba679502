from django.apps import AppConfig
from django.db.models.signals import post_migrate


class InvoicingConfig(AppConfig):
    name = "invoicing"
    verbose_name = "Invoicing"

    def ready(self):
        from invoicing.events import credit_note_issued, invoice_finalized, invoice_voided
        from invoicing.receivers import credit_note_email_enqueue, invoice_email_enqueue, void_notice_enqueue
        from invoicing.schedules import schedules_after_migrate

        invoice_finalized.connect(invoice_email_enqueue, dispatch_uid="invoicing.invoice_email_enqueue")
        invoice_voided.connect(void_notice_enqueue, dispatch_uid="invoicing.void_notice_enqueue")
        credit_note_issued.connect(credit_note_email_enqueue, dispatch_uid="invoicing.credit_note_email_enqueue")

        post_migrate.connect(schedules_after_migrate, sender=self, dispatch_uid="invoicing.schedules_after_migrate")

        # What invoices and credit notes look like in webhook events: what the API returns for them.
        from invoicing.api.serializers import webhook_shapes
        from webhooks.registry import shape_register

        for kind, (shape, many) in webhook_shapes().items():
            shape_register(kind, shape, many)
