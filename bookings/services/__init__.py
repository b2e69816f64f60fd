"""Writes of the bookings app: keyword-only, tenant first, actor second, with an audit row.

One module per concern; the public services and their result types are re-exported here, so
callers import them from `bookings.services`:

- `customers`: find or create a customer by phone number, upsert, GDPR export and erasure;
- `create`: `booking_create`, the checks before the booking saga and the answer after it;
- `reserve`: the booking saga, declared with its steps, and its reserve step (`booking_reserve`,
  the appointment and its outbox messages in one transaction), the point of no return;
- `lifecycle`: cancel, confirm, mark as no-show, reschedule and update an appointment;
- `side_effects`: the calendar copy and the customer's notices, written to the transactional
  outbox by the writes above, with the outbox handlers that deliver them;
- `conflicts`: the answer when a staff member's time cannot be had (SlotTaken with the next
  free slots) and the overlap checks every write that claims such time runs;
- `staff`: the staff app's schedule and block writes, with the appointments they leave out.

No double booking: on PostgreSQL the exclusion constraint `appointment_no_staff_overlap` has the
last word (a new appointment it refuses is not inserted, a moved one raises IntegrityError; both
become SlotTaken); on SQLite every write transaction is IMMEDIATE (the write lock is taken at
BEGIN), so the overlap query inside the transaction cannot be raced.
"""

from bookings.services.create import (
    SOURCE_BY_FRONT_DOOR,
    CreatedBooking,
    booking_create,
)
from bookings.services.customers import (
    ErasureResult,
    UpsertResult,
    customer_data_export,
    customer_erase,
    customer_get_or_create_by_phone,
    customer_upsert,
)
from bookings.services.lifecycle import (
    BookingChanges,
    booking_cancel,
    booking_confirm,
    booking_mark_no_show,
    booking_reschedule,
    booking_update,
)
from bookings.services.reserve import (
    Reservation,
    ReservationRequest,
    booking_create_saga,
    booking_reserve,
)
from bookings.services.side_effects import (
    CALENDAR_TOPIC,
    NOTIFICATION_TOPIC,
    NotificationUndelivered,
    booking_calendar_deliver,
    booking_calendar_sync,
    booking_calendar_sync_failed,
    booking_calendar_sync_gave_up,
    booking_notification_deliver,
    booking_notify,
)
from bookings.services.staff import (
    CheckedBlock,
    CheckedScheduleUpdate,
    staff_schedule_update_checked,
    staff_time_block_checked,
)

__all__ = [
    "CALENDAR_TOPIC",
    "NOTIFICATION_TOPIC",
    "SOURCE_BY_FRONT_DOOR",
    "BookingChanges",
    "CheckedBlock",
    "CheckedScheduleUpdate",
    "CreatedBooking",
    "ErasureResult",
    "NotificationUndelivered",
    "Reservation",
    "ReservationRequest",
    "UpsertResult",
    "booking_calendar_deliver",
    "booking_calendar_sync",
    "booking_calendar_sync_failed",
    "booking_calendar_sync_gave_up",
    "booking_cancel",
    "booking_confirm",
    "booking_create",
    "booking_create_saga",
    "booking_mark_no_show",
    "booking_notification_deliver",
    "booking_notify",
    "booking_reschedule",
    "booking_reserve",
    "booking_update",
    "customer_data_export",
    "customer_erase",
    "customer_get_or_create_by_phone",
    "customer_upsert",
    "staff_schedule_update_checked",
    "staff_time_block_checked",
]
