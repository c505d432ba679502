"""Dashboard pages: Settings → Webhooks."""

from django.urls import path

from . import views

app_name = "webhooks"

urlpatterns = [
    path("settings/webhooks/", views.endpoint_list, name="endpoint-list"),
    path("settings/webhooks/export.csv", views.endpoint_export, name="endpoint-export"),
    path("settings/webhooks/new/", views.endpoint_create_view, name="endpoint-create"),
    path("settings/webhooks/<uuid:pk>/", views.endpoint_detail, name="endpoint-detail"),
    path("settings/webhooks/<uuid:pk>/rotate-secret/", views.endpoint_rotate_view, name="endpoint-rotate"),
    path("settings/webhooks/<uuid:pk>/test/", views.endpoint_test_view, name="endpoint-test"),
    path("settings/webhooks/<uuid:pk>/replay/", views.endpoint_replay_view, name="endpoint-replay"),
    path("settings/webhooks/deliveries/<int:pk>/resend/", views.delivery_resend_view, name="delivery-resend"),
]
