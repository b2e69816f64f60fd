"""The bounds of tenant and branch settings (docs/contract.md), shared by the services that
enforce them and the contracts that publish them."""

from typing import Any

SETTINGS_MAX_KEYS = 100
SETTINGS_MAX_KEY_LENGTH = 64
SETTINGS_MAX_BYTES = 16 * 1024
# Settings are a flat object of options; a value may be a list or an object of its own, two
# more levels at most (docs/contract.md).
SETTINGS_MAX_DEPTH = 3
BRANCH_DEFAULT_SETTINGS: dict[str, Any] = {"slot_interval_minutes": 30, "min_notice_minutes": 60}
# The branch settings the availability engine reads: whole minutes within these bounds.
BRANCH_MINUTE_SETTINGS: dict[str, tuple[int, int]] = {
    "slot_interval_minutes": (5, 525_600),
    "min_notice_minutes": (0, 525_600),
}
