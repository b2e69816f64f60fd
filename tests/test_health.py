import pytest
from django.db import OperationalError
from django.test import override_settings

pytestmark = pytest.mark.django_db


def test_health_is_ok_with_every_check(client):
    response = client.get("/mcp/health")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"database", "cache", "broker", "integrations"}
    assert body["checks"]["database"]["status"] == "ok"
    assert body["checks"]["cache"]["status"] == "ok"
    assert body["checks"]["integrations"]["calcom"] == {
        "status": "not_configured",
        "circuit": "closed",
    }


def test_health_is_down_with_503_when_the_database_is(client, monkeypatch):
    from mcp_core import health

    class BrokenCursor:
        def __enter__(self):
            raise OperationalError("could not connect to server")

        def __exit__(self, *exc):
            return False

    monkeypatch.setattr(health.connection, "cursor", lambda: BrokenCursor())
    response = client.get("/mcp/health")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "down"
    assert body["checks"]["database"] == {
        "status": "down",
        "error": "OperationalError",
        "latency_ms": body["checks"]["database"]["latency_ms"],
    }


def test_health_only_answers_get(client):
    assert client.post("/mcp/health").status_code == 405


@pytest.mark.redis
def test_health_reports_real_redis(client):
    body = client.get("/mcp/health").json()
    assert body["checks"]["cache"]["backend"] == "redis"
    assert body["checks"]["cache"]["status"] == "ok"


@pytest.mark.redis
def test_health_is_degraded_not_down_when_redis_is_unreachable(client):
    unreachable = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
            "OPTIONS": {
                "SOCKET_CONNECT_TIMEOUT": 0.2,
                "SOCKET_TIMEOUT": 0.2,
                "IGNORE_EXCEPTIONS": True,
            },
        }
    }
    with override_settings(CACHES=unreachable):
        response = client.get("/mcp/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "degraded"
    assert body["checks"]["cache"]["status"] == "down"
    assert body["checks"]["database"]["status"] == "ok"


@pytest.mark.parametrize(
    ("configured", "status"),
    [
        ({"TWILIO_ACCOUNT_SID": "AC1", "TWILIO_AUTH_TOKEN": "t"}, "not_configured"),
        (
            {"TWILIO_ACCOUNT_SID": "AC1", "TWILIO_AUTH_TOKEN": "t", "TWILIO_FROM": "+4930"},
            "configured",
        ),
    ],
)
def test_twilio_counts_as_configured_only_with_a_sender_number(client, configured, status):
    with override_settings(**configured):
        body = client.get("/mcp/health").json()

    assert body["checks"]["integrations"]["twilio"]["status"] == status
