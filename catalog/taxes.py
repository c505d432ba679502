"""Tax rates: every write and rule about them, and which rates apply to what.

A rate is named by its code wherever it applies (a charge, a plan, a customer, a billing entity:
their `tax_rates` lists). Changing a rate's percentage archives the row and makes a new one under the
same code, so every list that names the code picks up the new percentage on the next invoice while
issued invoices keep the rate they were taxed at (their lines carry code, name and rate).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django.db import transaction

from fluxbill.core.db import unique_or_conflict
from fluxbill.core.errors import InvalidInput

from .models import MAX_TAX_RATES, TAX_RATE_DECIMAL_PLACES, TaxRate

EDITABLE_IN_PLACE = ("name", "description", "active")


def _rate_check(rate) -> Decimal:
    try:
        value = Decimal(str(rate))
    except (ArithmeticError, ValueError) as exc:
        raise InvalidInput(f"rate must be a percentage such as '19' or '8.875', got {rate!r}", field="rate") from exc
    if not value.is_finite() or not Decimal(0) <= value <= Decimal(100):
        raise InvalidInput(f"rate must be a percentage from 0 to 100, got {rate!r}", field="rate")
    if value != value.quantize(Decimal(1).scaleb(-TAX_RATE_DECIMAL_PLACES)):
        raise InvalidInput(f"rate may have at most {TAX_RATE_DECIMAL_PLACES} decimals, got {rate!r}", field="rate")
    return value


def _code_check(code) -> str:
    code = str(code or "").strip()
    if not code or len(code) > 50 or not all(ch.isalnum() or ch in "_.-" for ch in code) or not code.isascii():
        raise InvalidInput(
            f"code must be 1 to 50 letters, digits, '_', '.' or '-' (e.g. 'VAT_DE_19'), got {code!r}", field="code"
        )
    return code


def _conflict(code: str) -> dict:
    return {"tax_rate_code_current": (f"A tax rate with code '{code}' already exists", "code")}


@transaction.atomic
def tax_rate_create(*, code: str, name: str, rate, description: str = "", active: bool = True) -> TaxRate:
    code = _code_check(code)
    if not str(name or "").strip():
        raise InvalidInput("Missing required field: name (printed on invoices)", field="name")
    tax_rate = TaxRate(code=code, name=name.strip(), rate=_rate_check(rate), description=description or "", active=active)
    with unique_or_conflict(_conflict(code)):
        tax_rate.save()
    return tax_rate


@transaction.atomic
def tax_rate_update(*, tax_rate: TaxRate, data: dict, now: datetime) -> TaxRate:
    """Name, description and active change in place; a new `rate` archives this row and returns its successor."""
    locked = TaxRate.objects.select_for_update().filter(pk=tax_rate.pk, archived_at__isnull=True).first()
    if locked is None:
        raise InvalidInput(
            "This tax rate is archived (its rate was changed); change the current one with the same code", field="id"
        )
    unknown = set(data) - {*EDITABLE_IN_PLACE, "rate"}
    if unknown:
        field = sorted(unknown)[0]
        raise InvalidInput(f"{field} cannot change (create a new tax rate instead)", field=field)
    if "name" in data and not str(data["name"] or "").strip():
        raise InvalidInput("name must not be blank", field="name")
    changes = {key: data[key] for key in EDITABLE_IN_PLACE if key in data}
    if "rate" in data and _rate_check(data["rate"]) != locked.rate:
        was_active = locked.active
        # Archive first: the one-current-row-per-code constraint then admits the successor.
        locked.archived_at, locked.active = now, False
        locked.save(update_fields=["archived_at", "active", "updated_at"])
        successor = TaxRate.objects.create(
            code=locked.code,
            name=changes.get("name", locked.name),
            description=changes.get("description", locked.description),
            active=changes.get("active", was_active),
            rate=_rate_check(data["rate"]),
        )
        TaxRate.objects.filter(pk=locked.pk).update(replaced_by=successor)
        return successor
    for key, value in changes.items():
        setattr(locked, key, value)
    locked.save()
    return locked


def tax_rate_codes_check(codes, *, field: str = "tax_rates") -> list[str]:
    """A `tax_rates` list as stored: codes of current, active rates, each once, at most MAX_TAX_RATES."""
    if codes is None:
        return []
    if not isinstance(codes, (list, tuple)):
        raise InvalidInput(f"{field} must be a list of tax rate codes", field=field)
    cleaned: list[str] = []
    for index, code in enumerate(codes):
        if not isinstance(code, str) or not code.strip():
            raise InvalidInput(f"{field}[{index}] must be a tax rate code", field=f"{field}[{index}]")
        code = code.strip()
        if code in cleaned:
            raise InvalidInput(f"{field}[{index}]: '{code}' is listed twice", field=f"{field}[{index}]")
        cleaned.append(code)
    if len(cleaned) > MAX_TAX_RATES:
        raise InvalidInput(f"{field} may name at most {MAX_TAX_RATES} tax rates", field=field)
    known = set(TaxRate.objects.filter(code__in=cleaned, archived_at__isnull=True, active=True).values_list("code", flat=True))
    for index, code in enumerate(cleaned):
        if code not in known:
            raise InvalidInput(f"{field}[{index}]: no active tax rate has code '{code}'", field=f"{field}[{index}]")
    return cleaned


def current_tax_rates() -> dict[str, TaxRate]:
    """code → the current, active rate: what an invoice computed now charges. One query (the table is small)."""
    return {rate.code: rate for rate in TaxRate.objects.filter(archived_at__isnull=True, active=True)}
