"""Feature flags: is flag `name` on for this tenant now?

A flag is off, on, or targeted: on for listed tenants, for plans, and for a percentage of
tenants. A tenant's bucket is a stable hash of flag name and tenant id, so its answer never
changes between calls and raising the percentage only adds tenants. `killed` is the kill
switch. Rules are cached per process; a write clears this process's copy and bumps a version
in the cache (Redis when configured), which other processes compare at most every
FEATURE_FLAG_CHECK_SECONDS. A flag with no row is off.
"""

from __future__ import annotations

import hashlib
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction

from mcp_core.models import FeatureFlag, FeatureFlagChange, FlagState
from mcp_core.observability import logger

BUCKETS = 10_000  # a percentage is compared in hundredths
VERSION_KEY = "askproai:flags:version"

# The flags the code reads; a flag with no row is off. (The admin creates rows for them.)
KNOWN_FLAGS: dict[str, str] = {
    "adaptive_load_shedding": (
        "Under load, API clients' calls are shed (429, Retry-After) before the phone line's."
    ),
}


@dataclass(frozen=True)
class FlagRule:
    name: str
    state: str
    tenant_ids: frozenset[int]
    plans: frozenset[str]
    percentage: int
    killed: bool

    def enabled_for(self, *, tenant_id: int | None, plan: str | None) -> bool:
        if self.killed or self.state == FlagState.OFF:
            return False
        if self.state == FlagState.ON:
            return True
        if tenant_id is None:
            return False
        return (
            tenant_id in self.tenant_ids
            or (plan is not None and plan in self.plans)
            or bucket(self.name, tenant_id) < self.percentage * (BUCKETS // 100)
        )


def bucket(name: str, tenant_id: int) -> int:
    """The tenant's stable place in 0..9999 for flag `name` (independent across flags)."""
    digest = hashlib.sha256(f"{name}:{tenant_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % BUCKETS


@dataclass
class _Snapshot:
    rules: dict[str, FlagRule]
    version: str | None
    checked_at: float


_lock = threading.Lock()
_snapshot: _Snapshot | None = None


def flag_enabled(name: str, *, tenant_id: int | None, plan: str | None = None) -> bool:
    """Whether flag `name` is on for the tenant (`plan`: the plan in force); off when unknown."""
    rule = _rules().get(name)
    return rule is not None and rule.enabled_for(tenant_id=tenant_id, plan=plan)


def flags_for(*, tenant_id: int, plan: str | None) -> dict[str, bool]:
    """Every known or configured flag and whether it is on for the tenant."""
    rules = _rules()
    names = sorted({*KNOWN_FLAGS, *rules})
    return {
        name: name in rules and rules[name].enabled_for(tenant_id=tenant_id, plan=plan)
        for name in names
    }


def flag_rule(name: str) -> FlagRule | None:
    return _rules().get(name)


def flag_changed(*, actor: str, flag: FeatureFlag, action: str, changes: dict[str, Any]) -> None:
    """Record a change of `flag` (audit row) and make every process see it: this process at
    once, the others through the cache's version when the transaction commits."""
    FeatureFlagChange.objects.create(flag=flag, actor=actor, action=action, changes=changes)
    forget_flags()
    _bump_version()
    transaction.on_commit(_bump_version)


@transaction.atomic
def flag_kill(*, actor: str, flag: FeatureFlag, killed: bool) -> None:
    """The kill switch: `killed` turns the flag off for every tenant (False restores its rules).
    Audited as `flag.killed` / `flag.revived` when it changes."""
    locked = FeatureFlag.objects.select_for_update().get(pk=flag.pk)
    if locked.killed == killed:
        return
    locked.killed = killed
    locked.save(update_fields=["killed", "updated_at"])
    flag_changed(
        actor=actor,
        flag=locked,
        action="flag.killed" if killed else "flag.revived",
        changes={"killed": [not killed, killed]},
    )


def flag_state(flag: FeatureFlag) -> dict[str, Any]:
    """A flag's rules as plain JSON (what the audit row compares)."""
    return {
        "state": flag.state,
        "tenants": sorted(flag.tenants.values_list("pk", flat=True)) if flag.pk else [],
        "plans": sorted(flag.plans or []),
        "percentage": flag.percentage,
        "killed": flag.killed,
        "description": flag.description,
    }


def forget_flags() -> None:
    """Drop this process's copy of the rules (the next read loads them)."""
    global _snapshot
    with _lock:
        _snapshot = None


def _rules() -> dict[str, FlagRule]:
    global _snapshot
    now = time.monotonic()
    current = _snapshot
    if current is not None and now - current.checked_at < settings.FEATURE_FLAG_CHECK_SECONDS:
        return current.rules
    version = _cached_version()
    if current is not None and version is not None and version == current.version:
        current.checked_at = now
        return current.rules
    fresh = _Snapshot(_load(), version, now)
    with _lock:
        _snapshot = fresh
    return fresh.rules


def _load() -> dict[str, FlagRule]:
    rules: dict[str, FlagRule] = {}
    for flag in FeatureFlag.objects.prefetch_related("tenants"):
        rules[flag.name] = FlagRule(
            name=flag.name,
            state=flag.state,
            tenant_ids=frozenset(tenant.pk for tenant in flag.tenants.all()),
            plans=frozenset(str(plan) for plan in flag.plans or []),
            percentage=flag.percentage,
            killed=flag.killed,
        )
    return rules


def _cached_version() -> str | None:
    try:
        version = cache.get(VERSION_KEY)
        if version is None:
            # Evicted or never set: adopt one, so processes agree from now on.
            cache.add(VERSION_KEY, uuid.uuid4().hex, timeout=None)
            version = cache.get(VERSION_KEY)
    except Exception as exc:  # the cache down: reload every interval instead
        logger.warning("flags.cache_unavailable", error=f"{exc.__class__.__name__}: {exc}")
        return None
    return str(version) if version is not None else None


def _bump_version() -> None:
    try:
        cache.set(VERSION_KEY, uuid.uuid4().hex, timeout=None)
    except Exception as exc:  # the others fall back to re-reading every interval
        logger.warning("flags.cache_unavailable", error=f"{exc.__class__.__name__}: {exc}")
