"""Dashboard pages for API keys."""

from django.urls import path

from . import views

app_name = "apikeys"

urlpatterns = [
    path("api-keys/", views.key_list, name="key-list"),
    path("api-keys/new/", views.key_create, name="key-create"),
    path("api-keys/<uuid:pk>/created/", views.key_created, name="key-created"),
    path("api-keys/<uuid:pk>/revoke/", views.key_revoke, name="key-revoke"),
]
