"""Reads of the booking lifecycle. Tenant-owned rows are reached only through `for_tenant`."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from django.db.models import Q, QuerySet

from bookings.errors import AppointmentNotFound
from bookings.models import Appointment
from common.pagination import Page, paginate
from mcp_core.models import AuditLog
from tenants.models import Branch, Company
from tenants.selectors import month_start

APPOINTMENT_OBJECT_TYPE = "bookings.appointment"


def booking_get(*, tenant: Company, appointment_id: int) -> Appointment:
    """The appointment with its branch, service, staff member and customer.

    Raises AppointmentNotFound, also for another tenant's id (which must not be told apart)."""
    appointment = (
        Appointment.objects.for_tenant(tenant)
        .select_related("branch", "service", "staff", "customer")
        .filter(pk=appointment_id)
        .first()
    )
    if appointment is None:
        raise AppointmentNotFound(details={"appointment_id": appointment_id})
    return appointment


def booking_history(*, tenant: Company, appointment_id: int) -> list[AuditLog]:
    """The audit rows of one appointment, oldest first."""
    return list(
        AuditLog.objects.for_tenant(tenant)
        .filter(object_type=APPOINTMENT_OBJECT_TYPE, object_id=str(appointment_id))
        .order_by("created_at", "pk")
    )


def booking_notified_channels(*, tenant: Company, appointment_id: int) -> list[str]:
    """The channels the booking confirmation went out on (empty before it was sent)."""
    row = (
        AuditLog.objects.for_tenant(tenant)
        .filter(
            object_type=APPOINTMENT_OBJECT_TYPE,
            object_id=str(appointment_id),
            action="appointment.notified",
        )
        .order_by("created_at", "pk")
        .values_list("changes", flat=True)
        .first()
    )
    sent = row.get("sent") if isinstance(row, dict) else None
    return [str(channel) for channel in sent] if isinstance(sent, list) else []


def bookings_created_this_month(*, tenant: Company, now: dt.datetime | None = None) -> int:
    """Appointments created since the 1st of the month in the tenant's zone, any status (the
    number the plan's monthly booking quota counts, as tenant.getTenantQuota shows it)."""
    since = month_start(tenant=tenant, now=now)
    return Appointment.objects.for_tenant(tenant).filter(created_at__gte=since).count()


def _local_day_bounds(
    tenant: Company, date_from: dt.date | None, date_to: dt.date | None, branch_id: int | None
) -> Q:
    """Starts within date_from..date_to (inclusive) as local dates of each appointment's
    branch: one condition per time zone in use (usually one)."""
    branches = Branch.objects.for_tenant(tenant)
    if branch_id is not None:
        branches = branches.filter(pk=branch_id)
    condition = Q(pk__in=[])
    for zone_name in sorted(set(branches.values_list("time_zone", flat=True))):
        zone = ZoneInfo(zone_name)
        bounds = Q(branch__time_zone=zone_name)
        if date_from is not None:
            bounds &= Q(start_time__gte=dt.datetime.combine(date_from, dt.time.min, tzinfo=zone))
        if date_to is not None:
            after = date_to + dt.timedelta(days=1)
            bounds &= Q(start_time__lt=dt.datetime.combine(after, dt.time.min, tzinfo=zone))
        condition |= bounds
    return condition


def booking_list(
    *,
    tenant: Company,
    status: str | None = None,
    branch_id: int | None = None,
    staff_id: int | None = None,
    customer_id: int | None = None,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
) -> QuerySet[Appointment]:
    """The tenant's appointments by start time; dates are local dates of each branch."""
    appointments = Appointment.objects.for_tenant(tenant)
    if status is not None:
        appointments = appointments.filter(status=status)
    if branch_id is not None:
        appointments = appointments.filter(branch_id=branch_id)
    if staff_id is not None:
        appointments = appointments.filter(staff_id=staff_id)
    if customer_id is not None:
        appointments = appointments.filter(customer_id=customer_id)
    if date_from is not None or date_to is not None:
        appointments = appointments.filter(_local_day_bounds(tenant, date_from, date_to, branch_id))
    return appointments.select_related("branch").order_by("start_time", "pk")


def booking_list_page(
    *,
    tenant: Company,
    status: str | None = None,
    branch_id: int | None = None,
    staff_id: int | None = None,
    customer_id: int | None = None,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    page: int = 1,
    page_size: int = 20,
) -> Page[Appointment]:
    appointments = booking_list(
        tenant=tenant,
        status=status,
        branch_id=branch_id,
        staff_id=staff_id,
        customer_id=customer_id,
        date_from=date_from,
        date_to=date_to,
    )
    return paginate(appointments, page=page, page_size=page_size)
