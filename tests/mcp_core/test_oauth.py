"""OAuth sign-in for MCP: the official SDK client's OAuth provider against a live server —
discovery (RFC 9728, RFC 8414), dynamic registration (RFC 7591), authorization code with PKCE
through the German consent page after the admin's login, token, tool calls as that tenant —
plus tenant isolation, revocation, refresh and the client-credentials grant."""

import asyncio
import base64
import functools
import hashlib
import re
import secrets
from html import unescape
from urllib.parse import parse_qs, urlsplit

import httpx
import httpx2
import pytest
from mcp import Client
from mcp.client.auth import OAuthClientProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import (
    AuthorizationCodeResult,
    OAuthClientInformationFull,
    OAuthClientMetadata,
    OAuthToken,
)
from oauth2_provider.models import AccessToken, Application, RefreshToken

from mcp_core.models import AuditLog
from tests.factories import BranchFactory, CompanyFactory, OperatorProfileFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)
PASSWORD = "pw-for-tests-only"
REDIRECT = "http://127.0.0.1:33418/callback"
# The live server's first request loads every URL module (the Retell SDK takes seconds).
TIMEOUT = 60
# RFC 7592: registration hands the client a token for managing its own registration only.
REGISTRATION_SCOPE = "oauth2_provider:registration"
_post = functools.partial(httpx.post, timeout=TIMEOUT)
_get = functools.partial(httpx.get, timeout=TIMEOUT)


class MemoryStorage:
    def __init__(self) -> None:
        self.tokens: OAuthToken | None = None
        self.client: OAuthClientInformationFull | None = None

    async def get_tokens(self):
        return self.tokens

    async def set_tokens(self, tokens):
        self.tokens = tokens

    async def get_client_info(self):
        return self.client

    async def set_client_info(self, client_info):
        self.client = client_info


def _hidden_fields(html: str) -> dict[str, str]:
    fields = {}
    for tag in re.findall(r"<input[^>]*>", html):
        name = re.search(r'name="([^"]+)"', tag)
        value = re.search(r'value="([^"]*)"', tag)
        if name and 'type="hidden"' in tag:
            fields[name.group(1)] = unescape(value.group(1)) if value else ""
    return fields


async def _consent(base: str, username: str, authorize_url: str, *, role: str, services=None):
    """A person: signs in on the admin's login, reads the German consent page, chooses."""
    async with httpx.AsyncClient(base_url=base, timeout=TIMEOUT) as browser:
        login = await browser.get("/admin/login/", params={"next": authorize_url})
        token = _hidden_fields(login.text)["csrfmiddlewaretoken"]
        signed_in = await browser.post(
            "/admin/login/",
            params={"next": authorize_url},
            data={"csrfmiddlewaretoken": token, "username": username, "password": PASSWORD},
        )
        assert signed_in.status_code == 302, signed_in.text
        page = await browser.get(signed_in.headers["location"])
        assert page.status_code == 200, page.text
        assert "möchte auf" in page.text and "Zugriff erlauben" in page.text
        offered = re.findall(r'name="services" value="([^"]+)"', page.text)
        roles = re.findall(r'<option value="([^"]+)"', page.text)
        form = _hidden_fields(page.text)
        form.update({"allow": "Zugriff erlauben", "role": role})
        chosen = services if services is not None else offered
        answer = await browser.post(
            "/oauth/authorize/", data={**form, "services": chosen}, headers={"Referer": base}
        )
        assert answer.status_code == 302, answer.text
        return answer.headers["location"], offered, roles


def _sign_in(base: str, username: str, role: str, work, services=None):
    """Runs `work(client)` with the SDK's OAuth provider signed in through the consent page."""
    storage = MemoryStorage()
    seen: dict = {}

    async def redirect_handler(url: str) -> None:
        seen["location"], seen["offered"], seen["roles"] = await _consent(
            base, username, url, role=role, services=services
        )

    async def callback_handler() -> AuthorizationCodeResult:
        query = parse_qs(urlsplit(seen["location"]).query)
        return AuthorizationCodeResult(
            code=query["code"][0], state=query["state"][0], iss=query["iss"][0]
        )

    provider = OAuthClientProvider(
        server_url=f"{base}/mcp",
        client_metadata=OAuthClientMetadata(
            client_name="Test-Assistent",
            redirect_uris=[REDIRECT],
            token_endpoint_auth_method="none",
        ),
        storage=storage,
        redirect_handler=redirect_handler,
        callback_handler=callback_handler,
    )

    async def run():
        async with (
            httpx2.AsyncClient(auth=provider, timeout=TIMEOUT) as http,
            Client(streamable_http_client(f"{base}/mcp", http_client=http)) as client,
        ):
            return await work(client)

    return asyncio.run(run()), storage, seen


def _operator(role: str, tenant=None):
    profile = OperatorProfileFactory(
        role=role, tenant=tenant or CompanyFactory(), user=UserFactory(is_staff=True)
    )
    return profile


def test_sdk_signs_in_with_pkce_and_calls_tools_as_the_tenant(live_server):
    profile = _operator("manager")
    BranchFactory(tenant=profile.tenant, name="Berlin Mitte")
    other = BranchFactory(name="Hamburg")  # another tenant's branch

    async def work(client):
        tools = (await client.list_tools()).tools
        mine = await client.call_tool("tenant_getTenant", {})
        theirs = await client.call_tool("tenant_getBranch", {"branch_id": other.pk})
        return tools, mine, theirs

    (tools, mine, theirs), storage, seen = _sign_in(
        live_server.url, profile.user.username, "staff", work
    )

    assert seen["roles"] == ["readonly", "staff", "manager"]  # never above the operator's
    assert set(seen["offered"]) == {
        "booking",
        "customer",
        "integration",
        "routing",
        "staff",
        "tenant",
    }
    assert mine.is_error is False
    assert mine.structured_content["tenant"]["id"] == profile.tenant_id
    assert theirs.is_error is True and "RESOURCE_NOT_FOUND" in theirs.content[0].text
    names = {tool.name for tool in tools}
    assert "booking_createBooking" in names
    assert "routing_updateRoutingRules" not in names  # a manager's tool, the token is staff
    token = AccessToken.objects.exclude(scope=REGISTRATION_SCOPE).get()
    assert token.user == profile.user
    assert set(token.scope.split()) >= {"role:staff", f"tenant:{profile.tenant_id}"}
    # Stored hashed: the database holds no usable copy of the token.
    assert storage.tokens.access_token not in (token.token, "")
    assert token.token_checksum == hashlib.sha256(storage.tokens.access_token.encode()).hexdigest()
    application = Application.objects.get()
    assert application.client_type == "public" and application.name == "Test-Assistent"


def test_token_scopes_limit_the_services(live_server):
    profile = _operator("owner")

    async def work(client):
        tools = (await client.list_tools()).tools
        refused = await client.call_tool("staff_listStaff", {})
        return tools, refused

    (tools, refused), _, _ = _sign_in(
        live_server.url, profile.user.username, "owner", work, services=["tenant", "booking"]
    )
    assert {tool.name.split("_")[0] for tool in tools} == {"tenant", "booking"}
    assert refused.is_error is True
    assert "PERMISSION_DENIED" in refused.content[0].text


def _mcp_call(base: str, token: str, tool: str, arguments: dict) -> httpx.Response:
    return _post(
        f"{base}/mcp",
        headers={"Authorization": f"Bearer {token}", "MCP-Protocol-Version": "2025-11-25"},
        json={
            "jsonrpc": "2.0",
            "id": 1,
            "method": "tools/call",
            "params": {"name": tool, "arguments": arguments},
        },
    )


def _code_flow(base: str, username: str, role: str) -> dict:
    """The same flow as a plain HTTP client: registration, consent, token."""
    registered = _post(
        f"{base}/oauth/register/",
        json={
            "client_name": "Skript",
            "redirect_uris": [REDIRECT],
            "token_endpoint_auth_method": "none",
        },
    )
    assert registered.status_code == 201, registered.text
    client_id = registered.json()["client_id"]
    management_token = registered.json()["registration_access_token"]
    assert _mcp_call(base, management_token, "tenant_getTenant", {}).status_code == 401
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=")
    authorize = (
        f"/oauth/authorize/?response_type=code&client_id={client_id}&redirect_uri={REDIRECT}"
        f"&state=s1&code_challenge={challenge.decode()}&code_challenge_method=S256"
    )
    location, _, _ = asyncio.run(_consent(base, username, authorize, role=role))
    code = parse_qs(urlsplit(location).query)["code"][0]
    token = _post(
        f"{base}/oauth/token/",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT,
            "client_id": client_id,
            "code_verifier": verifier,
        },
    )
    assert token.status_code == 200, token.text
    return {**token.json(), "client_id": client_id}


def test_revoked_token_is_refused_at_once_and_refresh_rotates(live_server):
    profile = _operator("owner")
    base = live_server.url
    issued = _code_flow(base, profile.user.username, "manager")

    assert (
        _mcp_call(base, issued["access_token"], "tenant_getTenant", {}).json()["result"]["isError"]
        is False
    )
    refreshed = _post(
        f"{base}/oauth/token/",
        data={
            "grant_type": "refresh_token",
            "refresh_token": issued["refresh_token"],
            "client_id": issued["client_id"],
        },
    )
    assert refreshed.status_code == 200, refreshed.text
    fresh = refreshed.json()
    assert "role:manager" in fresh["scope"].split()
    assert _mcp_call(base, issued["access_token"], "tenant_getTenant", {}).status_code == 401

    revoked = _post(
        f"{base}/oauth/revoke_token/",
        data={"token": fresh["access_token"], "client_id": issued["client_id"]},
    )
    assert revoked.status_code == 200
    refused = _mcp_call(base, fresh["access_token"], "tenant_getTenant", {})
    assert refused.status_code == 401
    assert 'resource_metadata="' in refused.headers["WWW-Authenticate"]
    assert not AccessToken.objects.exclude(scope=REGISTRATION_SCOPE).exists()
    # The refresh token went with it: no new access token from it.
    again = _post(
        f"{base}/oauth/token/",
        data={
            "grant_type": "refresh_token",
            "refresh_token": fresh["refresh_token"],
            "client_id": issued["client_id"],
        },
    )
    assert again.status_code == 400
    assert RefreshToken.objects.filter(revoked__isnull=True).count() == 0


def test_a_demoted_or_moved_operator_takes_the_tokens_power_with_them(live_server):
    profile = _operator("owner")
    base = live_server.url
    issued = _code_flow(base, profile.user.username, "owner")
    profile.role = "readonly"
    profile.save()
    answer = _mcp_call(base, issued["access_token"], "routing_updateRoutingRules", {"rules": []})
    assert "PERMISSION_DENIED" in answer.json()["result"]["content"][0]["text"]

    profile.tenant = CompanyFactory()
    profile.save()
    assert _mcp_call(base, issued["access_token"], "tenant_getTenant", {}).status_code == 401


def test_client_credentials_grant_acts_for_the_owning_operator(live_server):
    profile = _operator("manager")
    application = Application.objects.create(
        name="Nachtlauf",
        user=profile.user,
        client_type=Application.CLIENT_CONFIDENTIAL,
        authorization_grant_type=Application.GRANT_CLIENT_CREDENTIALS,
        client_secret="s3cret-for-tests",
    )
    token = _post(
        f"{live_server.url}/oauth/token/",
        data={"grant_type": "client_credentials", "scope": "tenant booking"},
        auth=(application.client_id, "s3cret-for-tests"),
    )
    assert token.status_code == 200, token.text
    answer = _mcp_call(live_server.url, token.json()["access_token"], "tenant_getTenant", {})
    result = answer.json()["result"]
    assert result["isError"] is False
    assert result["structuredContent"]["tenant"]["id"] == profile.tenant_id
    assert AuditLog.objects.for_tenant(profile.tenant).count() == 0  # a read writes no audit
    denied = _mcp_call(live_server.url, token.json()["access_token"], "staff_listStaff", {})
    assert "PERMISSION_DENIED" in denied.json()["result"]["content"][0]["text"]


def test_metadata_points_clients_at_the_authorization_server(live_server):
    base = live_server.url
    resource = _get(f"{base}/.well-known/oauth-protected-resource/mcp").json()
    assert resource["resource"] == f"{base}/mcp"
    assert resource["authorization_servers"] == [base]
    server = _get(f"{base}/.well-known/oauth-authorization-server").json()
    assert server["issuer"] == base
    assert server["authorization_endpoint"] == f"{base}/oauth/authorize/"
    assert server["token_endpoint"] == f"{base}/oauth/token/"
    assert server["registration_endpoint"] == f"{base}/oauth/register/"
    assert server["revocation_endpoint"] == f"{base}/oauth/revoke_token/"
    assert server["code_challenge_methods_supported"] == ["S256"]
    assert server["response_types_supported"] == ["code"]
    assert server["client_id_metadata_document_supported"] is True
    assert "none" in server["token_endpoint_auth_methods_supported"]
    assert set(server["grant_types_supported"]) == {
        "authorization_code",
        "refresh_token",
        "client_credentials",
    }


def test_consent_refuses_an_admin_without_a_tenant(client):
    user = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(user)
    page = client.get("/oauth/authorize/", {"response_type": "code", "client_id": "x"})
    assert page.status_code == 403
    assert "keinem Betrieb zugeordnet" in page.content.decode()
    assert not AccessToken.objects.exclude(scope=REGISTRATION_SCOPE).exists()


def test_admin_revokes_a_token_and_it_is_refused_at_once(live_server, client):
    profile = _operator("owner")
    base = live_server.url
    issued = _code_flow(base, profile.user.username, "staff")
    assert _mcp_call(base, issued["access_token"], "tenant_getTenant", {}).status_code == 200
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    token = AccessToken.objects.exclude(scope=REGISTRATION_SCOPE).get()
    answer = client.post(
        "/admin/oauth2_provider/accesstoken/",
        {"action": "revoke_tokens", "_selected_action": [token.pk]},
    )
    assert answer.status_code == 302
    assert _mcp_call(base, issued["access_token"], "tenant_getTenant", {}).status_code == 401
    refreshed = _post(
        f"{base}/oauth/token/",
        data={
            "grant_type": "refresh_token",
            "refresh_token": issued["refresh_token"],
            "client_id": issued["client_id"],
        },
    )
    assert refreshed.status_code == 400
