"""Liveness apart from readiness: a database outage makes pods unready, it does not restart them."""

import json
import urllib.error
import urllib.request

import pytest

from tests.serving import free_port, gunicorn

pytestmark = pytest.mark.django_db


def test_livez_answers_alive_without_touching_the_database(client, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get("/livez")

    assert response.status_code == 200
    assert response.json() == {"status": "alive"}


def test_livez_only_answers_get(client):
    response = client.post("/livez")

    assert response.status_code == 405


def _get(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 — local server
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_gunicorn_is_live_but_not_ready_while_its_database_is_unreachable():
    # Nothing listens on this port: the database is "down" from the server's first request on.
    unreachable = f"postgres://postgres@127.0.0.1:{free_port()}/askproai"
    with gunicorn(workers=2, database_url=unreachable, ready_path="/livez") as base:
        live_status, live = _get(f"{base}/livez")
        ready_status, ready = _get(f"{base}/mcp/health")

    assert (live_status, live) == (200, {"status": "alive"})
    assert ready_status == 503
    assert ready["status"] == "down"
    assert ready["checks"]["database"]["status"] == "down"


def test_production_does_not_redirect_the_liveness_probe(client, settings):
    settings.SECURE_SSL_REDIRECT = True

    assert client.get("/livez").status_code == 200
    redirected = client.get("/admin/login/")
    assert redirected.status_code == 301
    assert redirected["Location"] == "https://testserver/admin/login/"
