from django import forms
from django.contrib import admin
from django.db.models.constants import LOOKUP_SEP
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers

from fluxbill.core import permissions as perms
from fluxbill.core.admin import CheckedAdmin, HistoryAdmin
from fluxbill.core.errors import DomainError, InvalidTransition
from fluxbill.core.permissions import may

from .models import ApiKey
from .services import api_key_create, api_key_revoke, validate_scopes


class ApiKeyForm(forms.ModelForm):
    class Meta:
        model = ApiKey
        fields = ["name", "scopes", "expires_at"]

    def clean_scopes(self):
        try:
            return validate_scopes(self.cleaned_data.get("scopes"))
        except DomainError as exc:
            raise forms.ValidationError(exc.message) from exc


@admin.register(ApiKey)
class ApiKeyAdmin(HistoryAdmin, CheckedAdmin):
    form = ApiKeyForm
    list_display = ["name", "prefix", "scopes", "last_used_at", "expires_at", "revoked_at", "created_by", "created_at"]
    list_filter = ["revoked_at", "expires_at"]
    search_fields = ["name", "prefix"]
    list_select_related = ["created_by"]
    fields = ["name", "scopes", "expires_at", "prefix", "last_used_at", "revoked_at", "created_by", "created_at"]
    readonly_fields = ["prefix", "last_used_at", "revoked_at", "created_by", "created_at"]
    actions = ["revoke_selected"]

    def lookup_allowed(self, lookup, value, request=None):
        # Admin lets the URL filter on any local field: `?key_hash__startswith=ab` would reveal the stored
        # hashes a character at a time. Refused, Django answers 400 (DisallowedModelAdminLookup).
        if lookup.split(LOOKUP_SEP, 1)[0] == "key_hash":
            return False
        return super().lookup_allowed(lookup, value, request)

    def get_readonly_fields(self, request, obj=None):
        # A key's scopes are what it was handed out with; change them by issuing a new key.
        if obj is not None:
            return [*self.readonly_fields, "name", "scopes", "expires_at"]
        return self.readonly_fields

    def save_model(self, request, obj, form, change):
        if change:
            return
        key, raw_key = api_key_create(
            name=obj.name, scopes=obj.scopes, expires_at=obj.expires_at, created_by=request.user, now=timezone.now()
        )
        obj.pk = key.pk
        obj.refresh_from_db()
        # The full key lives only in this request: response_add puts it in the answer, not in a message
        # (which the messages framework keeps in a cookie or the session until it is shown).
        request.fluxbill_new_api_key = raw_key

    def response_add(self, request, obj, post_url_continue=None):
        raw_key = getattr(request, "fluxbill_new_api_key", None)
        if raw_key is None:
            return super().response_add(request, obj, post_url_continue)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": f"API key “{obj.name}” created",
            "key": obj,
            "raw_key": raw_key,
        }
        response = TemplateResponse(request, "admin/apikeys/apikey/created.html", context)
        add_never_cache_headers(response)
        return response

    @admin.action(description="Revoke selected API keys", permissions=["manage"])
    def revoke_selected(self, request, queryset):
        now = timezone.now()
        revoked = 0
        for key in queryset.filter(revoked_at__isnull=True):
            try:
                api_key_revoke(key=key, now=now)
            except InvalidTransition:  # minted by a key revoked earlier in this loop: already revoked with it
                continue
            revoked += 1
        self.message_user(request, f"Revoked {revoked} key(s).")

    def has_delete_permission(self, request, obj=None):
        return False  # revoke instead: the row says who used the key and when

    # Creating and revoking keys is one operation permission; the key's fields never change after.
    def has_add_permission(self, request):
        return may(request.user, perms.MANAGE_API_KEYS)

    def has_change_permission(self, request, obj=None):
        return obj is None and may(request.user, perms.MANAGE_API_KEYS)

    def has_manage_permission(self, request):
        return may(request.user, perms.MANAGE_API_KEYS)
