"""Dashboard pages: meters (shown as "Features") and the event debugger."""

from django.urls import path

from . import views

app_name = "metering"

urlpatterns = [
    path("meters/", views.meter_list, name="meter-list"),
    path("meters/new/", views.meter_create, name="meter-create"),
    path("meters/<uuid:pk>/", views.meter_detail, name="meter-detail"),
    path("meters/<uuid:pk>/edit/", views.meter_edit, name="meter-edit"),
    path("meters/<uuid:pk>/archive/", views.meter_archive, name="meter-archive"),
    path("events/", views.event_debugger, name="event-debugger"),
    path("events/send/", views.event_send, name="event-send"),
    path("events/export.csv", views.event_export, name="event-export"),
]
