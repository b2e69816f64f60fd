"""Retell's `x-retell-signature`, checked by Retell's own SDK (retell-sdk, `retell.lib.
webhook_auth`): `v=<unix ms>,d=<hex HMAC-SHA256(api key, raw body + ms)>`, at most five minutes
off our clock. The same scheme signs webhooks, the inbound-call webhook and custom functions.

The raw body is verified as it arrived (never re-serialised JSON); the key is RETELL_API_KEY,
the dashboard key with the "webhook" badge. Without a key nothing verifies: an unconfigured
integration refuses every request rather than trusting them.
"""

from __future__ import annotations

from django.conf import settings
from retell.lib import webhook_auth

HEADER = "x-retell-signature"
META_KEY = "HTTP_X_RETELL_SIGNATURE"


def signature_valid(raw_body: bytes, signature: str | None) -> bool:
    api_key = settings.RETELL_API_KEY
    if not api_key or not signature:
        return False
    try:
        body = raw_body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return bool(webhook_auth.verify(body, api_key, signature))


def sign(body: str, api_key: str, timestamp_ms: int | None = None) -> str:
    """The header Retell would send for `body` (tests, benchmarks, local tools)."""
    return str(webhook_auth.symmetric["sign"](body, api_key, timestamp_ms))
