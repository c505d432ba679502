"""The scopes an API key can hold. `*` grants every scope."""

ALL = "*"
USAGE_WRITE = "usage.write"
USAGE_READ = "usage.read"

RESOURCES = ("features", "plans", "tax_rates", "customers", "billing_entities", "subscriptions", "invoices", "credit_notes", "payments", "webhooks", "api_keys")

SCOPES: tuple[str, ...] = (
    USAGE_WRITE,
    USAGE_READ,
    *(f"{resource}.{verb}" for resource in RESOURCES for verb in ("read", "write")),
    ALL,
)


def grants(held: list[str] | tuple[str, ...], needed: str) -> bool:
    return ALL in held or needed in held
