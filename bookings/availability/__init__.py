"""The availability engine: which start times can be booked, for whom, and why not.

One engine serves booking.checkAvailability, booking.getBookingSlots, staff.getStaffAvailability,
staff.findAvailableStaff and the booking services' validation, so they always agree.

Rules, all in the branch's own time zone (`Branch.time_zone`):
- The service itself, [start, start + duration), must lie inside the branch's opening hours and
  the staff member's working periods, outside their breaks and outside their time blocks.
- Its occupied range, [start - buffer_before, end + buffer_after), must not overlap the occupied
  range of another active appointment of that staff member. Buffers may reach outside working
  hours or into a break or block: they are the staff member's set-up and clean-up time, which
  only other appointments compete for.
- The staff member is active, qualified for the service (a StaffService row) and works at an
  active branch that offers the service (a service with no branches is offered everywhere).
- The start is at least `min_notice_minutes` (branch setting, default 0) after `now` and at most
  MCP_BOOKING_MAX_ADVANCE_DAYS days after it.
- Listed slots start on a grid of `slot_interval_minutes` (branch setting, default 30) counted
  from the start of each working period; a booking (check_bookable) may start anywhere.

Daylight saving: the grid is laid out in local wall-clock time and each wall time is converted
with zoneinfo. A wall time that does not survive the round trip local → UTC → local lies in the
spring-forward gap and is dropped. A wall time of the repeated autumn hour is taken at its first
occurrence (fold=0) only, so no wall time is offered twice. Durations are real (absolute) time.

Queries per request are constant: branches, staff with skills and working hours (each one query,
cached), the blocks and appointments of the whole range (one statement,
`bookings.queries.busy_between`); the rest is interval arithmetic (sorted, merged intervals
searched with bisect). A booking without a staff member reads blocks, appointments and the
tie-break of every qualified member in one statement (`bookings.queries.staff_in_the_way`).
Working hours are cached per staff member under
the tenant's schedule version, which staff owns (`staff.schedule_version`: every write to a
branch, service, staff member, skill, working hours or time block bumps it). Appointments are
never cached.

The package, one module per concern (names with a leading underscore are shared between its
modules only; everything public is re-exported here):

- `bookable`: `check_bookable`, the rules for one start (any minute), and `booking_subjects`,
  the cached branch, service and staff member of a booking request;
- `search`: free slots (`find_slots`, `next_available`), free staff (`find_available_staff`)
  and a staff member's days (`staff_schedule`);
- `staff`: the staff reads that need appointments (availability, workload, performance, free
  staff with their ranking, appointments a schedule change or a block leaves out);
- `engine`: the engine itself, the blocks and appointments it loads, the free slots it finds;
- `rules`: what is booked, the rules per branch and staff member, and their loading;
- `schedules`: working hours per staff member, cached under the schedule version;
- `timeline`: epoch-second intervals, wall-clock time and the slot grid of a day.
"""

from bookings.availability.bookable import (
    BookingSubjects,
    Offer,
    booking_subjects,
    check_bookable,
)
from bookings.availability.engine import Slot
from bookings.availability.search import (
    StaffDay,
    find_available_staff,
    find_slots,
    next_available,
    staff_schedule,
)
from bookings.availability.staff import (
    AvailableStaff,
    StaffAvailability,
    StaffCandidate,
    StaffLoad,
    StaffPerformance,
    appointments_outside_schedule,
    appointments_overlapping,
    staff_availability,
    staff_find_available,
    staff_load,
    staff_performance,
    staff_workload,
    utilisation,
)

__all__ = [
    "AvailableStaff",
    "BookingSubjects",
    "Offer",
    "Slot",
    "StaffAvailability",
    "StaffCandidate",
    "StaffDay",
    "StaffLoad",
    "StaffPerformance",
    "appointments_outside_schedule",
    "appointments_overlapping",
    "booking_subjects",
    "check_bookable",
    "find_available_staff",
    "find_slots",
    "next_available",
    "staff_availability",
    "staff_find_available",
    "staff_load",
    "staff_performance",
    "staff_schedule",
    "staff_workload",
    "utilisation",
]
