"""The Postgres upstream (npm server-postgres over stdio) as a tenant's read-only reporting
role: it answers reports on the tenant's own rows and nothing else."""

import asyncio
import json

import pytest

from mcp_core.federation.reporting import reporting_access_revoke
from mcp_core.federation.sessions import close_pool
from tests.factories import ApiKeyFactory, AppointmentFactory
from tests.mcp_core.federation_helpers import mcp_session, upstream_cli

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.mcp_servers,
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture
def tenants(settings, mcp_servers):
    settings.MCP_UPSTREAM_BIN_DIR = str(mcp_servers)
    key_a, token_a = ApiKeyFactory.create_with_plaintext(role="owner")
    key_b, _ = ApiKeyFactory.create_with_plaintext(role="owner")
    AppointmentFactory.create_batch(2, tenant=key_a.tenant)
    AppointmentFactory(tenant=key_b.tenant)
    yield key_a, token_a, key_b
    close_pool()
    reporting_access_revoke(tenant=key_a.tenant)


def test_the_reporting_upstream_reads_only_the_tenants_schema(live_server, tenants):
    key_a, token_a, key_b = tenants
    row = upstream_cli("add", "reports", "--reporting", "--tenant", str(key_a.tenant_id))
    assert row["status"] == "healthy" and row["tools"] == ["reports_query"]
    assert row["credential_names"] == ["PGPASSWORD"]
    # The password is in the encrypted environment, not in the command line.
    dsn = row["command"][-1]
    assert dsn.startswith("postgresql://") and dsn.split("@")[0].count(":") == 1

    schema_a, schema_b = f"reporting_t{key_a.tenant_id}", f"reporting_t{key_b.tenant_id}"
    queries = {
        "own": "SELECT count(*)::int AS n FROM appointments",
        "qualified": "SELECT count(*)::int AS n FROM " + schema_a + ".appointments",  # noqa: S608
        "other_schema": "SELECT count(*) FROM " + schema_b + ".appointments",  # noqa: S608
        "base_table": "SELECT count(*) FROM public.bookings_appointment",
        "customers": "SELECT count(*) FROM public.bookings_customer",
        "write": "DELETE FROM appointments",
    }

    async def work(client):
        return {
            name: await client.call_tool("reports_query", {"sql": sql})
            for name, sql in queries.items()
        }

    results = asyncio.run(mcp_session(f"{live_server.url}/mcp?toolsets=all", token_a, work))
    assert results["own"].is_error is False
    assert json.loads(results["own"].content[0].text) == [{"n": 2}]
    assert json.loads(results["qualified"].content[0].text) == [{"n": 2}]
    for refused in ("other_schema", "base_table", "customers", "write"):
        assert results[refused].is_error is True, refused
        error = json.loads(results[refused].content[0].text)["error"]
        assert error["type"] == "INTEGRATION_ERROR", refused
