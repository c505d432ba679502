"""JSON parsing that keeps numbers exact and refuses what JSON does not allow."""

import json
from decimal import Decimal

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser


def _reject_constant(name: str):
    raise ValueError(f"{name} is not a valid JSON number")


class DecimalJSONParser(JSONParser):
    """Floats become `Decimal` straight from their text (0.1 stays 0.1); NaN/Infinity are refused."""

    def parse(self, stream, media_type=None, parser_context=None):
        parser_context = parser_context or {}
        encoding = parser_context.get("encoding", settings.DEFAULT_CHARSET)
        try:
            raw = stream.read() if stream is not None else b""
            text = raw.decode(encoding)
        except UnicodeDecodeError as exc:
            raise ParseError(f"Request body is not valid {encoding}: {exc.reason}") from exc
        if not text.strip():
            raise ParseError("Request body is empty; expected a JSON object")
        try:
            return json.loads(text, parse_float=Decimal, parse_constant=_reject_constant)
        except RecursionError as exc:
            raise ParseError("JSON body is nested too deeply") from exc
        except ValueError as exc:
            raise ParseError(f"JSON parse error: {exc}") from exc
