"""JSON parsing that keeps numbers exact and refuses what JSON does not allow."""

import json
import re
from decimal import Decimal

from django.conf import settings
from rest_framework.exceptions import APIException, ParseError
from rest_framework.parsers import JSONParser


class PayloadTooLarge(APIException):
    status_code = 413
    default_detail = "Request body is too large"
    default_code = "payload_too_large"


# PostgreSQL text cannot hold NUL, and UTF-8 cannot hold a lone surrogate: refuse both up front.
_NUL_ESCAPE = re.compile(r"\\u0000")
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def _has_lone_surrogate(data) -> bool:
    try:
        json.dumps(data, ensure_ascii=False, default=str).encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _reject_constant(name: str):
    raise ValueError(f"{name} is not a valid JSON number")


class DecimalJSONParser(JSONParser):
    """Floats become `Decimal` straight from their text (0.1 stays 0.1); NaN/Infinity are refused."""

    def parse(self, stream, media_type=None, parser_context=None):
        parser_context = parser_context or {}
        encoding = parser_context.get("encoding", settings.DEFAULT_CHARSET)
        limit = settings.FLUXBILL_MAX_BODY_BYTES
        raw = stream.read(limit + 1) if stream is not None else b""
        if len(raw) > limit:
            raise PayloadTooLarge(f"Request body is larger than {limit} bytes")
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError as exc:
            raise ParseError(f"Request body is not valid {encoding}: {exc.reason}") from exc
        del raw  # a 5 MB body would otherwise be held twice while it is parsed (bench/bulk_memory.py)
        if not text or text.isspace():  # strip() would copy the whole body
            raise ParseError("Request body is empty; expected a JSON object")
        if _NUL_ESCAPE.search(text) or "\x00" in text:
            raise ParseError("JSON strings may not contain the NUL character (\\u0000)")
        try:
            data = json.loads(text, parse_float=Decimal, parse_constant=_reject_constant)
        except RecursionError as exc:
            raise ParseError("JSON body is nested too deeply") from exc
        except ValueError as exc:
            raise ParseError(f"JSON parse error: {exc}") from exc
        if _SURROGATE_ESCAPE.search(text) and _has_lone_surrogate(data):
            raise ParseError("JSON strings may not contain unpaired UTF-16 surrogates")
        return data
