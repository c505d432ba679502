from django.contrib import admin
from django.urls import include, path

admin.site.site_header = "Fluxbill administration"
admin.site.site_title = "Fluxbill"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", include("fluxbill.api_router")),
]
