"""The API docs (Swagger UI at /api/docs/, ReDoc at /api/redoc/) render in headless Chromium
with no network: every asset comes from the pinned drf-spectacular-sidecar package, served by
this server."""

from __future__ import annotations

import re
import subprocess

import pytest

from mcp_core.operations import registry
from tests.conftest import chromium_binary

pytestmark = [pytest.mark.chromium, pytest.mark.django_db(transaction=True)]

EXTERNAL_URL = re.compile(r"""(?:src|href)=["']?(?:https?:)?//""")


def _rendered(url: str, tmp_path) -> str:
    """The page's DOM after its scripts ran, in a browser that can resolve no host but this
    machine (every other name fails, so a CDN asset could not load)."""
    binary = chromium_binary()
    assert binary is not None
    result = subprocess.run(  # noqa: S603 — the test's own browser and server
        [
            binary,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost",
            "--virtual-time-budget=20000",
            "--dump-dom",
            url,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return result.stdout


def test_swagger_ui_renders_every_operation_and_offers_authorize(live_server, client, tmp_path):
    page = client.get("/api/docs/").content.decode()
    assert EXTERNAL_URL.search(page) is None
    dom = _rendered(f"{live_server.url}/api/docs/", tmp_path)
    assert 'class="swagger-ui' in dom
    # One block per documented operation, each rendered by the script from the schema.
    schema = client.get("/api/schema/", {"format": "json"}).json()
    documented = sum(len(methods) for methods in schema["paths"].values())
    assert documented >= 70
    assert dom.count('class="opblock opblock-') == documented
    assert "btn authorize" in dom
    assert "/api/v2/mcp/operations/staff.listServices" in dom


def test_redoc_renders_the_operations(live_server, client, tmp_path):
    page = client.get("/api/redoc/").content.decode()
    assert EXTERNAL_URL.search(page) is None
    dom = _rendered(f"{live_server.url}/api/redoc/", tmp_path)
    assert "AskProAI API" in dom
    for op in registry:
        assert op.title in dom, op.name
