"""Phone numbers in E.164, the one form we store and compare (default region: Germany)."""

from functools import lru_cache

import phonenumbers
from django.core.exceptions import ValidationError

DEFAULT_REGION = "DE"


class InvalidPhoneNumber(ValueError):
    pass


def normalize_phone(raw: str, region: str = DEFAULT_REGION) -> str:
    """'030 1234567' → '+49301234567'; raises InvalidPhoneNumber for anything not dialable."""
    if not isinstance(raw, str) or not raw.strip():
        raise InvalidPhoneNumber("a phone number is required")
    return _normalized(raw, region)


# A pure function of its input that costs ~0.1 ms a call (parsing, and validation against the
# numbering plan), asked for the same caller's number several times per booking and per call.
@lru_cache(maxsize=4096)
def _normalized(raw: str, region: str) -> str:
    try:
        parsed = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhoneNumber(f"'{raw}' is not a phone number") from exc
    if not phonenumbers.is_valid_number(parsed):
        raise InvalidPhoneNumber(f"'{raw}' is not a valid phone number")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def validate_e164(value: str) -> None:
    """Django field validator: the stored value must already be normalised E.164."""
    try:
        normalized = normalize_phone(value)
    except InvalidPhoneNumber as exc:
        raise ValidationError(str(exc)) from exc
    if normalized != value:
        raise ValidationError(f"Store phone numbers in E.164, e.g. '{normalized}'.")
