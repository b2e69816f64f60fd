"""Operations of the bookings app: the `booking` and `customer` services, the staff.* operations
that need appointments, and (imported here so every web and worker process knows them) the
booking saga and the outbox handlers of its side effects, both declared in `bookings.services`,
and of the SMS reminders (`bookings.notifications.reminders`).
"""

from bookings.notifications import reminders
from bookings.services import side_effects
from bookings.tools import booking, customer, phone, staff

__all__ = ["booking", "customer", "phone", "reminders", "side_effects", "staff"]
