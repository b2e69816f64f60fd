"""Client-id metadata documents (MCP authorization 2025-11-25): the official SDK client signs in
with an https client_id whose JSON document a local HTTPS server serves (a self-signed
certificate the test trusts), through the German consent page, and calls a tool. Without the
test-only loopback allowance the toolkit refuses the same document, as in production."""

import asyncio
import datetime as dt
import ipaddress
import json
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import httpx2
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from mcp import Client
from mcp.client.auth import OAuthClientProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import AuthorizationCodeResult, OAuthClientMetadata
from oauth2_provider.models import AccessToken, Application

from tests.mcp_core.test_oauth import (
    REDIRECT,
    REGISTRATION_SCOPE,
    TIMEOUT,
    MemoryStorage,
    _consent,
    _operator,
    _post,
)

pytestmark = pytest.mark.django_db(transaction=True)


def _self_signed(directory) -> tuple[str, str]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return str(cert_file), str(key_file)


@pytest.fixture
def document_host(tmp_path):
    """An HTTPS server on 127.0.0.1 serving one client-id metadata document."""
    cert_file, key_file = _self_signed(tmp_path)
    served: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            served.append(self.path)
            if self.path != "/assistant/client.json":
                self.send_response(404)
                self.end_headers()
                return
            body = json.dumps(
                {
                    "client_id": f"https://localhost:{port}/assistant/client.json",
                    "client_name": "Dokument-Assistent",
                    "redirect_uris": [REDIRECT],
                    "grant_types": ["authorization_code", "refresh_token"],
                    "response_types": ["code"],
                    "token_endpoint_auth_method": "none",
                }
            ).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    port = server.server_address[1]
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield {
        "client_id": f"https://localhost:{port}/assistant/client.json",
        "cert_file": cert_file,
        "served": served,
    }
    server.shutdown()
    server.server_close()


def _sign_in_with_document(base: str, username: str, client_id: str, work):
    storage = MemoryStorage()
    seen: dict = {}

    async def redirect_handler(url: str) -> None:
        seen["authorize"] = url
        seen["location"], _, _ = await _consent(base, username, url, role="staff")

    async def callback_handler() -> AuthorizationCodeResult:
        query = parse_qs(urlsplit(seen["location"]).query)
        return AuthorizationCodeResult(
            code=query["code"][0], state=query["state"][0], iss=query["iss"][0]
        )

    provider = OAuthClientProvider(
        server_url=f"{base}/mcp",
        client_metadata=OAuthClientMetadata(
            client_name="Dokument-Assistent",
            redirect_uris=[REDIRECT],
            token_endpoint_auth_method="none",
        ),
        storage=storage,
        redirect_handler=redirect_handler,
        callback_handler=callback_handler,
        client_metadata_url=client_id,
    )

    async def run():
        async with (
            httpx2.AsyncClient(auth=provider, timeout=TIMEOUT) as http,
            Client(streamable_http_client(f"{base}/mcp", http_client=http)) as client,
        ):
            return await work(client)

    return asyncio.run(run()), seen


def test_sdk_signs_in_with_a_client_id_metadata_document(live_server, settings, document_host):
    settings.OAUTH_CIMD_LOOPBACK_HOSTS = ["localhost"]
    settings.OAUTH_CIMD_CA_FILE = document_host["cert_file"]
    profile = _operator("manager")

    async def work(client):
        return await client.call_tool("tenant_getTenant", {})

    answer, seen = _sign_in_with_document(
        live_server.url, profile.user.username, document_host["client_id"], work
    )
    assert answer.is_error is False
    assert answer.structured_content["tenant"]["id"] == profile.tenant_id
    # The client named its document, and registered nothing.
    assert parse_qs(urlsplit(seen["authorize"]).query)["client_id"] == [document_host["client_id"]]
    assert "/assistant/client.json" in document_host["served"]
    application = Application.objects.get()
    assert application.client_id == document_host["client_id"]
    assert application.registration_source == Application.RegistrationSource.CIMD
    assert application.name == "Dokument-Assistent"
    assert application.client_type == Application.CLIENT_PUBLIC
    token = AccessToken.objects.exclude(scope=REGISTRATION_SCOPE).get()
    assert token.application == application and token.user == profile.user
    assert {"role:staff", f"tenant:{profile.tenant_id}"} <= set(token.scope.split())


def _redeem(base: str, client_id: str):
    """A code the server never issued, redeemed as the document's client: the toolkit answers
    invalid_grant when it resolved the client and invalid_client when it did not."""
    return _post(
        f"{base}/oauth/token/",
        data={
            "grant_type": "authorization_code",
            "client_id": client_id,
            "code": "never-issued",
            "redirect_uri": REDIRECT,
            "code_verifier": "v" * 43,
        },
    )


def test_the_allowance_resolves_the_document_and_nothing_else_is_allowed(
    live_server, settings, document_host
):
    settings.OAUTH_CIMD_LOOPBACK_HOSTS = ["localhost"]
    settings.OAUTH_CIMD_CA_FILE = document_host["cert_file"]
    resolved = _redeem(live_server.url, document_host["client_id"])
    assert resolved.json()["error"] == "invalid_grant", resolved.text
    assert Application.objects.get().client_id == document_host["client_id"]
    # The same server named by its address is not an allowed host name: refused as ever.
    by_address = document_host["client_id"].replace("localhost", "127.0.0.1")
    assert _redeem(live_server.url, by_address).json()["error"] == "invalid_client"
    assert Application.objects.count() == 1


def test_without_the_test_allowance_a_loopback_document_is_refused(
    live_server, settings, document_host
):
    settings.OAUTH_CIMD_CA_FILE = document_host["cert_file"]  # trusted, but not allowed
    refused = _redeem(live_server.url, document_host["client_id"])
    assert refused.json()["error"] == "invalid_client", refused.text
    assert document_host["served"] == []  # refused before any request
    assert not Application.objects.exists()


def test_an_untrusted_certificate_is_refused_even_on_an_allowed_host(
    live_server, settings, document_host
):
    settings.OAUTH_CIMD_LOOPBACK_HOSTS = ["localhost"]  # allowed, but its certificate unknown
    refused = _redeem(live_server.url, document_host["client_id"])
    assert refused.json()["error"] == "invalid_client", refused.text
    assert document_host["served"] == []  # the TLS handshake failed: no document read
    assert not Application.objects.exists()
