from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from customers.urls import urlpatterns as customer_pages
from fluxbill.core.health import healthz, readyz
from invoicing.account_urls import urlpatterns as account_pages

admin.site.site_header = "Fluxbill administration"
admin.site.site_title = "Fluxbill"

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
    path("admin/", admin.site.urls),
    path("api/v1/", include("fluxbill.api_router")),
    path("", include("fluxbill.core.urls")),
    path("", include("desk.urls")),
    path("", include("metering.urls")),
    path("", include("catalog.urls")),
    # The customer and subscription pages show invoices and estimates, so invoicing serves them, under
    # the customers: names they have always had.
    path("", include((customer_pages + account_pages, "customers"))),
    path("", include("invoicing.urls")),
    path("", include("apikeys.urls")),
    path("", include("webhooks.urls")),
]

handler404 = "fluxbill.core.views.not_found"

if settings.FLUXBILL_BENCH_PLAIN_VIEW:
    from fluxbill.core.views import bench_plain

    urlpatterns.append(path("bench/plain", bench_plain, name="bench-plain"))
