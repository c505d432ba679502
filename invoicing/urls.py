"""Dashboard pages: invoices, their CSV export, PDF and actions."""

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
    path("invoices/<uuid:pk>/regenerate/", views.invoice_regenerate_view, name="invoice-regenerate"),
    path("invoices/<uuid:pk>/resend/", views.invoice_resend_view, name="invoice-resend"),
    path("invoices/lines/<int:pk>/usage/", views.line_usage, name="line-usage"),
    path("usage/window/", views.window_usage, name="window-usage"),
]
