"""The OpenAPI schema's shared conventions (fluxbill.core.schema): error bodies and decimals."""

import pytest
from django.core.management import call_command
from drf_spectacular.generators import SchemaGenerator

ERROR = {"$ref": "#/components/schemas/ErrorResponse"}


@pytest.fixture(scope="module")
def schema():
    return SchemaGenerator().get_schema(request=None, public=True)


def _operations(schema):
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            yield path, method.upper(), operation


def _error_schema(operation, status):
    return operation["responses"][status]["content"]["application/json"]["schema"]


def test_error_response_component_is_the_api_error_body(schema):
    component = schema["components"]["schemas"]["ErrorResponse"]

    assert set(component["required"]) == {"error", "field"}
    assert component["properties"]["field"]["nullable"] is True


def test_every_protected_operation_documents_401_and_403(schema):
    for path, method, operation in _operations(schema):
        if path.startswith("/api/v1/auth/"):
            assert _error_schema(operation, "401") == ERROR, (method, path)
            continue
        for status in ("401", "403"):
            assert _error_schema(operation, status) == ERROR, (method, path, status)


def test_operations_with_a_body_document_400_413_and_415(schema):
    with_body = [(path, method, op) for path, method, op in _operations(schema) if "requestBody" in op]

    assert len(with_body) > 10
    for path, method, operation in with_body:
        assert {"400", "413", "415"} <= set(operation["responses"]), (method, path)


def test_operations_on_one_object_document_404(schema):
    for path, method, operation in _operations(schema):
        if "{" in path:
            assert _error_schema(operation, "404") == ERROR, (method, path)


def test_rate_limited_ingestion_documents_429_and_unknown_targets_404(schema):
    for path in ("/api/v1/sdk/track", "/api/v1/usage", "/api/v1/events", "/api/v1/events/bulk"):
        responses = schema["paths"][path]["post"]["responses"]
        assert "429" in responses, path
    # Fluxrate's page lists 404 for an unknown meter or customer; Flexprice's lists 202/400/401/429 only.
    for path in ("/api/v1/sdk/track", "/api/v1/usage"):
        assert _error_schema(schema["paths"][path]["post"], "404") == ERROR, path
    events = schema["paths"]["/api/v1/events"]["post"]["responses"]
    assert "404" not in events and {"202", "400", "401", "429"} <= set(events)


def test_bulk_rejection_is_an_error_body_with_counts(schema):
    rejected = _error_schema(schema["paths"]["/api/v1/events/bulk"]["post"], "400")
    component = schema["components"]["schemas"][rejected["$ref"].rsplit("/", 1)[1]]

    assert set(component["required"]) == {"error", "field"}
    assert {"accepted", "duplicates", "rejected", "errors"} <= set(component["properties"])


def test_pdf_errors_are_json(schema):
    responses = schema["paths"]["/api/v1/invoices/{id}/pdf/"]["get"]["responses"]

    assert list(responses["200"]["content"]) == ["application/pdf"]
    assert list(responses["404"]["content"]) == ["application/json"]


def test_decimals_in_responses_allow_every_precision_the_columns_hold(schema):
    # unit_price has 12 decimal places; the pattern derived from the field's defaults allowed 10.
    unit_price = schema["components"]["schemas"]["ChargeOutput"]["properties"]["unit_price"]

    assert unit_price["type"] == "string"
    assert unit_price["pattern"] == r"^-?\d+(\.\d+)?$"


def test_customer_email_may_be_empty(schema):
    email = schema["components"]["schemas"]["CustomerOutput"]["properties"]["email"]

    assert email["type"] == "string"
    assert "format" not in email


def test_schema_generates_valid_and_without_warnings(tmp_path):
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml"))
