"""OpenAPI schema conventions every operation shares: the error body and when each 4xx can happen.

`AutoSchema` (REST_FRAMEWORK["DEFAULT_SCHEMA_CLASS"]) adds the error responses an operation can
really give, all described by one `ErrorResponse` component, so a client generated from the
schema knows every answer it may get, and the schema fuzzer (tests/test_schema_fuzz.py) holds
the API to it.
"""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.plumbing import force_instance
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers
from rest_framework.permissions import AllowAny

from .fields import StrictFieldsMixin


class ErrorResponse(serializers.Serializer):
    """Every 4xx body: what was wrong and where (fluxbill.core.errors)."""

    error = serializers.CharField(help_text="What was wrong, for people.")
    field = serializers.CharField(allow_null=True, help_text="The field at fault (dotted path), or null.")
    errors = serializers.JSONField(
        required=False, help_text="Validation errors only: every field's messages, keyed like the request body."
    )


# Why each status can happen; an operation gets the ones that apply to it (see _error_statuses).
ERROR_DESCRIPTIONS = {
    "400": "The request is invalid: a field, a query parameter or the JSON itself.",
    "401": "No credentials, or an unknown, revoked or expired API key.",
    "403": "The API key lacks the scope this operation needs, or the user is not staff.",
    "404": "Nothing with this id, or a page or cursor that does not exist.",
    "409": "The object's state or a uniqueness rule refuses the change.",
    "413": "The request body is too large.",
    "415": "The request body is not JSON.",
    "429": "Too many requests for this API key; retry after the Retry-After header's seconds.",
}

_UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}


class AutoSchema(SpectacularAutoSchema):
    def _error_statuses(self) -> list[str]:
        view = self.view
        public = all(isinstance(p, AllowAny) for p in view.get_permissions())
        has_body = bool(self._get_request_body())
        has_query = any(p.get("in") == "query" for p in self._get_parameters())
        has_path_params = "{" in self.path
        paginated = self._is_list_view() and self._get_paginator() is not None and self.method == "GET"

        statuses = []
        if has_body or has_query:
            statuses.append("400")
        if not public:
            statuses += ["401", "403"]
        if has_path_params or paginated:
            statuses.append("404")
        if self.method in _UNSAFE and not public and getattr(view, "throttle_scope", None) is None:
            statuses.append("409")
        if has_body:
            statuses += ["413", "415"]
        if self.method == "POST" and getattr(view, "throttle_scope", None):
            statuses.append("429")
        return statuses

    def _map_basic_serializer(self, serializer, direction):
        schema = super()._map_basic_serializer(serializer, direction)
        # Request bodies refuse keys they do not know (StrictFieldsMixin): say so.
        if direction == "request" and isinstance(force_instance(serializer), StrictFieldsMixin):
            schema["additionalProperties"] = False
        return schema

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        for status in self._error_statuses():
            if status not in responses:
                # The exception handler answers errors in JSON whatever the view renders on success (PDF).
                responses[status] = self._get_response_for_code(
                    OpenApiResponse(ErrorResponse, description=ERROR_DESCRIPTIONS[status]),
                    status,
                    media_types=["application/json"],
                    direction=direction,
                )
        return dict(sorted(responses.items()))


class DecimalStringExtension(OpenApiSerializerFieldExtension):
    """In responses a decimal is a plain decimal string of any precision the column holds
    ('150', '0.000000000001'); the request-side pattern derived from max_digits does not apply."""

    target_class = "fluxbill.core.fields.DecimalString"

    def map_serializer_field(self, auto_schema, direction):
        schema = auto_schema._map_serializer_field(self.target, direction, bypass_extensions=True)
        if direction == "response":
            schema["pattern"] = r"^-?\d+(\.\d+)?$"
        return schema
