"""Schema fuzzing: Schemathesis drives every API operation from our own OpenAPI schema.

Each operation gets generated requests, valid and invalid, sent with an API key holding every
scope. Every answer must be a non-5xx that the schema describes: its status code, its content
type and its body. A failure here is a bug in the product (a 500, or a schema that says
something the API does not do), never a reason to loosen the checks.

So the requests reach more than 404s, the database holds a few real rows (`World`) and about
half of the generated ids and references are swapped for theirs.

The bounded run keeps CI within a few minutes; for a longer one:

    FLUXBILL_FUZZ_EXAMPLES=500 .venv/bin/pytest -q tests/test_schema_fuzz.py
"""

from __future__ import annotations

import os
import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.utils import timezone
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from apikeys.services import api_key_create
from catalog.choices import PricingModel
from catalog.taxes import tax_rate_create
from customers.services import subscription_create
from fluxbill.wsgi import application
from invoicing.services import Actor, invoice_finalize, subscription_generate_interim
from invoicing.services.credit_notes import credit_note_issue
from invoicing.services.payments import payment_record
from webhooks.models import WebhookDelivery
from webhooks.services import emit, endpoint_create
from tests.factories import (
    BillingEntityFactory,
    CustomerFactory,
    FixedChargeFactory,
    MeterFactory,
    PlanFactory,
    UsageChargeFactory,
    UsageEventFactory,
)

EXAMPLES = int(os.environ.get("FLUXBILL_FUZZ_EXAMPLES", "20"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]

schema = schemathesis.openapi.from_wsgi("/api/v1/schema/", application)


class World:
    """A few real rows of every kind, and which of their ids fit which path or body field."""

    def __init__(self):
        now = timezone.now()
        self.api_key, self.raw_key = api_key_create(name="schema fuzzer", scopes=["*"], now=now)
        spare_key, _ = api_key_create(name="spare", scopes=["usage.write"], now=now)
        tag = uuid.uuid4().hex[:8]  # unique keys even if the database holds rows from elsewhere
        count = MeterFactory(
            aggregation_type="COUNT", property_name="", lookup_key=f"count_{tag}", event_name=f"count.{tag}"
        )
        total = MeterFactory(lookup_key=f"total_{tag}", event_name=f"total.{tag}")
        plan = PlanFactory(lookup_id=f"plan_{tag}")
        FixedChargeFactory(plan=plan)
        UsageChargeFactory(plan=plan, meter=total)
        UsageChargeFactory(
            plan=plan,
            meter=count,
            pricing_model=PricingModel.GRADUATED,
            unit_price=None,
            tiers=[
                {"up_to": "10", "unit_price": "0", "flat_amount": "0"},
                {"up_to": None, "unit_price": "0.5", "flat_amount": "1"},
            ],
        )
        entity = BillingEntityFactory(name=f"EU {tag}", invoice_prefix=f"EU{tag}".upper()[:16])
        customers = [
            CustomerFactory(external_id=f"acme-{tag}", billing_entity=entity),
            CustomerFactory(external_id=f"mute-{tag}", email=""),
        ]
        subscriptions = [
            subscription_create(customer=customer, plan=plan, now=now, start_date=now - timedelta(days=3))
            for customer in customers
        ]
        events = [
            UsageEventFactory(meter=meter, customer=customers[0], quantity=Decimal("2.5"), properties={"value": 2.5})
            for meter in (count, total)
        ]
        actor = Actor.task("fuzz")
        draft = subscription_generate_interim(subscription=subscriptions[0], now=now, actor=actor)
        issued = subscription_generate_interim(subscription=subscriptions[1], now=now, actor=actor)
        issued = invoice_finalize(invoice=issued, now=now, actor=actor)

        line = issued.lines.order_by("id").first()
        note = credit_note_issue(invoice=issued, reason="other", items=[{"invoice_line_id": line.pk, "amount": "0.01"}],
                                 now=now, actor=actor)
        payment = payment_record(invoice=issued, amount="0.01", method="transfer", now=now, actor=actor)
        vat = tax_rate_create(code=f"VAT-{tag}", name="VAT 19%", rate="19")
        hook = endpoint_create(url="https://hooks.example.com/fluxbill", actor=actor)
        emit("billing.error", data={"fuzz": True})
        delivery = WebhookDelivery.objects.filter(endpoint=hook).first()
        ids = lambda rows: [str(row.pk) for row in rows]  # noqa: E731
        self.paths = {
            "/api/v1/tax-rates/": ids([vat]),
            "/api/v1/api-keys/": ids([spare_key]),  # not the fuzzer's own: revoking it would end the run
            "/api/v1/billing-entities/": ids([entity]) + [entity.name],
            "/api/v1/customers/": ids(customers) + [c.external_id for c in customers],
            "/api/v1/events/": ids(events),
            "/api/v1/features/": ids([count, total]),
            "/api/v1/invoices/": ids([draft, issued]),
            "/api/v1/credit-notes/": ids([note]),
            "/api/v1/payments/": ids([payment]),
            "/api/v1/meters/": ids([count, total]) + [count.lookup_key],
            "/api/v1/plans/": ids([plan]),
            "/api/v1/subscriptions/": ids(subscriptions),
            "/api/v1/webhook-endpoints/": ids([hook]),
            "/api/v1/webhook-deliveries/": ids([delivery]),
        }
        self.fields = {
            "customer_id": ids(customers) + [c.external_id for c in customers],
            "billing_entity_id": ids([entity]) + [entity.name],
            "plan_id": ids([plan]) + [plan.lookup_id],
            "meter_id": ids([count, total]),
            "meter_token": [str(count.token), str(total.token)],
            "event_name": [count.event_name, total.event_name],
            "external_customer_id": [c.external_id for c in customers],
            "customer_external_id": [c.external_id for c in customers],
            "customer": ids(customers),
            "meter": ids([count, total]),
            "invoice_id": ids([draft, issued]),
            "invoice": ids([draft, issued]),
        }

    def aim(self, case, data) -> None:
        """Swap, on hypothesis' say, generated ids and references for real ones."""
        path_id = (case.path_parameters or {}).get("id")
        if path_id is not None and data.draw(st.booleans(), label="real path id"):
            prefix = next(p for p in self.paths if case.path.startswith(p))
            case.path_parameters["id"] = data.draw(st.sampled_from(self.paths[prefix]), label="id")
        targets = [case.body, case.query]
        if isinstance(case.body, dict) and isinstance(case.body.get("events"), list):
            targets += case.body["events"]  # /events/bulk
        for target in targets:
            if not isinstance(target, dict):
                continue
            for name in sorted(set(target) & set(self.fields)):
                if data.draw(st.booleans(), label=f"real {name}"):
                    target[name] = data.draw(st.sampled_from(self.fields[name]), label=name)


@pytest.fixture(autouse=True)
def _keep_test_connection():
    """Schemathesis calls the WSGI app directly, not through Django's test client, so Django would
    close the connection (and with it the test's transaction) after each request. Do what the test
    client does: leave the connection alone."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def world(db):
    # One World per operation, shared by its examples on purpose: later examples meet what earlier ones
    # made (a finalized invoice, a revoked key). The test's transaction is rolled back after the operation.
    return World()


@schema.parametrize()
@schema.given(data=st.data())
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_api_conforms_to_its_schema(case, data, world):
    world.aim(case, data)
    case.call_and_validate(headers={"X-API-Key": world.raw_key}, checks=CHECKS)
