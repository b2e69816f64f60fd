import re
import zoneinfo
from functools import lru_cache
from typing import Any

from django.core.exceptions import ValidationError

from tenants.hours import business_hours_errors

# An ISO 639-1 language code, as routing rules and staff languages hold it (lower case).
LANGUAGE_PATTERN = re.compile(r"^[a-z]{2}$")


@lru_cache(maxsize=1)
def _zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def validate_time_zone(value: str) -> None:
    if value not in _zones():
        raise ValidationError(f"'{value}' is not an IANA time zone such as Europe/Berlin.")


def validate_business_hours(value: Any) -> None:
    errors = business_hours_errors(value)
    if errors:
        raise ValidationError(
            [f"{field}: {message}" for field, messages in errors.items() for message in messages]
        )
