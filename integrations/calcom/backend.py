"""`CALENDAR_BACKEND=calcom`: appointments mirrored as Cal.com bookings (API v2).

Per tenant: credentials from its `CalcomAccount` (falling back to the global CALCOM_API_KEY)
and one Cal.com event type per service (`CalcomEventType`). A tenant or service without them
is not synced (`sync_status: not_required`) — Cal.com being unconfigured never fails a booking.

- create: POST /v2/bookings with the appointment as attendee data and our references in
  `metadata`. When Cal.com refuses the create, the booking may already be there (our earlier
  attempt reached Cal.com but its answer was lost): it is looked up by those references before
  the refusal is believed, so a retry never makes a second booking.
- update: a moved appointment is rescheduled (Cal.com answers with a new uid, which becomes
  the external id); other changes have no Cal.com counterpart.
- cancel: cancelling a booking Cal.com no longer has, or has cancelled, is no error.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings

from bookings.calendar import CalendarEvent
from bookings.models import Appointment
from integrations.calcom.client import CalcomClient, CalcomRejected, Credentials
from integrations.models import CalcomAccount, CalcomEventType


class CalcomNotConfigured(Exception):
    """The tenant has no Cal.com credentials or the service no event type."""

    client_error = True  # a configuration gap, not an outage: retrying cannot help


def credentials_for(tenant_id: int) -> Credentials | None:
    """The tenant's Cal.com credentials, None when Cal.com is not configured for it."""
    account = CalcomAccount.objects.for_tenant(tenant_id).first()
    if account is not None and not account.is_active:
        return None
    api_key = (account.api_key if account is not None else "") or settings.CALCOM_API_KEY
    if not api_key:
        return None
    api_url = (account.api_url if account is not None else "") or settings.CALCOM_API_URL
    return Credentials(api_url=api_url, api_key=api_key)


def event_type_for(tenant_id: int, service_id: int) -> int | None:
    return (
        CalcomEventType.objects.for_tenant(tenant_id)
        .filter(service_id=service_id)
        .values_list("event_type_id", flat=True)
        .first()
    )


def utc_iso(value: dt.datetime) -> str:
    """Cal.com wants UTC: 2024-08-13T09:00:00Z."""
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(value: Any) -> dt.datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if not 1900 <= parsed.year <= 2999:  # no one's appointment; zone arithmetic would overflow
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=dt.UTC)


class CalcomCalendar:
    name = "calcom"
    requires_sync = True

    def requires_sync_for(self, tenant_id: int, service_id: int) -> bool:
        return (
            credentials_for(tenant_id) is not None
            and event_type_for(tenant_id, service_id) is not None
        )

    def _client(self, tenant_id: int) -> CalcomClient:
        credentials = credentials_for(tenant_id)
        if credentials is None:
            raise CalcomNotConfigured(f"Cal.com is not configured for tenant {tenant_id}")
        return CalcomClient(credentials)

    def create_event(self, event: CalendarEvent) -> str:
        client = self._client(event.tenant_id)
        event_type_id = event_type_for(event.tenant_id, event.service_id)
        if event_type_id is None:
            raise CalcomNotConfigured(f"service {event.service_id} has no Cal.com event type")
        attendee: dict[str, Any] = {
            "name": event.customer_name or "Kunde",
            "timeZone": event.time_zone,
            "language": "de",
        }
        if event.customer_email:
            attendee["email"] = event.customer_email
        if event.customer_phone:
            attendee["phoneNumber"] = event.customer_phone
        body: dict[str, Any] = {
            "start": utc_iso(event.start),
            "eventTypeId": event_type_id,
            "attendee": attendee,
            "metadata": {
                "askproai_tenant_id": str(event.tenant_id),
                "askproai_appointment_id": str(event.appointment_id),
                "askproai_confirmation": event.uid,
            },
        }
        if event.notes:
            body["bookingFieldsResponses"] = {"notes": event.notes[:500]}
        try:
            booking = client.create_booking(body)
        except CalcomRejected:
            existing = self._find_ours(client, event, event_type_id)
            if existing is None:
                raise
            return existing
        return str(booking.get("uid") or "")

    def _find_ours(
        self, client: CalcomClient, event: CalendarEvent, event_type_id: int
    ) -> str | None:
        """The uid of the booking an earlier attempt made for this appointment, if any."""
        bookings = client.list_bookings(
            {
                "eventTypeId": event_type_id,
                "afterStart": utc_iso(event.start - dt.timedelta(minutes=1)),
                "beforeEnd": utc_iso(event.end + dt.timedelta(minutes=1)),
            }
        )
        for booking in bookings:
            metadata = booking.get("metadata") or {}
            if (
                isinstance(metadata, dict)
                and metadata.get("askproai_confirmation") == event.uid
                and str(booking.get("status", "")).lower() != "cancelled"
            ):
                return str(booking.get("uid") or "") or None
        return None

    def update_event(self, external_id: str, event: CalendarEvent) -> str | None:
        client = self._client(event.tenant_id)
        current = client.get_booking(external_id)
        if parse_time(current.get("start")) == event.start.astimezone(dt.UTC):
            return None  # only its notes or customer changed: nothing Cal.com can take
        moved = client.reschedule_booking(
            external_id, start=utc_iso(event.start), reason="Umgebucht über AskProAI"
        )
        return str(moved.get("uid") or "") or None

    def cancel_event(self, external_id: str) -> None:
        # all_tenants: the external id does not name the tenant; the appointment holding it does.
        tenant_id = (
            Appointment.objects.all_tenants()
            .filter(external_calendar_id=external_id)
            .values_list("tenant_id", flat=True)
            .first()
        )
        if tenant_id is None:
            return  # nothing of ours refers to it any more
        client = self._client(tenant_id)
        try:
            client.cancel_booking(external_id, reason="Abgesagt über AskProAI")
        except CalcomRejected as exc:
            if exc.status in (404, 410):
                return
            current = client.get_booking(external_id)
            if str(current.get("status", "")).lower() != "cancelled":
                raise
