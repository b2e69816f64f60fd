"""Confirmation numbers a caller can read back on the phone.

Six characters in two groups ("K7M-4RT") from an alphabet without look- or sound-alikes
(no 0/O, 1/I/L, 2/Z, 5/S, 8/B, G/Q): about 1.5e8 combinations, unique-constrained in the database.
"""

import secrets

ALPHABET = "ACDEFHJKMNPRTUVWXY34679"
LENGTH = 6


def new_confirmation_number() -> str:
    chars = "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))
    return f"{chars[:3]}-{chars[3:]}"


def normalize_confirmation_number(raw: str) -> str:
    """What a caller or agent typed ('k7m 4rt') → the stored form ('K7M-4RT')."""
    compact = "".join(ch for ch in raw.upper() if ch.isalnum())
    if len(compact) != LENGTH:
        return raw.strip().upper()
    return f"{compact[:3]}-{compact[3:]}"
