"""A local Stripe API (reference section 3): form-encoded v1 requests with bracketed nesting
(`items[0][price]`, `metadata[tenant_id]`), Bearer auth, JSON objects back, Stripe's error
body `{"error": {"type", "message", ...}}`, and Idempotency-Key honoured like Stripe does it:
the same key with the same parameters gets the first answer again (`Idempotent-Replayed`),
with other parameters an `idempotency_error`.

Serves customers, subscriptions (create, retrieve, update) and invoice items. Point the SDK at
it with `StripeClient(..., base_addresses={"api": fake.url})` (our STRIPE_API_BASE)."""

from __future__ import annotations

import json
import re
import time
import uuid
from typing import Any

from tests.fakes._server import FakeServer, Recorded, Response

_SUBSCRIPTION = re.compile(r"^/v1/subscriptions/(?P<id>sub_\w+)$")
PERIOD_SECONDS = 30 * 24 * 3600


def stripe_error(error_type: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"error": {"type": error_type, "message": message, **extra}}


def decode_form(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """Stripe's bracket notation back into nested dicts and lists."""
    root: dict[str, Any] = {}
    for key, value in pairs:
        parts = re.findall(r"[^\[\]]+", key)
        node: Any = root
        for index, part in enumerate(parts):
            last = index == len(parts) - 1
            following = None if last else parts[index + 1]
            container: Any = value if last else ([] if following and following.isdigit() else {})
            if isinstance(node, list):
                position = int(part)
                while len(node) <= position:
                    node.append(None)
                if node[position] is None or last:
                    node[position] = container
                node = node[position]
            else:
                if part not in node or last:
                    node[part] = container
                node = node[part]
    return root


def _id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:24]}"


class FakeStripe(FakeServer):
    def __init__(self, api_key: str) -> None:
        super().__init__()
        self.api_key = api_key
        self.customers: dict[str, dict[str, Any]] = {}
        self.subscriptions: dict[str, dict[str, Any]] = {}
        self.invoice_items: dict[str, dict[str, Any]] = {}
        self._idempotent: dict[str, tuple[str, Response]] = {}

    def route(self, request: Recorded) -> Response:
        if request.headers.get("authorization") != f"Bearer {self.api_key}":
            return Response(401, stripe_error("invalid_request_error", "Invalid API Key provided."))
        params = decode_form(request.form)
        key = request.headers.get("idempotency-key")
        if request.method == "POST" and key:
            fingerprint = json.dumps([request.path, params], sort_keys=True)
            seen = self._idempotent.get(key)
            if seen is not None:
                if seen[0] != fingerprint:
                    return Response(
                        400,
                        stripe_error(
                            "idempotency_error",
                            "Keys for idempotent requests can only be used with the same "
                            "parameters they were first used with.",
                        ),
                    )
                first = seen[1]
                return Response(
                    first.status, first.body, {**first.headers, "Idempotent-Replayed": "true"}
                )
            response = self._serve(request, params)
            self._idempotent[key] = (fingerprint, response)
            return Response(
                response.status, response.body, {**response.headers, "Idempotency-Key": key}
            )
        return self._serve(request, params)

    def _serve(self, request: Recorded, params: dict[str, Any]) -> Response:
        path, method = request.path, request.method
        if path == "/v1/customers" and method == "POST":
            return self._create_customer(params)
        if path == "/v1/subscriptions" and method == "POST":
            return self._create_subscription(params)
        if path == "/v1/invoiceitems" and method == "POST":
            return self._create_invoice_item(params)
        match = _SUBSCRIPTION.match(path)
        if match:
            subscription = self.subscriptions.get(match["id"])
            if subscription is None:
                return self._missing("subscription", match["id"])
            if method == "GET":
                return Response(200, subscription)
            if method == "POST":
                return self._update_subscription(subscription, params)
        return Response(
            404,
            stripe_error("invalid_request_error", f"Unrecognized request URL ({method}: {path})."),
        )

    def _missing(self, kind: str, object_id: str) -> Response:
        return Response(
            404,
            stripe_error(
                "invalid_request_error",
                f"No such {kind}: '{object_id}'",
                code="resource_missing",
                param="id",
            ),
        )

    def _create_customer(self, params: dict[str, Any]) -> Response:
        customer = {
            "id": _id("cus"),
            "object": "customer",
            "created": int(time.time()),
            "email": params.get("email"),
            "name": params.get("name"),
            "metadata": params.get("metadata", {}),
            "livemode": False,
        }
        self.customers[customer["id"]] = customer
        return Response(200, customer)

    def _items(self, subscription_id: str, price: str, period_end: int) -> dict[str, Any]:
        return {
            "object": "list",
            "data": [
                {
                    "id": _id("si"),
                    "object": "subscription_item",
                    "subscription": subscription_id,
                    "price": {"id": price, "object": "price"},
                    "quantity": 1,
                    "current_period_end": period_end,
                }
            ],
            "has_more": False,
            "url": f"/v1/subscription_items?subscription={subscription_id}",
        }

    def _create_subscription(self, params: dict[str, Any]) -> Response:
        customer = params.get("customer")
        if customer not in self.customers:
            return self._missing("customer", str(customer))
        items = params.get("items") or []
        if not items or not items[0].get("price"):
            return Response(
                400, stripe_error("invalid_request_error", "Missing required param: items.")
            )
        now = int(time.time())
        subscription_id = _id("sub")
        subscription = {
            "id": subscription_id,
            "object": "subscription",
            "customer": customer,
            "status": "active",
            "created": now,
            "metadata": params.get("metadata", {}),
            "items": self._items(subscription_id, items[0]["price"], now + PERIOD_SECONDS),
        }
        self.subscriptions[subscription_id] = subscription
        return Response(200, subscription)

    def _update_subscription(
        self, subscription: dict[str, Any], params: dict[str, Any]
    ) -> Response:
        items = params.get("items") or []
        if items and items[0].get("price"):
            period_end = subscription["items"]["data"][0]["current_period_end"]
            subscription["items"] = self._items(subscription["id"], items[0]["price"], period_end)
        return Response(200, subscription)

    def _create_invoice_item(self, params: dict[str, Any]) -> Response:
        customer = params.get("customer")
        if customer not in self.customers:
            return self._missing("customer", str(customer))
        if not str(params.get("amount", "")).isdigit() or not params.get("currency"):
            return Response(
                400, stripe_error("invalid_request_error", "Missing required param: amount.")
            )
        item = {
            "id": _id("ii"),
            "object": "invoiceitem",
            "customer": customer,
            "amount": int(params["amount"]),
            "currency": params["currency"],
            "description": params.get("description"),
            "metadata": params.get("metadata", {}),
            "date": int(time.time()),
            "livemode": False,
        }
        self.invoice_items[item["id"]] = item
        return Response(200, item)
