from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apikeys.models import ApiKey
from apikeys.scopes import SCOPES
from fluxbill.core.fields import InputSerializer


@extend_schema_field({"type": "string", "enum": list(SCOPES)})
class ScopeName(serializers.CharField):
    """Checked by the service, whose error lists the allowed names; the schema lists them too."""


class ApiKeyInput(InputSerializer):
    name = serializers.CharField(max_length=200)
    scopes = serializers.ListField(child=ScopeName(max_length=40), min_length=1, max_length=len(SCOPES))
    expires_at = serializers.DateTimeField(required=False, allow_null=True)


class ApiKeyOutput(serializers.ModelSerializer):
    created_by = serializers.SerializerMethodField()
    parent_id = serializers.UUIDField(read_only=True, allow_null=True, help_text="The key that minted this one, if any.")

    class Meta:
        model = ApiKey
        fields = [
            "id", "name", "prefix", "scopes", "created_by", "parent_id", "last_used_at", "expires_at", "revoked_at",
            "created_at",
        ]
        read_only_fields = fields

    def get_created_by(self, obj) -> str | None:
        return obj.created_by.get_username() if obj.created_by_id else None


class ApiKeyCreatedOutput(ApiKeyOutput):
    key = serializers.SerializerMethodField(help_text="The full key. Shown in this response only.")

    class Meta(ApiKeyOutput.Meta):
        fields = ["key", *ApiKeyOutput.Meta.fields]
        read_only_fields = fields

    def get_key(self, obj) -> str:
        return self.context["raw_key"]


class LoginInput(InputSerializer):
    username = serializers.CharField(required=False)
    email = serializers.EmailField(required=False)
    password = serializers.CharField(trim_whitespace=False)

    def validate(self, attrs):
        if not attrs.get("username") and not attrs.get("email"):
            raise serializers.ValidationError({"email": ["Provide email or username"]})
        return attrs


class RefreshInput(InputSerializer):
    refresh = serializers.CharField(required=False)
