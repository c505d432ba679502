"""Dashboard pages (placeholder routes until the pages land)."""

from django.urls import path

from fluxbill.core.views import overview

app_name = "metering"

urlpatterns = [
    path("meters/", overview, name="meter-list"),
    path("events/", overview, name="event-debugger"),
]
