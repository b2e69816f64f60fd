"""booking.processPhoneBooking: a booking as a phone call produces it.

The caller is known by the number they call from, the service by what they said ("einen
Herrenschnitt"), the staff member optionally by name. The booking itself is `booking_create`
(the one booking path: quota, rules, no double booking, idempotency, calendar, confirmation
SMS); when the wished time cannot be booked, the nearest free times of that day at the branch
(else the next ones after it) are offered instead, and nothing is written.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from django.utils import timezone

from bookings import availability
from bookings.enums import AppointmentSource
from bookings.errors import SlotNotBookable, SlotTaken
from bookings.services import CreatedBooking, booking_create
from common.errors import ValidationFailed
from common.phone import InvalidPhoneNumber, normalize_phone
from staff.models import Service, Staff
from staff.selectors import service_get, staff_get
from staff.spoken import service_match, spoken_key, staff_match
from tenants.models import Company
from tenants.selectors import branch_get

ALTERNATIVES_DEFAULT = 3
# What a caller says for "whoever is free" when asked for a staff member.
_ANYONE = {
    "egal",
    "egal wer",
    "ist egal",
    "irgendwer",
    "irgendjemand",
    "jemand",
    "wer frei ist",
    "keine praeferenz",
    "keine vorliebe",
    "beliebig",
    "mir egal",
    "ganz egal",
}


@dataclass(frozen=True)
class PhoneBooking:
    service: Service
    booked: CreatedBooking | None
    wished_staff: Staff | None = None
    refusal: str = ""  # why the wished time could not be booked
    alternatives: list[availability.Slot] = field(default_factory=list)


def phone_booking_process(
    *,
    tenant: Company,
    actor: str,
    caller_phone: str,
    branch_id: int,
    start_time: dt.datetime,
    service: str | None = None,
    service_id: int | None = None,
    staff: str | None = None,
    staff_id: int | None = None,
    notes: str = "",
    customer_name: str = "",
    call_id: str = "",
    idempotency_key: str | None = None,
    alternatives: int = ALTERNATIVES_DEFAULT,
) -> PhoneBooking:
    """Book for the caller, or find the nearest alternatives when the time is not free.

    The customer is found (or created) by the caller's number in E.164; a name fills in one
    not yet known. Raises ValidationFailed (bad number, neither service nor service_id),
    ServiceNotFound / ServiceAmbiguous / StaffNotFound / BranchNotFound (404) and whatever
    `booking_create` raises besides the two refusals answered with alternatives (SlotTaken,
    SlotNotBookable). Schedules what `booking_create` schedules."""
    try:
        phone = normalize_phone(caller_phone)
    except InvalidPhoneNumber as exc:
        raise ValidationFailed(
            "The caller's number is not valid.", details={"caller_phone": [str(exc)]}
        ) from exc
    branch = branch_get(tenant=tenant, branch_id=branch_id)
    if service_id is not None:
        chosen = service_get(tenant=tenant, service_id=service_id)
    elif service:
        chosen = service_match(tenant=tenant, said=service, branch_id=branch.pk)
    else:
        raise ValidationFailed(
            "Say which service to book.", details={"service": ["Give service or service_id."]}
        )
    wished: Staff | None = None
    if staff_id is not None:
        wished = staff_get(tenant=tenant, staff_id=staff_id)
    elif staff and not _anyone(staff):
        wished = staff_match(tenant=tenant, said=staff, branch_id=branch.pk)
    member_id = wished.pk if wished is not None else None
    try:
        created = booking_create(
            tenant=tenant,
            actor=actor,
            source=AppointmentSource.PHONE,
            service_id=chosen.pk,
            branch_id=branch.pk,
            start_time=start_time,
            staff_id=member_id,
            customer_phone=phone,
            customer_name=customer_name.strip(),
            notes=notes.strip(),
            idempotency_key=idempotency_key,
            call_id=call_id,
        )
    except (SlotTaken, SlotNotBookable) as refusal:
        zone = ZoneInfo(branch.time_zone)
        start = start_time if timezone.is_aware(start_time) else start_time.replace(tzinfo=zone)
        near = functools.partial(
            nearest_slots,
            tenant=tenant,
            service=chosen,
            branch_id=branch.pk,
            wished=start.astimezone(zone),
            limit=alternatives,
        )
        offered = near(staff_id=member_id)
        if wished is not None:
            # The wished person's own times first, then a colleague's at times they lack.
            theirs = {slot.start for slot in offered}
            room = max(alternatives - len(offered), 1)
            offered += [slot for slot in near() if slot.start not in theirs][:room]
        return PhoneBooking(
            service=chosen,
            booked=None,
            wished_staff=wished,
            refusal=refusal.message,
            alternatives=offered,
        )
    return PhoneBooking(service=chosen, booked=created)


def _anyone(said: str) -> bool:
    return spoken_key(said) in _ANYONE


def nearest_slots(
    *,
    tenant: Company,
    service: Service,
    branch_id: int,
    wished: dt.datetime,
    staff_id: int | None = None,
    limit: int = ALTERNATIVES_DEFAULT,
) -> list[availability.Slot]:
    """Up to `limit` free start times at the branch nearest to `wished` on its day (one slot per
    start time, earlier first on a tie), else the first ones after that day."""
    if limit < 1:
        return []
    day = availability.find_slots(
        tenant=tenant,
        service=service,
        date_from=wished.date(),
        date_to=wished.date(),
        branch_ids=[branch_id],
        staff_id=staff_id,
    )
    by_start: dict[dt.datetime, availability.Slot] = {}
    for slot in day:
        by_start.setdefault(slot.start, slot)
    nearest = sorted(
        by_start.values(), key=lambda slot: (abs((slot.start - wished).total_seconds()), slot.start)
    )[:limit]
    if len(nearest) < limit:
        after = dt.datetime.combine(wished.date() + dt.timedelta(days=1), dt.time(), wished.tzinfo)
        for slot in availability.next_available(
            tenant=tenant,
            service=service,
            after=after,
            branch_ids=[branch_id],
            staff_id=staff_id,
            limit=limit * 4,
        ):
            if slot.start not in by_start and len(nearest) < limit:
                by_start[slot.start] = slot
                nearest.append(slot)
    return sorted(nearest, key=lambda slot: slot.start)
