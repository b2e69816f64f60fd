import math
import multiprocessing
import uuid

import pytest
from django.test import override_settings

from common.errors import RateLimitExceeded
from mcp_core import ratelimit
from mcp_core.ratelimit import (
    RateLimitDecision,
    raise_if_refused,
    rate_limit_hit,
    rate_limit_usage,
)
from tenants.policy import plan_limits
from tests.mcp_core import _ratelimit_worker

# Mid-window, so a test never straddles a window boundary: the window is
# [1_800_000_000, 1_800_003_600) and 2599.75 s are left of it.
NOW = 1_800_001_000.25
WINDOW_START = 1_800_000_000
RESET_AT = 1_800_003_600

UNREACHABLE_REDIS = "redis://127.0.0.1:1/0"
UNREACHABLE_CACHES = {
    "default": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": UNREACHABLE_REDIS,
        "OPTIONS": {
            "CLIENT_CLASS": "django_redis.client.DefaultClient",
            "SOCKET_CONNECT_TIMEOUT": 0.1,
            "SOCKET_TIMEOUT": 0.1,
            "IGNORE_EXCEPTIONS": True,
        },
    }
}


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
def backend(request, settings):
    if request.param == "memory":
        settings.REDIS_URL = ""
    return request.param


@pytest.fixture
def tenant_id():
    # Counters outlive a test in this process (and in Redis until flushed); a fresh tenant
    # keeps tests from seeing each other's calls.
    return uuid.uuid4().int % 10**12


class _Recorder:
    def __init__(self):
        self.warnings = []

    def warning(self, event, **fields):
        self.warnings.append((event, fields))


def _hit(tenant_id, *, plan="basic", service="booking", now=NOW):
    return rate_limit_hit(
        tenant_id=tenant_id, limit=plan_limits(plan).api_calls_per_hour, service=service, now=now
    )


def test_basic_plan_allows_100_calls_and_refuses_the_101st(backend, tenant_id):
    decisions = [_hit(tenant_id) for _ in range(101)]

    assert [d.allowed for d in decisions] == [True] * 100 + [False]
    assert [d.remaining for d in decisions[:100]] == list(range(99, -1, -1))
    assert decisions[0] == RateLimitDecision(
        allowed=True, limit=100, remaining=99, reset_at=RESET_AT, retry_after=0, scope="tenant"
    )
    assert decisions[100] == RateLimitDecision(
        allowed=False, limit=100, remaining=0, reset_at=RESET_AT, retry_after=2600, scope="tenant"
    )
    assert rate_limit_usage(tenant_id=tenant_id, now=NOW) == 101


def test_headers_report_the_counter_and_retry_after_only_when_refused(backend, tenant_id):
    first = _hit(tenant_id)
    for _ in range(99):
        _hit(tenant_id)
    refused = _hit(tenant_id)

    assert first.headers() == {
        "X-RateLimit-Limit": "100",
        "X-RateLimit-Remaining": "99",
        "X-RateLimit-Reset": "1800003600",
    }
    assert refused.headers() == {
        "X-RateLimit-Limit": "100",
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": "1800003600",
        "Retry-After": "2600",
    }


def test_retry_after_is_at_least_one_second_at_the_end_of_the_window(backend, tenant_id):
    for _ in range(100):
        _hit(tenant_id)

    refused = _hit(tenant_id, now=RESET_AT - 0.2)

    assert (refused.allowed, refused.retry_after) == (False, 1)


def test_next_window_starts_from_zero(backend, tenant_id):
    for _ in range(101):
        _hit(tenant_id)

    next_window = _hit(tenant_id, now=NOW + 3600)

    assert next_window == RateLimitDecision(
        allowed=True,
        limit=100,
        remaining=99,
        reset_at=RESET_AT + 3600,
        retry_after=0,
        scope="tenant",
    )
    assert rate_limit_usage(tenant_id=tenant_id, now=NOW + 3600) == 1


def test_window_length_comes_from_settings(backend, tenant_id, settings):
    settings.MCP_RATE_LIMIT_WINDOW = 60

    decision = _hit(tenant_id)

    # 1_800_001_000.25 lies in the minute [1_800_000_960, 1_800_001_020).
    assert (decision.reset_at, decision.remaining) == (1_800_001_020, 99)


def test_plan_decides_the_limit(backend, tenant_id):
    assert _hit(tenant_id, plan="professional").limit == 1000
    assert _hit(tenant_id + 1, plan="enterprise").limit == 10000
    assert _hit(tenant_id + 2, plan="no-such-plan").limit == 100


def test_service_limit_refuses_only_that_service(backend, tenant_id, settings):
    settings.MCP_SERVICE_RATE_LIMITS = {"integration": 3}

    integration = [_hit(tenant_id, service="integration") for _ in range(4)]
    booking = _hit(tenant_id, service="booking")

    assert [(d.allowed, d.limit, d.remaining, d.scope) for d in integration] == [
        (True, 3, 2, "service:integration"),
        (True, 3, 1, "service:integration"),
        (True, 3, 0, "service:integration"),
        (False, 3, 0, "service:integration"),
    ]
    assert integration[3].retry_after == 2600
    # Refused calls count against the tenant too: 4 integration calls + this one.
    assert (booking.allowed, booking.limit, booking.remaining, booking.scope) == (
        True,
        100,
        95,
        "tenant",
    )
    assert rate_limit_usage(tenant_id=tenant_id, now=NOW) == 5


def test_tenant_limit_reached_first_is_reported_over_a_looser_service_limit(
    backend, tenant_id, settings
):
    settings.MCP_SERVICE_RATE_LIMITS = {"integration": 500}
    for _ in range(100):
        _hit(tenant_id, service="integration")

    refused = _hit(tenant_id, service="integration")

    assert (refused.allowed, refused.limit, refused.scope) == (False, 100, "tenant")


def test_tenants_are_counted_apart(backend, tenant_id):
    other = tenant_id + 1
    for _ in range(101):
        _hit(tenant_id)

    decision = _hit(other)

    assert (decision.allowed, decision.remaining) == (True, 99)
    assert rate_limit_usage(tenant_id=other, now=NOW) == 1
    assert rate_limit_usage(tenant_id=tenant_id, now=NOW) == 101


def test_usage_of_an_unseen_tenant_is_zero(backend, tenant_id):
    assert rate_limit_usage(tenant_id=tenant_id, now=NOW) == 0


def test_raise_if_refused_carries_the_decision(backend, tenant_id):
    for _ in range(100):
        raise_if_refused(_hit(tenant_id))
    refused = _hit(tenant_id)

    with pytest.raises(RateLimitExceeded) as exc:
        raise_if_refused(refused)

    assert exc.value.decision is refused
    assert exc.value.http_status == 429
    assert exc.value.details == {
        "limit": 100,
        "window_seconds": 3600,
        "retry_after": 2600,
        "scope": "tenant",
    }
    assert exc.value.envelope()["error"]["code"] == 1004


@pytest.mark.redis
def test_redis_keys_are_namespaced_and_expire_after_the_window(tenant_id, settings):
    from django_redis import get_redis_connection

    settings.MCP_SERVICE_RATE_LIMITS = {"integration": 3}
    _hit(tenant_id, service="integration")
    client = get_redis_connection("default")

    tenant_key = f"askproai:rl:{tenant_id}:{WINDOW_START}"
    service_key = f"askproai:rl:{tenant_id}:svc:integration:{WINDOW_START}"
    assert (int(client.get(tenant_key)), int(client.get(service_key))) == (1, 1)
    # 2599.75 s left of the window, rounded up, plus the 60 s margin.
    assert client.ttl(tenant_key) in (2660, 2659)


@pytest.mark.redis
def test_limit_is_exact_across_processes(settings, tenant_id):
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(4)
    results = ctx.Queue()
    workers = [
        ctx.Process(
            target=_ratelimit_worker.hit_many,
            args=(settings.REDIS_URL, tenant_id, 40, NOW, barrier, results),
        )
        for _ in range(4)
    ]
    for worker in workers:
        worker.start()
    allowed = [results.get(timeout=60) for _ in workers]
    for worker in workers:
        worker.join(timeout=10)

    assert sum(allowed) == 100
    assert [worker.exitcode for worker in workers] == [0, 0, 0, 0]
    assert rate_limit_usage(tenant_id=tenant_id, now=NOW) == 160


def test_unreachable_redis_falls_back_to_the_process_counter(tenant_id, monkeypatch):
    recorder = _Recorder()
    monkeypatch.setattr(ratelimit, "logger", recorder)
    monkeypatch.setattr(ratelimit, "_last_warning", -math.inf)

    with override_settings(REDIS_URL=UNREACHABLE_REDIS, CACHES=UNREACHABLE_CACHES):
        decisions = [_hit(tenant_id) for _ in range(101)]
        usage = rate_limit_usage(tenant_id=tenant_id, now=NOW)

    assert [d.allowed for d in decisions] == [True] * 100 + [False]
    assert decisions[100].retry_after == 2600
    assert usage == 101
    # One warning for 102 failed round trips: the throttle holds it to one per 30 s.
    assert [event for event, _ in recorder.warnings] == ["ratelimit.redis_unavailable"]
    assert recorder.warnings[0][1]["error"].startswith("ConnectionError")


@pytest.mark.redis
def test_shared_counting_resumes_when_redis_returns(tenant_id, monkeypatch):
    monkeypatch.setattr(ratelimit, "logger", _Recorder())
    with override_settings(REDIS_URL=UNREACHABLE_REDIS, CACHES=UNREACHABLE_CACHES):
        during_outage = [_hit(tenant_id) for _ in range(3)]

    after = _hit(tenant_id)

    assert [d.remaining for d in during_outage] == [99, 98, 97]
    # Back on the shared Redis counter, which never saw the outage's calls.
    assert after.remaining == 99
    assert rate_limit_usage(tenant_id=tenant_id, now=NOW) == 1
