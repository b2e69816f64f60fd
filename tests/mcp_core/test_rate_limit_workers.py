"""Rate limits hold across real worker processes sharing Redis (docs/contract.md)."""

import json
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.factories import ApiKeyFactory, SubscriptionFactory
from tests.serving import gunicorn

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]


def _call(base: str, token: str) -> tuple[int, dict[str, str], dict]:
    request = urllib.request.Request(  # noqa: S310 — our own local server
        f"{base}/api/v2/mcp/execute",
        data=json.dumps({"service": "tenant", "operation": "validateTenantAccess"}).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return response.status, dict(response.headers), json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), json.loads(exc.read())


def test_basic_tenant_gets_exactly_100_calls_across_two_workers():
    subscription = SubscriptionFactory(plan="basic")
    _, token = ApiKeyFactory.create_with_plaintext(tenant=subscription.tenant)

    # A window far longer than the test, so no window boundary can split the count.
    with (
        gunicorn(workers=2, extra_env={"MCP_RATE_LIMIT_WINDOW": "1000000000"}) as base,
        ThreadPoolExecutor(max_workers=8) as pool,
    ):
        results = list(pool.map(lambda _: _call(base, token), range(110)))

    statuses = [status for status, _, _ in results]
    assert statuses.count(200) == 100
    assert statuses.count(429) == 10
    refused = [(headers, body) for status, headers, body in results if status == 429]
    for headers, body in refused:
        assert headers["X-RateLimit-Limit"] == "100"
        assert headers["X-RateLimit-Remaining"] == "0"
        assert int(headers["Retry-After"]) >= 1
        assert int(headers["X-RateLimit-Reset"]) > 0
        assert (body["error"]["type"], body["error"]["code"]) == ("RATE_LIMIT_EXCEEDED", 1004)
    remaining = sorted(int(h["X-RateLimit-Remaining"]) for s, h, _ in results if s == 200)
    assert remaining == list(range(100))
