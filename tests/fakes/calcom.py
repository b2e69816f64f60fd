"""A local Cal.com API v2 on a real socket, speaking its wire format (reference/integrations.md
section 2): `Authorization: Bearer`, `cal-api-version` per endpoint, `{"status", "data"}`
envelopes, BookingOutput_2024_08_13 bodies, new uids on reschedule. It also signs webhook
deliveries the way Cal.com does (hex HMAC-SHA256 of the raw body in X-Cal-Signature-256).

Tell it to misbehave: `fail_with = 500` (answer that status), `delay = 5.0` (answer slowly or
hang), `stop()` / `start()` (nothing listening: connection refused, same port afterwards).
`requests` records what it received; `bookings` holds what it stored, by uid.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import itertools
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

BOOKING_VERSIONS = ("2024-08-13", "2026-02-25")


@dataclass
class Received:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any


@dataclass
class FakeCalcom:
    api_key: str = "cal_test_fake_key"
    event_types: dict[int, str] = field(default_factory=lambda: {7: "haarschnitt-30"})
    fail_with: int | None = None
    delay: float = 0.0
    requests: list[Received] = field(default_factory=list)
    bookings: dict[str, dict[str, Any]] = field(default_factory=dict)
    port: int = 0
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None
    _ids: Any = field(default_factory=lambda: itertools.count(1001))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # ----------------------------------------------------------------------- control

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> FakeCalcom:
        fake = self

        class Handler(_Handler):
            calcom = fake

        server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        server.daemon_threads = True
        server.block_on_close = False
        self.port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def active_bookings(self) -> list[dict[str, Any]]:
        return [b for b in self.bookings.values() if b["status"] != "cancelled"]

    def calls(self, method: str, path_prefix: str = "/v2/bookings") -> list[Received]:
        return [r for r in self.requests if r.method == method and r.path.startswith(path_prefix)]

    # ---------------------------------------------------------------------- webhooks

    def webhook(
        self, trigger: str, booking: dict[str, Any], *, secret: str, **extra: Any
    ) -> tuple[bytes, str]:
        """A Cal.com webhook delivery for `booking`: the raw body and its signature."""
        payload = {
            "type": booking.get("eventType", {}).get("slug", ""),
            "title": booking.get("title", ""),
            "startTime": booking["start"],
            "endTime": booking["end"],
            "uid": booking["uid"],
            "bookingId": booking["id"],
            "eventTypeId": booking.get("eventTypeId"),
            "organizer": {
                "name": "Salon",
                "email": "salon@example.de",
                "timeZone": "Europe/Berlin",
            },
            "attendees": booking.get("attendees", []),
            "metadata": booking.get("metadata", {}),
            "status": str(booking.get("status", "accepted")).upper(),
            **extra,
        }
        body = json.dumps(
            {
                "triggerEvent": trigger,
                "createdAt": _iso(dt.datetime.now(dt.UTC)),
                "payload": payload,
            }
        ).encode()
        return body, sign(body, secret)

    def make_booking(
        self, *, start: dt.datetime, minutes: int = 30, event_type_id: int = 7, **fields: Any
    ) -> dict[str, Any]:
        """A booking made directly in Cal.com (not through AskProAI)."""
        with self._lock:
            booking = self._new_booking(
                start=start.astimezone(dt.UTC),
                minutes=minutes,
                event_type_id=event_type_id,
                attendee={"name": "Direkt", "email": "direkt@example.de", "timeZone": "UTC"},
                metadata={},
            )
            booking.update(fields)
            self.bookings[booking["uid"]] = booking
        return booking

    # ------------------------------------------------------------------- behaviour

    def _new_booking(
        self,
        *,
        start: dt.datetime,
        minutes: int,
        event_type_id: int,
        attendee: dict[str, Any],
        metadata: dict[str, Any],
    ) -> dict[str, Any]:
        booking_id = next(self._ids)
        slug = self.event_types.get(event_type_id, "event")
        return {
            "id": booking_id,
            "uid": uuid.uuid4().hex[:22],
            "title": f"{slug} zwischen Salon und {attendee.get('name', '')}",
            "description": "",
            "status": "accepted",
            "start": _iso(start),
            "end": _iso(start + dt.timedelta(minutes=minutes)),
            "duration": minutes,
            "eventTypeId": event_type_id,
            "eventType": {"id": event_type_id, "slug": slug},
            "hosts": [{"id": 1, "name": "Salon", "timeZone": "Europe/Berlin"}],
            "attendees": [{**attendee, "absent": False}],
            "metadata": metadata,
            "location": "",
            "absentHost": False,
            "bookingFieldsResponses": {},
            "createdAt": _iso(dt.datetime.now(dt.UTC)),
        }

    def handle(
        self,
        method: str,
        path: str,
        query: dict[str, list[str]],
        headers: dict[str, str],
        body: Any,
    ) -> tuple[int, Any]:
        if headers.get("authorization") != f"Bearer {self.api_key}":
            return 401, _error("UNAUTHORIZED", "Invalid API key")
        version = headers.get("cal-api-version", "")
        parts = [p for p in path.split("/") if p]
        if parts[:2] != ["v2", "bookings"]:
            return 404, _error("NOT_FOUND", f"Cannot {method} {path}")
        if version not in BOOKING_VERSIONS:
            return 400, _error("BAD_REQUEST", "cal-api-version header missing or unsupported")
        with self._lock:
            if method == "POST" and len(parts) == 2:
                return self._create(body)
            if method == "GET" and len(parts) == 2:
                return 200, {"status": "success", "data": self._list(query)}
            booking = self.bookings.get(parts[2]) if len(parts) > 2 else None
            if booking is None:
                return 404, _error("NOT_FOUND", "Booking not found")
            if method == "GET" and len(parts) == 3:
                return 200, {"status": "success", "data": booking}
            if method == "POST" and parts[3:] == ["cancel"]:
                if booking["status"] == "cancelled":
                    return 400, _error("BAD_REQUEST", "This booking has already been cancelled.")
                booking["status"] = "cancelled"
                booking["cancellationReason"] = (body or {}).get("cancellationReason", "")
                return 200, {"status": "success", "data": booking}
            if method == "POST" and parts[3:] == ["reschedule"]:
                return self._reschedule(booking, body or {})
        return 404, _error("NOT_FOUND", f"Cannot {method} {path}")

    def _create(self, body: Any) -> tuple[int, Any]:
        if not isinstance(body, dict):
            return 400, _error("BAD_REQUEST", "body must be an object")
        start = _parse_utc(body.get("start"))
        attendee = body.get("attendee")
        event_type_id = body.get("eventTypeId")
        problems = []
        if start is None:
            problems.append("start must be an ISO 8601 UTC time")
        if event_type_id not in self.event_types:
            problems.append("eventTypeId is unknown")
        if (
            not isinstance(attendee, dict)
            or not attendee.get("name")
            or not attendee.get("timeZone")
        ):
            problems.append("attendee.name and attendee.timeZone are required")
        elif not (attendee.get("email") or attendee.get("phoneNumber")):
            problems.append("attendee.email or attendee.phoneNumber is required")
        if problems:
            return 400, _error("BAD_REQUEST", "; ".join(problems))
        assert start is not None
        for other in self.active_bookings():
            if other["eventTypeId"] == event_type_id and other["start"] == _iso(start):
                return 400, _error("BAD_REQUEST", "no_available_users_found_error")
        booking = self._new_booking(
            start=start,
            minutes=30,
            event_type_id=event_type_id,
            attendee=dict(attendee),
            metadata=dict(body.get("metadata") or {}),
        )
        booking["bookingFieldsResponses"] = dict(body.get("bookingFieldsResponses") or {})
        self.bookings[booking["uid"]] = booking
        return 201, {"status": "success", "data": booking}

    def _list(self, query: dict[str, list[str]]) -> list[dict[str, Any]]:
        found = list(self.bookings.values())
        if "eventTypeId" in query:
            found = [b for b in found if str(b["eventTypeId"]) == query["eventTypeId"][0]]
        if "afterStart" in query:
            after = _parse_utc(query["afterStart"][0])
            found = [b for b in found if after is None or _parse_utc(b["start"]) >= after]
        if "beforeEnd" in query:
            before = _parse_utc(query["beforeEnd"][0])
            found = [b for b in found if before is None or _parse_utc(b["end"]) <= before]
        return found

    def _reschedule(self, booking: dict[str, Any], body: dict[str, Any]) -> tuple[int, Any]:
        if booking["status"] not in ("accepted", "pending"):
            return 400, _error(
                "BAD_REQUEST", "Only accepted or pending bookings can be rescheduled"
            )
        start = _parse_utc(body.get("start"))
        if start is None:
            return 400, _error("BAD_REQUEST", "start must be an ISO 8601 UTC time")
        moved = self._new_booking(
            start=start,
            minutes=booking["duration"],
            event_type_id=booking["eventTypeId"],
            attendee={k: v for k, v in booking["attendees"][0].items() if k != "absent"},
            metadata=dict(booking["metadata"]),
        )
        moved["rescheduledFromUid"] = booking["uid"]
        booking["status"] = "cancelled"
        booking["rescheduledToUid"] = moved["uid"]
        self.bookings[moved["uid"]] = moved
        return 201, {"status": "success", "data": moved}


class _Handler(BaseHTTPRequestHandler):
    calcom: FakeCalcom
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        return None

    def _serve(self, method: str) -> None:
        fake = self.calcom
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode(errors="replace")
        parsed = urlparse(self.path)
        headers = {key.lower(): value for key, value in self.headers.items()}
        fake.requests.append(Received(method, parsed.path, parse_qs(parsed.query), headers, body))
        if fake.delay:
            time.sleep(fake.delay)
        if fake.fail_with is not None:
            status, payload = fake.fail_with, _error("INTERNAL_SERVER_ERROR", "fake failure")
        else:
            status, payload = fake.handle(
                method, parsed.path, parse_qs(parsed.query), headers, body
            )
        data = json.dumps(payload).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up waiting (a time-out test)

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")


def sign(body: bytes, secret: str) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _error(code: str, message: str) -> dict[str, Any]:
    return {"status": "error", "error": {"code": code, "message": message}}


def _iso(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _parse_utc(value: Any) -> dt.datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.astimezone(dt.UTC) if parsed.tzinfo else None
