"""Runs in a spawned process for the cross-process rate limit test.

A fresh interpreter with its own Django and its own Redis connection pool, like a second
gunicorn worker; Django is set up here because spawn starts from nothing.
"""

from __future__ import annotations

import os
from typing import Any


def hit_many(
    redis_url: str, tenant_id: int, hits: int, now: float, barrier: Any, results: Any
) -> None:
    os.environ["DJANGO_SETTINGS_MODULE"] = "askproai.settings"
    os.environ["REDIS_URL"] = redis_url
    import django

    django.setup()
    from mcp_core.ratelimit import rate_limit_hit
    from tenants.policy import plan_limits

    # Start together so the processes really race for the same counter.
    barrier.wait(timeout=60)
    allowed = 0
    for _ in range(hits):
        decision = rate_limit_hit(
            tenant_id=tenant_id,
            limit=plan_limits("basic").api_calls_per_hour,
            service="booking",
            now=now,
        )
        allowed += decision.allowed
    results.put(allowed)
