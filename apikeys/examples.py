"""A first request a new key may make: shown on the key-created page, chosen from the key's scopes."""

from __future__ import annotations

import json
from dataclasses import dataclass

from .scopes import ALL, USAGE_READ, USAGE_WRITE

# The API path of each resource a `<resource>.read/write` scope covers.
RESOURCE_PATHS = {
    "features": "/api/v1/features",
    "plans": "/api/v1/plans",
    "tax_rates": "/api/v1/tax-rates",
    "customers": "/api/v1/customers",
    "billing_entities": "/api/v1/billing-entities",
    "subscriptions": "/api/v1/subscriptions",
    "invoices": "/api/v1/invoices",
    "credit_notes": "/api/v1/credit-notes",
    "payments": "/api/v1/payments",
    "webhooks": "/api/v1/webhook-endpoints",
    "api_keys": "/api/v1/api-keys",
}

# What to create with a write scope when the key cannot read the resource (with read, a list is the
# friendlier first request). Invoices are not created: a write acts on one, named by its id.
WRITE_EXAMPLES = {
    "features": ("POST", "/api/v1/features", {"name": "API Calls", "type": "meter", "meter_name": "api.calls",
                                               "aggregation_type": "COUNT"}),
    "plans": ("POST", "/api/v1/plans", {"name": "Starter", "type": "USAGE", "billing_interval": "month",
                                        "currency": "USD"}),
    "tax_rates": ("POST", "/api/v1/tax-rates", {"code": "VAT_DE", "name": "VAT 19%", "rate": "19"}),
    "customers": ("POST", "/api/v1/customers", {"name": "Acme Corp", "external_id": "acme-corp-001"}),
    "billing_entities": ("POST", "/api/v1/billing-entities", {"name": "EU", "legal_name": "Acme Europe GmbH",
                                                              "invoice_prefix": "EU"}),
    "subscriptions": ("POST", "/api/v1/subscriptions", {"customer_id": "acme-corp-001", "plan_id": "<plan id>"}),
    "invoices": ("POST", "/api/v1/invoices/<invoice id>/finalize", None),
    "credit_notes": ("POST", "/api/v1/credit-notes", {"invoice_id": "<invoice id>", "reason": "order_change",
                                                      "items": [{"invoice_line_id": 1}]}),
    "payments": ("POST", "/api/v1/invoices/<invoice id>/payments", {"amount": "100.00", "method": "transfer"}),
    "webhooks": ("POST", "/api/v1/webhook-endpoints", {"url": "https://hooks.example.com/fluxbill", "event_types": []}),
    "api_keys": ("POST", "/api/v1/api-keys", {"name": "CI key", "scopes": ["usage.read"]}),
}

EVENT_BODY = {"event_name": "api.calls", "external_customer_id": "cust_123", "properties": {"value": 1}}


@dataclass(frozen=True)
class ExampleRequest:
    method: str
    path: str
    body: dict | None = None

    @property
    def body_json(self) -> str:
        return json.dumps(self.body) if self.body is not None else ""


def example_request(scopes: list[str]) -> ExampleRequest:
    """Sending an event when the key may (its usual job); else reading what it may read; else a write it may make."""
    held = set(scopes)
    if ALL in held or USAGE_WRITE in held:
        return ExampleRequest("POST", "/api/v1/events", EVENT_BODY)
    if USAGE_READ in held:
        return ExampleRequest("GET", "/api/v1/events")
    for resource, path in RESOURCE_PATHS.items():
        if f"{resource}.read" in held:
            return ExampleRequest("GET", path)
    for resource, (method, path, body) in WRITE_EXAMPLES.items():
        if f"{resource}.write" in held:
            return ExampleRequest(method, path, body)
    return ExampleRequest("GET", "/api/v1/events")  # a key holds at least one scope; kept total anyway
