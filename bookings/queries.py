"""bookings' hand-written statements: the rows every booking reads and writes, as single
statements (`common.rows`) or as SQL the ORM would spend more time compiling than the
database spends answering. The only module of bookings that writes SQL or calls the
statement helper."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from functools import cache
from typing import Any

from django.db import connection

from bookings.enums import ACTIVE_STATUSES, EXPERIENCE_CAP, AppointmentStatus
from bookings.models import Appointment, Customer, SmsMessage, SmsTemplate
from common import rows
from staff.models import Service, Staff, TimeBlock
from tenants.models import Branch


def appointment_insert_unless_conflict(**fields: Any) -> int | None:
    """The new appointment's id, or None when a unique or exclusion constraint refused it
    (no error, so the surrounding transaction goes on)."""
    appointment_id = rows.insert_unless_conflict(Appointment, **fields)
    return None if appointment_id is None else int(appointment_id)


def customer_by_phone(*, tenant_id: int, phone: str) -> tuple[int, str, str] | None:
    """(id, name, e-mail) of the tenant's customer with this E.164 number."""
    found = rows.select_one(
        Customer, ("id", "name", "email"), {"tenant_id": tenant_id, "phone": phone}
    )
    return None if found is None else (int(found[0]), str(found[1]), str(found[2]))


def customer_insert(**fields: Any) -> int:
    return int(rows.insert(Customer, **fields))


def customer_update(match: Mapping[str, Any], **fields: Any) -> int:
    return rows.update(Customer, match, **fields)


BY_BLOCK, BY_APPOINTMENT = 0, 1


def first_in_the_way(
    *,
    tenant_id: int,
    staff_id: int,
    begin: dt.datetime,
    end: dt.datetime,
    occupied: tuple[dt.datetime, dt.datetime],
    exclude_appointment_id: int | None,
) -> tuple[int, str] | None:
    """What keeps the staff member from `begin`–`end` (`occupied` with the service's buffers):
    (BY_BLOCK, the first time block's kind), else (BY_APPOINTMENT, "") for an active
    appointment, else None. Blocks and appointments in one round trip; the statement is
    written out because it runs on every booking and the ORM spent more Python compiling its
    union than the database spent answering it."""
    adapt = connection.ops.adapt_datetimefield_value
    params: list[Any] = [tenant_id, staff_id, adapt(end), adapt(begin)]
    params += [tenant_id, staff_id, adapt(occupied[1]), adapt(occupied[0])]
    exclude = ""
    if exclude_appointment_id is not None:
        exclude = " AND id <> %s"
        params.append(exclude_appointment_id)
    with connection.cursor() as cursor:
        cursor.execute(_IN_THE_WAY_SQL.format(exclude=exclude), params)
        row = cursor.fetchone()
    return None if row is None else (int(row[0]), str(row[2]))


# The active statuses are written into the text, not passed as parameters: the prepared
# statement's generic plan can then match the partial index on active appointments
# (appointment_active_end_idx) instead of reading every appointment of the tenant.
_ACTIVE_SQL = ", ".join(f"'{status}'" for status in ACTIVE_STATUSES)
_IN_THE_WAY_SQL = (
    f"SELECT {BY_BLOCK} AS what, start_time AS first, kind FROM {TimeBlock._meta.db_table}"  # noqa: S608 - our own table names and constants
    " WHERE tenant_id = %s AND staff_id = %s AND start_time < %s AND end_time > %s"
    f" UNION ALL SELECT {BY_APPOINTMENT}, occupied_start, '' FROM {Appointment._meta.db_table}"
    f" WHERE tenant_id = %s AND staff_id = %s AND status IN ({_ACTIVE_SQL})"
    " AND occupied_start < %s AND occupied_end > %s{exclude}"
    " ORDER BY 1, 2 LIMIT 1"
)


def staff_in_the_way(
    *,
    tenant_id: int,
    staff_ids: list[int],
    begin: dt.datetime,
    end: dt.datetime,
    occupied: tuple[dt.datetime, dt.datetime],
) -> tuple[set[int], dict[int, int]]:
    """For a booking without a staff member: which of `staff_ids` are kept from `begin`–`end`
    (a time block, or an active appointment in `occupied`), and how many completed appointments
    each has, up to EXPERIENCE_CAP (the tie-break of the pick). One round trip for all of them,
    as `first_in_the_way` is for one."""
    adapt = connection.ops.adapt_datetimefield_value
    marks = ", ".join(["%s"] * len(staff_ids))
    params: list[Any] = [tenant_id, *staff_ids, adapt(end), adapt(begin)]
    params += [tenant_id, *staff_ids, adapt(occupied[1]), adapt(occupied[0])]
    params += [tenant_id, tenant_id, *staff_ids]
    with connection.cursor() as cursor:
        cursor.execute(_STAFF_IN_THE_WAY_SQL.format(staff=marks), params)
        found = cursor.fetchall()
    in_the_way = {int(staff_id) for what, staff_id, _ in found if what != _COMPLETED}
    completed = {int(staff_id): int(n) for what, staff_id, n in found if what == _COMPLETED}
    return in_the_way, completed


_COMPLETED = 2
_COMPLETED_STATUS = AppointmentStatus.COMPLETED.value
_STAFF_IN_THE_WAY_SQL = (
    f"SELECT {BY_BLOCK} AS what, staff_id, 0 AS n FROM {TimeBlock._meta.db_table}"  # noqa: S608 - our own table names and constants
    " WHERE tenant_id = %s AND staff_id IN ({staff}) AND start_time < %s AND end_time > %s"
    f" UNION ALL SELECT {BY_APPOINTMENT}, staff_id, 0 FROM {Appointment._meta.db_table}"
    f" WHERE tenant_id = %s AND staff_id IN ({{staff}}) AND status IN ({_ACTIVE_SQL})"
    " AND occupied_start < %s AND occupied_end > %s"
    # Each member's completed appointments counted only up to the cap: at most that many
    # entries of appointment_completed_idx per member, however long the history.
    f" UNION ALL SELECT {_COMPLETED}, member.id, (SELECT COUNT(*) FROM (SELECT 1"
    f" FROM {Appointment._meta.db_table} AS done WHERE done.tenant_id = %s"
    f" AND done.staff_id = member.id AND done.status = '{_COMPLETED_STATUS}'"
    f" LIMIT {EXPERIENCE_CAP}) AS capped) FROM {Staff._meta.db_table} AS member"
    " WHERE member.tenant_id = %s AND member.id IN ({staff})"
)


def busy_between(
    *,
    tenant_id: int,
    staff_ids: list[int],
    begin: dt.datetime,
    end: dt.datetime,
    occupied: tuple[dt.datetime, dt.datetime],
    exclude_appointment_id: int | None,
) -> list[tuple[int, int, int, int]]:
    """(BY_BLOCK or BY_APPOINTMENT, staff id, start, end) of the time blocks of `staff_ids`
    overlapping `begin`–`end` and of their active appointments' occupied ranges overlapping
    `occupied`, times as whole epoch seconds computed by the database (reading thousands of
    datetimes through the driver costs more than the search). One statement, written out: the
    availability search runs it on every check and the ORM spent more Python compiling its two
    annotated queries than the database spent answering them."""
    adapt = connection.ops.adapt_datetimefield_value
    marks = ", ".join(["%s"] * len(staff_ids))
    params: list[Any] = [tenant_id, *staff_ids, adapt(end), adapt(begin)]
    params += [tenant_id, *staff_ids, adapt(occupied[1]), adapt(occupied[0])]
    exclude = ""
    if exclude_appointment_id is not None:
        exclude = " AND id <> %s"
        params.append(exclude_appointment_id)
    with connection.cursor() as cursor:
        cursor.execute(_busy_sql(connection.vendor).format(staff=marks, exclude=exclude), params)
        return [(int(a), int(b), int(c), int(d)) for a, b, c, d in cursor.fetchall()]


@cache
def _busy_sql(vendor: str) -> str:
    if vendor == "postgresql":
        epoch = "ROUND(EXTRACT(EPOCH FROM {column}))::bigint"
    else:
        epoch = "CAST(ROUND((julianday({column}) - 2440587.5) * 86400) AS INTEGER)"
    block = epoch.format(column="start_time"), epoch.format(column="end_time")
    busy = epoch.format(column="occupied_start"), epoch.format(column="occupied_end")
    return (
        f"SELECT {BY_BLOCK}, staff_id, {block[0]}, {block[1]} FROM {TimeBlock._meta.db_table}"  # noqa: S608 - our own table names and constants
        " WHERE tenant_id = %s AND staff_id IN ({staff}) AND start_time < %s AND end_time > %s"
        f" UNION ALL SELECT {BY_APPOINTMENT}, staff_id, {busy[0]}, {busy[1]}"
        f" FROM {Appointment._meta.db_table} WHERE tenant_id = %s AND staff_id IN ({{staff}})"
        f" AND status IN ({_ACTIVE_SQL}) AND occupied_start < %s AND occupied_end > %s{{exclude}}"
    )


# ------------------------------------------------------------------------ customer messages


def sms_message_insert(**fields: Any) -> int:
    return int(rows.insert(SmsMessage, **fields))


def sms_message_update(message_id: int, **fields: Any) -> int:
    return rows.update(SmsMessage, {"pk": message_id}, **fields)


def booking_message_details(
    *, tenant_id: int, appointment_id: int, kind: str
) -> tuple[Any, ...] | None:
    """What a message about the appointment says: (confirmation number, start (aware), service,
    branch, branch time zone, staff member, customer name, phone, e-mail, erased_at, the
    tenant's SMS template of `kind` or None); None for an appointment gone. One statement,
    written out because every booking sends one (the ORM spent more Python building this join
    than the database spent on it)."""
    with connection.cursor() as cursor:
        cursor.execute(_message_details_sql(), [kind, tenant_id, appointment_id])
        row = cursor.fetchone()
    if row is None:
        return None
    return (row[0], rows.convert(Appointment, "start_time", row[1]), *row[2:])


@cache
def _message_details_sql() -> str:
    table = {model: model._meta.db_table for model in (Appointment, Customer, Service, Staff)}
    return f"""
        SELECT a.confirmation_number, a.start_time, s.name, b.name, b.time_zone, st.name,
               c.name, c.phone, c.email, c.erased_at,
               (SELECT t.body FROM {SmsTemplate._meta.db_table} t
                 WHERE t.tenant_id = a.tenant_id AND t.kind = %s)
          FROM {table[Appointment]} a
          JOIN {table[Service]} s ON s.id = a.service_id
          JOIN {Branch._meta.db_table} b ON b.id = a.branch_id
          JOIN {table[Staff]} st ON st.id = a.staff_id
          JOIN {table[Customer]} c ON c.id = a.customer_id
         WHERE a.tenant_id = %s AND a.id = %s
    """  # noqa: S608 - our own table names
