"""What staff may do, and the one check that decides it for the dashboard, the API and admin.

A staff member's rights are Django permissions: the model permissions (`view_`, `add_`, `change_`,
`delete_`) and one custom permission per operation that is not a plain edit (finalize, void, …),
declared in the models' `Meta.permissions` and named here once. Roles are Django groups holding a set
of them (fluxbill.core.roles). API keys do not hold permissions; they hold scopes (apikeys.scopes).

`may` is the check: an active staff user holding the permission. Superusers hold every permission;
a staff user in no group holds none and may log in and nothing more; a user who is not staff may
do nothing, whatever groups it is in.
"""

from __future__ import annotations

# Operations beyond the model permissions. The codenames are declared in the models' Meta.permissions.
FINALIZE_INVOICE = "invoicing.finalize_invoice"
VOID_INVOICE = "invoicing.void_invoice"
MARK_PAID_INVOICE = "invoicing.mark_paid_invoice"
MARK_UNCOLLECTIBLE_INVOICE = "invoicing.mark_uncollectible_invoice"
REGENERATE_INVOICE = "invoicing.regenerate_invoice"
SEND_INVOICE_EMAIL = "invoicing.send_invoice_email"
GENERATE_INTERIM_INVOICE = "invoicing.generate_interim_invoice"
BILL_LATE_USAGE_INVOICE = "invoicing.bill_late_usage_invoice"
VOID_CREDIT_NOTE = "invoicing.void_creditnote"
SEND_CREDIT_NOTE_EMAIL = "invoicing.send_creditnote_email"
REVERSE_PAYMENT = "invoicing.reverse_payment"
CANCEL_SUBSCRIPTION = "customers.cancel_subscription"
MANAGE_API_KEYS = "apikeys.manage_apikey"

# Model permissions the dashboard asks for by name.
VIEW_METER = "metering.view_meter"
ADD_METER = "metering.add_meter"
CHANGE_METER = "metering.change_meter"
DELETE_METER = "metering.delete_meter"
VIEW_EVENT = "metering.view_usageevent"
ADD_EVENT = "metering.add_usageevent"
VIEW_PLAN = "catalog.view_plan"
ADD_PLAN = "catalog.add_plan"
CHANGE_PLAN = "catalog.change_plan"
DELETE_PLAN = "catalog.delete_plan"
VIEW_TAX_RATE = "catalog.view_taxrate"
ADD_TAX_RATE = "catalog.add_taxrate"
CHANGE_TAX_RATE = "catalog.change_taxrate"
VIEW_CHARGE = "catalog.view_charge"
ADD_CHARGE = "catalog.add_charge"
VIEW_CUSTOMER = "customers.view_customer"
ADD_CUSTOMER = "customers.add_customer"
CHANGE_CUSTOMER = "customers.change_customer"
VIEW_BILLING_ENTITY = "customers.view_billingentity"
ADD_BILLING_ENTITY = "customers.add_billingentity"
CHANGE_BILLING_ENTITY = "customers.change_billingentity"
VIEW_SUBSCRIPTION = "customers.view_subscription"
ADD_SUBSCRIPTION = "customers.add_subscription"
VIEW_INVOICE = "invoicing.view_invoice"
VIEW_CREDIT_NOTE = "invoicing.view_creditnote"
ADD_CREDIT_NOTE = "invoicing.add_creditnote"
VIEW_PAYMENT = "invoicing.view_payment"
ADD_PAYMENT = "invoicing.add_payment"
VIEW_API_KEY = "apikeys.view_apikey"
VIEW_WEBHOOK_ENDPOINT = "webhooks.view_webhookendpoint"
ADD_WEBHOOK_ENDPOINT = "webhooks.add_webhookendpoint"
CHANGE_WEBHOOK_ENDPOINT = "webhooks.change_webhookendpoint"
MANAGE_WEBHOOKS = "webhooks.manage_webhookendpoint"

# The apps whose permissions the roles hand out.
APPS = ("core", "apikeys", "webhooks", "metering", "catalog", "customers", "invoicing")

_VERB_BY_METHOD = {"GET": "view", "HEAD": "view", "OPTIONS": "view", "POST": "add", "PUT": "change", "PATCH": "change", "DELETE": "delete"}


def may(user, perm: str) -> bool:
    """Whether `user` may do what `perm` ("app_label.codename") allows."""
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    if not (user.is_active and user.is_staff):
        return False
    return user.has_perm(perm)


def model_permission(model_label: str, method: str) -> str:
    """The model permission a plain request on `model_label` ("metering.meter") needs, by HTTP method."""
    app_label, model_name = model_label.split(".")
    return f"{app_label}.{_VERB_BY_METHOD.get(method.upper(), 'change')}_{model_name}"
