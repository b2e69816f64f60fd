"""The upstream registry through `manage.py mcp upstream`, and a Streamable HTTP upstream (a
second AskProAI /mcp, so no Node and no network): names, collisions, roles, credentials,
health that marks an upstream unreachable and brings it back."""

import asyncio
import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from mcp_core.federation.sessions import close_pool
from mcp_core.federation.tasks import check_upstreams
from mcp_core.models import AuditLog, Upstream
from tenants.authentication import forget_checked_keys
from tests.factories import ApiKeyFactory, CompanyFactory
from tests.mcp_core.federation_helpers import list_all, mcp_session, upstream_cli

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _sessions_closed():
    yield
    close_pool()


def _refused(*args: str) -> dict:
    out = StringIO()
    with pytest.raises(SystemExit) as exited:
        call_command("mcp", "upstream", *args, "--json", stdout=out)
    assert exited.value.code == 1
    return json.loads(out.getvalue())["error"]


@pytest.mark.parametrize(
    ("slug", "field"),
    [("booking", "slug"), ("my_tools", "slug"), ("Memory", "slug"), ("x" * 33, "slug")],
)
def test_a_bad_slug_is_refused_and_nothing_is_written(slug, field):
    error = _refused("add", slug, "--url", "http://127.0.0.1:9/mcp")
    assert error["type"] == "VALIDATION_FAILED"
    assert field in error["details"]
    assert not Upstream.objects.exists()


def test_a_slug_taken_globally_or_by_the_tenant_is_refused():
    tenant = CompanyFactory()
    upstream_cli("add", "docs", "--url", "http://127.0.0.1:9/mcp")
    assert (
        _refused("add", "docs", "--url", "http://127.0.0.1:9/x", "--tenant", str(tenant.pk))["type"]
        == "CONFLICT"
    )
    other = CompanyFactory()
    upstream_cli("add", "crm", "--url", "http://127.0.0.1:9/mcp", "--tenant", str(tenant.pk))
    # Another tenant may use the same slug for its own upstream; a global one may not.
    upstream_cli("add", "crm", "--url", "http://127.0.0.1:9/mcp", "--tenant", str(other.pk))
    assert _refused("add", "crm", "--url", "http://127.0.0.1:9/mcp")["type"] == "CONFLICT"
    assert Upstream.objects.count() == 3


def test_bad_transport_and_pairs_are_refused():
    assert _refused("add", "web", "--url", "ftp://example.org/mcp")["type"] == "VALIDATION_FAILED"
    error = _refused("add", "web", "--url", "http://127.0.0.1:9/mcp", "--env", "NOEQUALS")
    assert error["details"] == {"--env": ["NOEQUALS"]}
    assert _refused("check", "nothing")["type"] == "RESOURCE_NOT_FOUND"
    assert _refused("remove", "nothing")["type"] == "RESOURCE_NOT_FOUND"
    assert not Upstream.objects.exists()


def test_credentials_are_encrypted_at_rest_and_never_listed():
    tenant = CompanyFactory()
    row = upstream_cli(
        "add",
        "crm",
        "--url",
        "http://127.0.0.1:9/mcp",
        "--header",
        "Authorization=Bearer crm-secret-token",
        "--tenant",
        str(tenant.pk),
    )
    assert row["credential_names"] == ["Authorization"]
    listed = upstream_cli("list", "--tenant", str(tenant.pk))
    assert "crm-secret-token" not in json.dumps(listed)
    stored = Upstream.objects.values_list("credentials", flat=True).get()
    assert isinstance(stored, str) and "crm-secret-token" in stored  # decrypted on read
    with connection.cursor() as cursor:
        cursor.execute("SELECT credentials FROM mcp_core_upstream")
        [(raw,)] = cursor.fetchall()
    assert "crm-secret-token" not in raw
    assert AuditLog.objects.for_tenant(tenant).filter(action="upstream.registered").count() == 1
    upstream_cli("remove", "crm", "--tenant", str(tenant.pk))
    assert not Upstream.objects.exists()
    assert AuditLog.objects.for_tenant(tenant).filter(action="upstream.removed").count() == 1


@pytest.fixture
def peer(live_server):
    """A second tenant's readonly key on our own /mcp: the upstream's credential."""
    return ApiKeyFactory.create_with_plaintext(role="readonly")


def _add_peer(live_server, peer_token, tenant_id, *extra):
    return upstream_cli(
        "add",
        "peer",
        "--url",
        f"{live_server.url}/mcp?toolsets=all",
        "--header",
        f"Authorization=Bearer {peer_token}",
        "--tenant",
        str(tenant_id),
        *extra,
    )


def test_an_http_upstream_lists_and_answers_with_its_own_credentials(live_server, peer):
    peer_key, peer_token = peer
    caller, token = ApiKeyFactory.create_with_plaintext(role="owner")
    _, outsider_token = ApiKeyFactory.create_with_plaintext(role="owner")
    row = _add_peer(live_server, peer_token, caller.tenant_id)
    # Our /mcp answers the SDK's GET stream with 405: that is no failure.
    assert (row["status"], row["consecutive_failures"]) == ("healthy", 0)
    assert "peer_tenant_getTenant" in row["tools"]
    url = f"{live_server.url}/mcp?toolsets=all"

    async def work(client):
        tools = await list_all(client)
        return tools, await client.call_tool("peer_tenant_getTenant", {})

    tools, result = asyncio.run(mcp_session(url, token, work))
    by_name = {tool.name: tool for tool in tools}
    assert "tenant_getTenant" in by_name and "peer_tenant_getTenant" in by_name
    # Schemas and descriptions pass through unchanged.
    assert (
        by_name["peer_tenant_getTenant"].output_schema == by_name["tenant_getTenant"].output_schema
    )
    assert by_name["peer_tenant_getTenant"].description == by_name["tenant_getTenant"].description
    assert result.is_error is False
    # The upstream saw its own key, not the caller's.
    assert result.structured_content["tenant"]["id"] == peer_key.tenant_id != caller.tenant_id

    async def outsider_work(client):
        names = [tool.name for tool in await list_all(client)]
        return names, await client.call_tool("tenant_getTenant", {})

    names, _ = asyncio.run(mcp_session(url, outsider_token, outsider_work))
    assert not [name for name in names if name.startswith("peer_")]


def test_an_upstream_role_hides_and_refuses_its_tools(live_server, peer):
    _, peer_token = peer
    owner, owner_token = ApiKeyFactory.create_with_plaintext(role="owner")
    _, readonly_token = ApiKeyFactory.create_with_plaintext(role="readonly", tenant=owner.tenant)
    _add_peer(live_server, peer_token, owner.tenant_id, "--role", "manager")
    url = f"{live_server.url}/mcp?toolsets=all"

    async def work(client):
        names = [tool.name for tool in await list_all(client)]
        return names, await client.call_tool("peer_tenant_getTenant", {})

    names, refused = asyncio.run(mcp_session(url, readonly_token, work))
    assert "peer_tenant_getTenant" not in names
    assert refused.is_error is True
    error = json.loads(refused.content[0].text)["error"]
    assert (error["type"], error["details"]["required_role"]) == ("PERMISSION_DENIED", "manager")
    names, allowed = asyncio.run(mcp_session(url, owner_token, work))
    assert "peer_tenant_getTenant" in names and allowed.is_error is False


def test_failed_checks_mark_it_unreachable_and_a_good_one_brings_it_back(
    live_server, peer, settings
):
    settings.MCP_UPSTREAM_FAILURE_THRESHOLD = 3
    peer_key, peer_token = peer
    caller, token = ApiKeyFactory.create_with_plaintext(role="owner")
    _add_peer(live_server, peer_token, caller.tenant_id)
    peer_key.revoked_at = timezone.now()
    peer_key.save(update_fields=["revoked_at"])
    forget_checked_keys()
    upstream = Upstream.objects.get()

    for failures in (1, 2):
        check_upstreams()
        upstream.refresh_from_db()
        # One or two failed checks do not take a working upstream offline.
        assert (upstream.status, upstream.consecutive_failures) == ("healthy", failures)
    check_upstreams()
    row = upstream_cli("check", "peer", "--tenant", str(caller.tenant_id))
    assert (row["status"], row["consecutive_failures"]) == ("unreachable", 4)
    assert row["last_error"]

    url = f"{live_server.url}/mcp?toolsets=all"

    async def names(client):
        return [tool.name for tool in await list_all(client)]

    assert not [n for n in asyncio.run(mcp_session(url, token, names)) if n.startswith("peer_")]

    peer_key.revoked_at = None
    peer_key.save(update_fields=["revoked_at"])
    forget_checked_keys()
    assert check_upstreams() == {str(upstream.pk): "healthy"}
    assert "peer_tenant_getTenant" in asyncio.run(mcp_session(url, token, names))
