"""A local Twilio Messages API (reference section 4): `POST /2010-04-01/Accounts/{AccountSid}/
Messages.json`, HTTP Basic auth with the account SID and auth token, form-encoded `To`, `From`,
`Body`, `StatusCallback`; answers 201 with the JSON message resource, or Twilio's error JSON.

Point the SDK at it with `client.api.base_url = fake.url` (our TWILIO_API_BASE does that)."""

from __future__ import annotations

import base64
import re
import uuid
from email.utils import formatdate
from typing import Any

from tests.fakes._server import FakeServer, Recorded, Response

_MESSAGES = re.compile(r"^/2010-04-01/Accounts/(?P<sid>AC[0-9a-f]{32})/Messages\.json$")


def twilio_error(status: int, code: int, message: str) -> dict[str, Any]:
    return {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


class FakeTwilio(FakeServer):
    def __init__(self, account_sid: str, auth_token: str) -> None:
        super().__init__()
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.messages: list[dict[str, Any]] = []

    def route(self, request: Recorded) -> Response:
        match = _MESSAGES.match(request.path)
        if request.method != "POST" or match is None:
            return Response(404, twilio_error(404, 20404, "The requested resource was not found"))
        expected = base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        if (
            request.headers.get("authorization") != f"Basic {expected}"
            or match["sid"] != self.account_sid
        ):
            return Response(401, twilio_error(401, 20003, "Authenticate"))
        to, sender, body = request.field("To"), request.field("From"), request.field("Body")
        if not to or not to.startswith("+"):
            return Response(400, twilio_error(400, 21211, f"The 'To' number {to} is not valid."))
        if not sender:
            return Response(400, twilio_error(400, 21603, "A 'From' phone number is required."))
        if not body or len(body) > 1600:
            return Response(400, twilio_error(400, 21617, "The message body is invalid."))
        sid = "SM" + uuid.uuid4().hex
        now = formatdate(usegmt=True)
        resource = {
            "account_sid": self.account_sid,
            "api_version": "2010-04-01",
            "body": body,
            "date_created": now,
            "date_sent": None,
            "date_updated": now,
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": sender,
            "messaging_service_sid": None,
            "num_media": "0",
            "num_segments": str(1 + len(body) // 160),
            "price": None,
            "price_unit": "USD",
            "sid": sid,
            "status": "queued",
            "subresource_uris": {
                "media": f"/2010-04-01/Accounts/{self.account_sid}/Messages/{sid}/Media.json"
            },
            "to": to,
            "uri": f"/2010-04-01/Accounts/{self.account_sid}/Messages/{sid}.json",
        }
        self.messages.append({**resource, "status_callback": request.field("StatusCallback")})
        return Response(201, resource)
