"""A small Cal.com API v2 client (httpx): the endpoints AskProAI uses, in Cal.com's wire format.

- `Authorization: Bearer <api key>` and the `cal-api-version` header the bookings endpoints
  need (CALCOM_BOOKINGS_API_VERSION, default 2024-08-13). Slots are not read: bookings made in
  Cal.com reach us by webhook and block our staff's time (see `integrations.calcom.webhook`).
- Every request is bounded by INTEGRATION_HTTP_TIMEOUT (connect, read, write and pool each).
- Errors are the contract's: no answer in time → ServiceUnavailable "... timeout"; Cal.com
  unreachable → ServiceUnavailable; 5xx/429 → IntegrationError (both count for the breaker);
  any other 4xx → CalcomRejected, a client error: it is our request that is wrong, so it does
  not open the breaker and retrying it cannot help.

Callers wrap these calls in the `calcom` circuit breaker (`bookings.calendar.call`).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import httpx
from django.conf import settings

from common import deadline
from common.errors import IntegrationError, ServiceUnavailable


class CalcomRejected(IntegrationError):
    """Cal.com refused the request (4xx other than 408/429)."""

    client_error = True  # not Cal.com's failure: the breaker does not count it

    def __init__(self, status: int, message: str, body: Any = None) -> None:
        super().__init__(
            f"Cal.com refused the request ({status}): {message}",
            details={"integration": "calcom", "status": status},
        )
        self.status = status
        self.body = body


@dataclass(frozen=True)
class Credentials:
    api_url: str
    api_key: str


_http_lock = threading.Lock()
_http: httpx.Client | None = None


def _http_client() -> httpx.Client:
    """One connection pool per process (httpx.Client is thread-safe)."""
    global _http
    with _http_lock:
        if _http is None:
            _http = httpx.Client(follow_redirects=False)
        return _http


class CalcomClient:
    def __init__(self, credentials: Credentials, *, timeout: float | None = None) -> None:
        self.base_url = credentials.api_url.rstrip("/")
        if self.base_url.endswith("/v2"):
            self.base_url = self.base_url[: -len("/v2")]
        self.api_key = credentials.api_key
        self.timeout = float(timeout if timeout is not None else settings.INTEGRATION_HTTP_TIMEOUT)
        self.bookings_version = settings.CALCOM_BOOKINGS_API_VERSION

    # --------------------------------------------------------------------- bookings

    def create_booking(self, body: dict[str, Any]) -> dict[str, Any]:
        """POST /v2/bookings → the booking (`uid`, `start`, `status`, ...)."""
        return self._booking(self._request("POST", "/v2/bookings", json=body))

    def get_booking(self, uid: str) -> dict[str, Any]:
        return self._booking(self._request("GET", f"/v2/bookings/{uid}"))

    def list_bookings(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        data = self._request("GET", "/v2/bookings", params=params)
        return [item for item in data if isinstance(item, dict)] if isinstance(data, list) else []

    def reschedule_booking(self, uid: str, *, start: str, reason: str = "") -> dict[str, Any]:
        """POST /v2/bookings/{uid}/reschedule → the new booking (a new uid)."""
        body: dict[str, Any] = {"start": start}
        if reason:
            body["reschedulingReason"] = reason
        return self._booking(self._request("POST", f"/v2/bookings/{uid}/reschedule", json=body))

    def cancel_booking(self, uid: str, *, reason: str = "") -> dict[str, Any]:
        body = {"cancellationReason": reason} if reason else {}
        return self._booking(self._request("POST", f"/v2/bookings/{uid}/cancel", json=body))

    # --------------------------------------------------------------------- plumbing

    @staticmethod
    def _booking(data: Any) -> dict[str, Any]:
        # Recurring event types answer a list; AskProAI books single events.
        if isinstance(data, list) and data and isinstance(data[0], dict):
            return data[0]
        if not isinstance(data, dict):
            raise IntegrationError(
                "Cal.com answered without a booking.", details={"integration": "calcom"}
            )
        return data

    def _request(
        self,
        method: str,
        path: str,
        *,
        json: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
    ) -> Any:
        headers = {
            "Authorization": f"Bearer {self.api_key}",
            "cal-api-version": self.bookings_version,
            "Accept": "application/json",
        }
        # Capped by what is left of the call's time budget (raises once it is spent).
        timeout = deadline.cap(self.timeout)
        try:
            response = _http_client().request(
                method,
                f"{self.base_url}{path}",
                headers=headers,
                json=json,
                params=params,
                timeout=httpx.Timeout(timeout),
            )
        except httpx.TimeoutException as exc:
            raise ServiceUnavailable(
                f"Cal.com did not answer within {timeout:g} s (timeout).",
                details={"integration": "calcom", "reason": "timeout"},
            ) from exc
        except httpx.HTTPError as exc:
            raise ServiceUnavailable(
                f"Cal.com is unreachable ({type(exc).__name__}).",
                details={"integration": "calcom", "reason": "unreachable"},
            ) from exc
        body = _json(response)
        status = response.status_code
        if status >= 500 or status in (408, 429):
            raise IntegrationError(
                f"Cal.com answered {status}.",
                details={"integration": "calcom", "status": status},
            )
        if status >= 400:
            raise CalcomRejected(status, _error_message(body), body)
        if isinstance(body, dict) and "data" in body:
            return body["data"]
        return body


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _error_message(body: Any) -> str:
    """Cal.com's error text; its exact error shape is not documented, so look in both places
    seen in practice: `{"error": {"message"}}` and `{"message"}`."""
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])[:300]
        if body.get("message"):
            return str(body["message"])[:300]
    return "no details"
