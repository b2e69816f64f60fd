"""WebSocket `/ws/v2/events`: a tenant's live domain events (docs/contract.md, live channels).

Authenticate (the `Authorization: Bearer` header, or a first message `{"type": "auth",
"api_key"}`; the console's own page by its admin session, same origin only), then
`{"type": "subscribe", "channels": [...], "after": <event id>?}`: the events missed since
`after` are sent first, then each event as it commits.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import parse_qs, urlsplit

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.db import DatabaseError

from common.errors import (
    ApplicationError,
    AuthenticationFailed,
    ServiceUnavailable,
    ValidationFailed,
)
from mcp_core.auth import Principal, bearer_token
from mcp_core.events import group_name
from mcp_core.permissions import Role
from mcp_core.realtime.subscriptions import missed_events, parse_channels, require_owned
from tenants.authentication import authenticate_api_key
from tenants.models import Company

logger = logging.getLogger(__name__)

# Close codes in the application range: the client should not reconnect with the same key.
CLOSE_UNAUTHENTICATED = 4401
# Ids already sent, for the duplicates; older ones cannot come again in practice.
SENT_IDS_KEPT = 10_000


def _session_principal(user: Any, wanted_tenant: int | None) -> Principal | None:
    """The console operator's principal, for their own tenant only (a superuser's: the tenant
    the page shows, `?tenant=`, else the first, as the console picks it). Read-only, so events
    carry no more than any role may read. None for a user the console would refuse."""
    if not (user.is_authenticated and user.is_active and user.is_staff):
        return None
    if user.is_superuser:
        companies = Company.objects.order_by("pk")
        chosen = companies.filter(pk=wanted_tenant).first() if wanted_tenant else None
        tenant = chosen or companies.first()
    else:
        profile = getattr(user, "operator_profile", None)
        tenant = profile.tenant if profile is not None else None
    if tenant is None or not tenant.is_active:
        return None
    return Principal(
        tenant=tenant,
        role=Role.READONLY,
        api_key_id=0,
        key_prefix=f"admin:{user.get_username()}",
        kind="session",
    )


def _same_origin(headers: dict[bytes, bytes]) -> bool:
    """A session cookie counts only on a socket opened by a page of this site: a foreign page
    would otherwise listen with the operator's cookie (cross-site WebSocket hijacking)."""
    origin, host = headers.get(b"origin"), headers.get(b"host")
    if not origin or not host:
        return False
    return urlsplit(origin.decode("latin-1")).netloc == host.decode("latin-1")


def _authenticate(api_key: str | None) -> Principal:
    try:
        return authenticate_api_key(api_key)
    except DatabaseError as exc:
        raise ServiceUnavailable("The database is unavailable; try again shortly.") from exc


class EventsConsumer(AsyncJsonWebsocketConsumer):
    principal: Principal | None = None

    async def connect(self) -> None:
        self.groups_joined: set[str] = set()
        # Live events that arrive while a replay is read are held, then sent in order.
        self.replaying = False
        self.held: list[dict[str, Any]] = []
        self.sent_ids: set[int] = set()
        await self.accept()
        headers = dict(self.scope.get("headers") or [])
        header = headers.get(b"authorization")
        if header is not None:
            await self._authenticate(bearer_token(header.decode("latin-1")))
        elif _same_origin(headers):
            await self._authenticate_session()

    async def _authenticate_session(self) -> None:
        """The admin session of the console's page (Channels' AuthMiddlewareStack). Without
        one the client may still authenticate with a key in its first message."""
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            return
        query = parse_qs(self.scope.get("query_string", b"").decode("latin-1"))
        wanted = (query.get("tenant") or [""])[0]
        try:
            principal = await database_sync_to_async(_session_principal)(
                user, int(wanted) if wanted.isdigit() and len(wanted) < 19 else None
            )
        except DatabaseError:
            down = ServiceUnavailable("The database is unavailable; try again shortly.")
            await self.send_json({"type": "error", **down.envelope()})
            return
        if principal is None:
            failure = AuthenticationFailed("This user may not open the console.")
            await self.send_json({"type": "error", **failure.envelope()})
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        self.principal = principal
        await self.send_json({"type": "authenticated", "tenant_id": principal.tenant.pk})

    async def _authenticate(self, api_key: str | None) -> None:
        try:
            self.principal = await database_sync_to_async(_authenticate)(api_key)
        except ApplicationError as exc:
            await self.send_json({"type": "error", **exc.envelope()})
            if isinstance(exc, AuthenticationFailed):
                await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        await self.send_json({"type": "authenticated", "tenant_id": self.principal.tenant.pk})

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        kind = content.get("type") if isinstance(content, dict) else None
        if kind == "auth" and self.principal is None:
            api_key = content.get("api_key")
            await self._authenticate(api_key if isinstance(api_key, str) else None)
        elif self.principal is None:
            failure = AuthenticationFailed("Authenticate first: {type: auth, api_key}.")
            await self.send_json({"type": "error", **failure.envelope()})
            await self.close(code=CLOSE_UNAUTHENTICATED)
        elif kind == "subscribe":
            await self._subscribe(content)
        elif kind == "ping":
            await self.send_json({"type": "pong"})
        else:
            refused = ValidationFailed(
                "Unknown message.", details={"type": ["Use auth, subscribe or ping."]}
            )
            await self.send_json({"type": "error", **refused.envelope()})

    async def _subscribe(self, content: dict[str, Any]) -> None:
        if self.principal is None:
            return
        after = content.get("after")
        try:
            if after is not None and (
                isinstance(after, bool) or not isinstance(after, int) or after < 0
            ):
                raise ValidationFailed(
                    "The cursor is not valid.", details={"after": ["An event id (0 or more)."]}
                )
            channels = parse_channels(content.get("channels"))
            await database_sync_to_async(require_owned)(self.principal.tenant, channels)
        except ApplicationError as exc:
            await self.send_json({"type": "error", **exc.envelope()})
            return
        self.replaying = True
        names = [f"{kind}.{ident}" for kind, ident in channels]
        for name in names:
            group = group_name(name)
            if group not in self.groups_joined:
                await self.channel_layer.group_add(group, self.channel_name)
                self.groups_joined.add(group)
        replay: list[dict[str, Any]] = []
        if after is not None:
            replay = await database_sync_to_async(missed_events)(
                self.principal.tenant, channels, after
            )
        await self.send_json({"type": "subscribed", "channels": names, "replayed": len(replay)})
        for event in replay:
            await self._send_event(event)
        self.replaying = False
        held, self.held = self.held, []
        for event in sorted(held, key=lambda item: item["id"]):
            await self._send_event(event)

    async def _send_event(self, event: dict[str, Any]) -> None:
        # An event reaches several of a subscriber's channels (its branch and its customer),
        # and a replayed one may arrive live too: each id is sent once.
        if event["id"] in self.sent_ids:
            return
        self.sent_ids.add(event["id"])
        if len(self.sent_ids) > SENT_IDS_KEPT:
            self.sent_ids = set(sorted(self.sent_ids)[-SENT_IDS_KEPT // 2 :])
        await self.send_json(event)

    async def domain_event(self, message: dict[str, Any]) -> None:
        event = message["event"]
        if self.principal is None or event.get("tenant_id") != self.principal.tenant.pk:
            return
        if self.replaying:
            self.held.append(event)
            return
        await self._send_event(event)

    async def disconnect(self, code: int) -> None:
        for group in getattr(self, "groups_joined", set()):
            await self.channel_layer.group_discard(group, self.channel_name)
