import uuid

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models

from fluxbill.core.history import tracked


@tracked(exclude=("key_hash", "last_used_at"))
class ApiKey(models.Model):
    """A secret a backend sends as `X-API-Key`. Only its SHA-256 is stored; the key is shown once.

    Keys carry 32+ random URL-safe characters (≥190 bits), so a fast hash is safe: there is
    nothing to brute-force, and lookups by hash stay an index probe on the ingestion hot path.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=200)
    prefix = models.CharField(max_length=32, help_text="The first characters of the key, to recognise it.")
    key_hash = models.CharField(max_length=64, unique=True)
    scopes = ArrayField(models.CharField(max_length=40), default=list)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True)
    # The key that minted this one through the API (none when staff created it). PROTECT: a tree whose
    # root was deleted could no longer be revoked with it; keys are revoked, not deleted.
    parent = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, editable=False, related_name="children"
    )
    last_used_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API key"
        permissions = [("manage_apikey", "Can create and revoke API keys")]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    def is_usable(self, now) -> bool:
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > now)
