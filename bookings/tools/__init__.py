"""Operations of the bookings app: the `booking` and `customer` services, and (imported here
so every web and worker process knows them) the outbox handlers of its side effects."""

from bookings import side_effects
from bookings.tools import booking, customer

__all__ = ["booking", "customer", "side_effects"]
