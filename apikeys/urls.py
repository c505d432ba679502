"""Dashboard pages (placeholder routes until the pages land)."""

from django.urls import path

from fluxbill.core.views import overview

app_name = "apikeys"

urlpatterns = [
    path("api-keys/", overview, name="key-list"),
]
