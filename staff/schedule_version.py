"""The tenant's schedule version: one number per tenant in the shared cache, bumped by every
write to what a staff member's schedule is made of (branches, services, staff members, skills,
working hours, time blocks: `staff.signals` on every save and delete, the services themselves
where they write in bulk).

Readers that cache such rows key them by the version (the availability engine's working hours
and a booking request's branch, service and staff member), so a bump makes every older copy
unreachable at once: no worker reads a cached copy older than the write.
"""

from __future__ import annotations

import time
from functools import partial

from django.core.cache import cache
from django.db import transaction


def _version_key(tenant_id: int) -> str:
    # The name predates staff owning the version; kept so a deploy keeps the caches warm.
    return f"availability:schedule-version:{tenant_id}"


def schedule_version(tenant_id: int) -> int | None:
    """The tenant's schedule version, None when the cache is unreachable (then it is bypassed).

    A missing version starts at the current time in nanoseconds, so it can never return to a
    number under which rows from before an eviction are still cached.
    """
    key = _version_key(tenant_id)
    value = cache.get(key)
    if value is None:
        cache.add(key, time.time_ns(), None)
        value = cache.get(key)
    return value if isinstance(value, int) else None


def _bump(tenant_id: int) -> None:
    key = _version_key(tenant_id)
    try:
        cache.incr(key)
    except ValueError:  # no version yet: any fresh one invalidates nothing and is safe
        cache.set(key, time.time_ns(), None)


def schedule_version_bump(*, tenant_id: int) -> None:
    """Make every cached copy of the tenant's schedules unreachable.

    Call it on every write to working hours (skills and blocks are read fresh, but calling it
    for them is harmless). It bumps the tenant's schedule version at once and, inside a
    transaction, again on commit, so a reader that cached the old rows in between is dropped too.
    """
    _bump(tenant_id)
    if transaction.get_connection().in_atomic_block:
        transaction.on_commit(partial(_bump, tenant_id))
