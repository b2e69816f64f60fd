"""Operations of the bookings app: the `booking` and `customer` services."""

from bookings.tools import booking, customer, phone

__all__ = ["booking", "customer", "phone"]
