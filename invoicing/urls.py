"""Dashboard pages: invoices, their CSV export, PDF and actions; credit notes."""

from django.urls import path

from . import views

app_name = "invoicing"

urlpatterns = [
    path("invoices/", views.invoice_list, name="invoice-list"),
    path("invoices/export.csv", views.invoice_export, name="invoice-export"),
    path("invoices/export-lines.csv", views.invoice_lines_export, name="invoice-lines-export"),
    path("invoices/<uuid:pk>/", views.invoice_detail, name="invoice-detail"),
    path("invoices/<uuid:pk>/pdf/", views.invoice_pdf_download, name="invoice-pdf"),
    path("invoices/<uuid:pk>/finalize/", views.invoice_finalize_view, name="invoice-finalize"),
    path("invoices/<uuid:pk>/void/", views.invoice_void_view, name="invoice-void"),
    path("invoices/<uuid:pk>/mark-paid/", views.invoice_mark_paid_view, name="invoice-mark-paid"),
    path("invoices/<uuid:pk>/mark-uncollectible/", views.invoice_mark_uncollectible_view, name="invoice-mark-uncollectible"),
    path("invoices/<uuid:pk>/record-payment/", views.invoice_record_payment_view, name="invoice-record-payment"),
    path("payments/", views.payment_list, name="payment-list"),
    path("payments/export.csv", views.payment_export, name="payment-export"),
    path("payments/<uuid:pk>/reverse/", views.payment_reverse_view, name="payment-reverse"),
    path("invoices/<uuid:pk>/regenerate/", views.invoice_regenerate_view, name="invoice-regenerate"),
    path("invoices/<uuid:pk>/resend/", views.invoice_resend_view, name="invoice-resend"),
    path("invoices/<uuid:pk>/credit-notes/new/", views.credit_note_new, name="invoice-credit-note-new"),
    path("invoices/<uuid:pk>/credit-notes/preview/", views.credit_note_preview_view, name="invoice-credit-note-preview"),
    path("credit-notes/", views.credit_note_list, name="credit-note-list"),
    path("credit-notes/export.csv", views.credit_note_export, name="credit-note-export"),
    path("credit-notes/<uuid:pk>/", views.credit_note_detail, name="credit-note-detail"),
    path("credit-notes/<uuid:pk>/pdf/", views.credit_note_pdf_download, name="credit-note-pdf"),
    path("credit-notes/<uuid:pk>/void/", views.credit_note_void_view, name="credit-note-void"),
    path("credit-notes/<uuid:pk>/resend/", views.credit_note_resend_view, name="credit-note-resend"),
    path("invoices/lines/<int:pk>/usage/", views.line_usage, name="line-usage"),
    path("usage/window/", views.window_usage, name="window-usage"),
]
