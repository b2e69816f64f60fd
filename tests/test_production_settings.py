"""The production profile (DJANGO_ENV=production): `manage.py check --deploy` reports nothing,
cookies only over HTTPS, HSTS, plain HTTP redirected behind the TLS proxy."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SECRET = "k3Vq9-production-test-secret-" + "x7Zr2mPq" * 4


def _run(args: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in {"DJANGO_ENV", "SECRET_KEY"}}
    return subprocess.run(  # noqa: S603 — our own interpreter and manage.py
        [sys.executable, *args],
        cwd=ROOT,
        env={**clean, "DJANGO_SETTINGS_MODULE": "askproai.settings", **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_check_deploy_reports_nothing_in_production():
    result = _run(
        ["manage.py", "check", "--deploy"],
        DJANGO_ENV="production",
        SECRET_KEY=SECRET,
        ALLOWED_HOSTS="api.example.de",
    )

    assert result.returncode == 0, result.stderr
    # One silenced: django-oauth-toolkit's warning on http (loopback) redirect URIs.
    assert result.stdout == "System check identified no issues (1 silenced).\n"
    assert result.stderr == ""


def test_the_production_profile_sets_secure_cookies_hsts_and_the_proxy_header():
    code = (
        "import django, json; django.setup(); from django.conf import settings as s; "
        "print(json.dumps([s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_SSL_REDIRECT, "
        "s.SECURE_HSTS_SECONDS, s.SECURE_HSTS_INCLUDE_SUBDOMAINS, s.SECURE_PROXY_SSL_HEADER]))"
    )
    production = _run(["-c", code], DJANGO_ENV="production", SECRET_KEY=SECRET)
    development = _run(["-c", code])

    assert json.loads(production.stdout) == [
        True,
        True,
        True,
        31536000,
        True,
        ["HTTP_X_FORWARDED_PROTO", "https"],
    ]
    assert json.loads(development.stdout) == [False, False, False, 0, False, None]


def test_production_refuses_the_embedded_secret_key():
    result = _run(["manage.py", "check"], DJANGO_ENV="production")

    assert result.returncode == 1
    assert "DJANGO_ENV=production needs its own SECRET_KEY" in result.stderr


@pytest.mark.django_db  # /metrics counts the outbox and sagas in the database
def test_behind_the_proxy_http_is_redirected_and_https_carries_hsts(client, settings):
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.SECURE_HSTS_SECONDS = 31536000
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = True

    plain = client.get("/api/docs/", HTTP_X_FORWARDED_PROTO="http")
    secure = client.get("/api/docs/", HTTP_X_FORWARDED_PROTO="https")
    probe = client.get("/metrics", HTTP_X_FORWARDED_PROTO="http")

    assert plain.status_code == 301
    assert plain["Location"] == "https://testserver/api/docs/"
    assert secure.status_code == 200
    assert secure["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    assert probe.status_code != 301
