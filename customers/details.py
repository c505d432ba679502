"""Checks of billing details, shared by customers and billing entities: tax ids, countries, emails, logos.

Pure functions (no writes): the services call them, and so do the admin forms before a save. Each refusal is an
InvalidInput naming the field and saying what was expected.
"""

from __future__ import annotations

import base64
import binascii
import re

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django_countries import countries
from stdnum import get_cc_module
from stdnum.eu import vat as eu_vat
from stdnum.exceptions import ValidationError as NumberInvalid

from fluxbill.core.errors import InvalidInput

TAX_ID_MAX_LENGTH = 50
MAX_CC_EMAILS = 10
LOGO_MAX_BYTES = 256 * 1024
LOGO_TYPES = ("image/png", "image/jpeg", "image/svg+xml")
NET_DAYS_MAX = 365
INVOICE_PREFIX = re.compile(r"[A-Z0-9](?:[A-Z0-9-]{0,14}[A-Z0-9])?")

# ISO 3166 codes of the EU member states (VIES). Greece's VAT numbers are prefixed EL, not GR.
EU_COUNTRIES = frozenset(code.upper() for code in eu_vat.MEMBER_STATES if code != "xi")
VAT_PREFIX = {"GR": "EL"}


def _number_name(module) -> str:
    """The number's name as python-stdnum documents it: 'Ust ID Nr. (…, German VAT number)'."""
    return (module.__doc__ or "").strip().splitlines()[0].rstrip(".") if module.__doc__ else module.__name__


def tax_id_clean(tax_id: str, country: str, *, field: str = "tax_id") -> str:
    """`tax_id` checked for `country` and in its compact form ("" stays "").

    An EU country's number is an EU VAT number, with or without its country prefix, stored compact with it
    ("DE 136 695 976" and "136695976" for DE are "DE136695976"). Another country whose VAT (or else tax) number
    python-stdnum knows is checked with that module and stored compact. Elsewhere, or without a country, any
    text up to 50 characters is taken as it is.
    """
    value = (tax_id or "").strip()
    if not value:
        return ""
    if len(value) > TAX_ID_MAX_LENGTH:
        raise InvalidInput(f"{field}: at most {TAX_ID_MAX_LENGTH} characters", field=field)
    country = (country or "").upper()
    if country in EU_COUNTRIES:
        prefix = VAT_PREFIX.get(country, country)
        compact = re.sub(r"[\s.\-/]", "", value).upper()
        if not compact.startswith(prefix):
            if compact[:2].isalpha() and compact[:2] in {VAT_PREFIX.get(c, c) for c in EU_COUNTRIES}:
                raise InvalidInput(
                    f"{field}: {compact[:2]} is another country's VAT prefix; expected a {country} VAT number "
                    f"({prefix} followed by the national number)",
                    field=field,
                )
            compact = prefix + compact
        try:
            return eu_vat.validate(compact)
        except NumberInvalid as exc:
            module = get_cc_module(country.lower(), "vat")
            raise InvalidInput(
                f"{field}: not a valid {country} VAT number, expected {prefix} followed by a {_number_name(module)}: {exc}",
                field=field,
            ) from exc
    if country:
        module = get_cc_module(country.lower(), "vat") or get_cc_module(country.lower(), "tin")
        if module is not None:
            try:
                return module.validate(value)
            except NumberInvalid as exc:
                raise InvalidInput(
                    f"{field}: not a valid {country} tax number, expected a {_number_name(module)}: {exc}", field=field
                ) from exc
    return value


def country_clean(country: str, *, field: str = "country") -> str:
    """An ISO 3166-1 alpha-2 code ("de" → "DE"); "" for none."""
    code = (country or "").strip().upper()
    if code and code not in dict(countries):
        raise InvalidInput(f"{field}: '{country}' is not an ISO 3166 country code (e.g. DE, US)", field=field)
    return code


def email_clean(email: str, *, field: str) -> str:
    value = (email or "").strip()
    if value:
        try:
            validate_email(value)
        except ValidationError as exc:
            raise InvalidInput(f"{field}: '{value}' is not a valid email address", field=field) from exc
    return value


def cc_emails_clean(emails, *, field: str = "cc_emails") -> list[str]:
    """A list of email addresses, each valid, without blanks or repeats (None: an empty list)."""
    if emails is None:
        return []
    if isinstance(emails, str):
        emails = [part for part in re.split(r"[,;\s]+", emails) if part]
    if not isinstance(emails, (list, tuple)):
        raise InvalidInput(f"{field} must be a list of email addresses", field=field)
    if len(emails) > MAX_CC_EMAILS:
        raise InvalidInput(f"{field}: at most {MAX_CC_EMAILS} addresses", field=field)
    cleaned: list[str] = []
    for index, email in enumerate(emails):
        if not isinstance(email, str):
            raise InvalidInput(f"{field}[{index}] must be an email address", field=f"{field}[{index}]")
        value = email_clean(email, field=f"{field}[{index}]")
        if value and value not in cleaned:
            cleaned.append(value)
    return cleaned


def net_days_clean(net_days, *, field: str = "net_days", allow_none: bool = False) -> int | None:
    """Days from issue to due date: 0 (due on receipt) to 365."""
    if net_days is None or net_days == "":
        if allow_none:
            return None
        raise InvalidInput(f"Missing required field: {field}", field=field)
    if isinstance(net_days, bool) or not isinstance(net_days, int) or not 0 <= net_days <= NET_DAYS_MAX:
        raise InvalidInput(f"{field} must be a whole number of days from 0 to {NET_DAYS_MAX}", field=field)
    return net_days


def invoice_prefix_clean(prefix: str, *, field: str = "invoice_prefix") -> str:
    """Upper-case letters, digits and inner dashes, 1 to 16 characters ("inv" → "INV")."""
    value = (prefix or "").strip().upper()
    if not INVOICE_PREFIX.fullmatch(value):
        raise InvalidInput(
            f"{field}: 1 to 16 letters, digits or dashes, starting and ending with a letter or digit (e.g. INV, EU-B)",
            field=field,
        )
    return value


def _logo_kind(data: bytes) -> str | None:
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    head = data[:1024].lstrip().lower()
    if head.startswith(b"<?xml") or head.startswith(b"<svg") or b"<svg" in head:
        return "image/svg+xml"
    return None


def logo_data_uri(data: bytes, *, field: str = "logo") -> str:
    """An uploaded image as the data URI stored: PNG, JPEG or SVG (by its bytes, not its name), at most 256 KiB."""
    if len(data) > LOGO_MAX_BYTES:
        raise InvalidInput(f"{field}: at most {LOGO_MAX_BYTES // 1024} KiB, got {len(data) // 1024} KiB", field=field)
    kind = _logo_kind(data)
    if kind is None:
        raise InvalidInput(f"{field}: a PNG, JPEG or SVG image is expected", field=field)
    return f"data:{kind};base64,{base64.b64encode(data).decode('ascii')}"


def logo_clean(value: str, *, field: str = "logo") -> str:
    """A logo given as a data URI (`data:image/png;base64,…`): checked and stored as `logo_data_uri` makes it."""
    value = (value or "").strip()
    if not value:
        return ""
    match = re.fullmatch(r"data:([\w.+/-]+);base64,([A-Za-z0-9+/=\s]*)", value)
    if match is None:
        raise InvalidInput(f"{field}: a base64 data URI is expected (data:image/png;base64,…)", field=field)
    if match.group(1).lower() not in LOGO_TYPES:
        raise InvalidInput(f"{field}: type {match.group(1)} is not one of {', '.join(LOGO_TYPES)}", field=field)
    if len(match.group(2)) > LOGO_MAX_BYTES * 4 // 3 + 8:
        raise InvalidInput(f"{field}: at most {LOGO_MAX_BYTES // 1024} KiB", field=field)
    try:
        data = base64.b64decode(match.group(2), validate=False)
    except (binascii.Error, ValueError) as exc:
        raise InvalidInput(f"{field}: the base64 data is not valid", field=field) from exc
    uri = logo_data_uri(data, field=field)
    if not uri.startswith(f"data:{match.group(1).lower()};"):
        raise InvalidInput(f"{field}: the data is not a {match.group(1)} image", field=field)
    return uri
