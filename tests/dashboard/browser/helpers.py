"""What the browser tests share besides fixtures: talking to the API from outside the browser."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

from django.urls import NoReverseMatch, reverse


def api_post(url: str, body: dict, *, api_key: str) -> tuple[int, dict]:
    """POST JSON the way a customer's backend would: over HTTP to the live server, with X-API-Key."""
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "X-API-Key": api_key},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def page_exists(url_name: str, *args) -> bool:
    """Whether a dashboard page is routed yet (the pages land one by one)."""
    try:
        reverse(url_name, args=args)
    except NoReverseMatch:
        return False
    return True
