"""Signed Retell requests, byte for byte as Retell sends them (compact JSON, the signature
over the raw body), for the Retell tests."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from django.test import Client

from integrations.retell.signature import sign

TEST_KEY = "key_test_retell_webhook_0123456789"
BERLIN = "+493012345670"
CALLER = "+4915790001234"


@dataclass(frozen=True)
class Sent:
    path: str
    body: bytes
    signature: str


def signed(path: str, payload: dict[str, Any], key: str = TEST_KEY) -> Sent:
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
    return Sent(path=path, body=body.encode(), signature=sign(body, key))


def post(client: Client, sent: Sent, signature: str | None = None) -> Any:
    headers = {"HTTP_X_RETELL_SIGNATURE": signature if signature is not None else sent.signature}
    if signature == "":
        headers = {}
    return client.post(sent.path, data=sent.body, content_type="application/json", **headers)


def call_object(call_id: str, status: str = "ongoing", **extra: Any) -> dict[str, Any]:
    return {
        "call_type": "phone_call",
        "call_id": call_id,
        "agent_id": "agent_demo_berlin_de",
        "agent_version": 1,
        "call_status": status,
        "direction": "inbound",
        "from_number": CALLER,
        "to_number": BERLIN,
        **extra,
    }


def function(name: str, args: dict[str, Any], call: dict[str, Any]) -> Sent:
    return signed("/webhooks/retell/functions", {"name": name, "args": args, "call": call})


def event(name: str, call: dict[str, Any]) -> Sent:
    return signed("/webhooks/retell", {"event": name, "call": call})
