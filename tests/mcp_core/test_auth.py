import datetime as dt

import pytest
from django.utils import timezone

from common.errors import AuthenticationFailed
from mcp_core.auth import bearer_token
from tenants import authentication as auth
from tenants.authentication import authenticate_api_key
from tenants.models import ApiKey
from tests.factories import ApiKeyFactory

pytestmark = pytest.mark.django_db


def test_valid_key_gives_tenant_and_role_and_records_use():
    api_key, plaintext = ApiKeyFactory.create_with_plaintext(role="manager")

    principal = authenticate_api_key(plaintext)

    assert (principal.tenant, principal.role) == (api_key.tenant, "manager")
    assert principal.actor == f"api_key:{api_key.prefix}"
    assert ApiKey.objects.all_tenants().get(pk=api_key.pk).last_used_at is not None


@pytest.mark.parametrize("mutation", ["revoked", "expired", "tenant_inactive", "wrong_secret"])
def test_unusable_keys_fail_alike(mutation):
    api_key, plaintext = ApiKeyFactory.create_with_plaintext()
    if mutation == "revoked":
        api_key.revoked_at = timezone.now()
        api_key.save()
    elif mutation == "expired":
        api_key.expires_at = timezone.now() - dt.timedelta(seconds=1)
        api_key.save()
    elif mutation == "tenant_inactive":
        api_key.tenant.is_active = False
        api_key.tenant.save()
    else:
        plaintext = plaintext[:-2] + "xx"

    with pytest.raises(AuthenticationFailed) as exc:
        authenticate_api_key(plaintext)
    assert exc.value.envelope()["error"]["code"] == 1009
    assert exc.value.message == "A valid API key is required."


@pytest.mark.parametrize("token", [None, "", "nonsense", "apk_short_x", "apk_deadbeef_unknown"])
def test_malformed_or_unknown_keys_fail(token):
    with pytest.raises(AuthenticationFailed):
        authenticate_api_key(token)


@pytest.mark.parametrize(
    ("header", "token"),
    [
        ("Bearer abc", "abc"),
        ("bearer  abc ", "abc"),
        ("Basic abc", None),
        ("Bearer", None),
        (None, None),
    ],
)
def test_bearer_token_parsing(header, token):
    assert bearer_token(header) == token


def test_a_checked_key_is_trusted_for_the_ttl_without_a_query(django_assert_num_queries):
    _, plaintext = ApiKeyFactory.create_with_plaintext()
    first = authenticate_api_key(plaintext)

    with django_assert_num_queries(0):
        assert authenticate_api_key(plaintext) == first


@pytest.mark.parametrize("mutation", ["revoked", "tenant_inactive"])
def test_a_write_to_the_key_or_tenant_in_this_process_ends_the_trust_at_once(mutation):
    api_key, plaintext = ApiKeyFactory.create_with_plaintext()
    authenticate_api_key(plaintext)
    if mutation == "revoked":
        api_key.revoked_at = timezone.now()
        api_key.save()
    else:
        api_key.tenant.is_active = False
        api_key.tenant.save()

    with pytest.raises(AuthenticationFailed):
        authenticate_api_key(plaintext)


def test_other_processes_see_a_revocation_after_the_ttl(settings, monkeypatch):
    """A revocation written by another process (no signal here: a queryset update) is seen
    once the TTL has passed."""
    settings.MCP_AUTH_CACHE_TTL = 10
    api_key, plaintext = ApiKeyFactory.create_with_plaintext()
    authenticate_api_key(plaintext)
    ApiKey.objects.all_tenants().filter(pk=api_key.pk).update(revoked_at=timezone.now())

    authenticate_api_key(plaintext)  # still trusted within the TTL
    later = auth._monotonic() + 11
    monkeypatch.setattr(auth, "_monotonic", lambda: later)
    with pytest.raises(AuthenticationFailed):
        authenticate_api_key(plaintext)


def test_a_key_expiring_within_the_ttl_is_refused_at_its_expiry(time_machine):
    api_key, plaintext = ApiKeyFactory.create_with_plaintext()
    time_machine.move_to(timezone.now(), tick=False)
    api_key.expires_at = timezone.now() + dt.timedelta(seconds=3)
    api_key.save()
    authenticate_api_key(plaintext)

    time_machine.shift(dt.timedelta(seconds=4))
    with pytest.raises(AuthenticationFailed):
        authenticate_api_key(plaintext)


def test_ttl_zero_asks_the_database_every_time(settings, django_assert_num_queries):
    settings.MCP_AUTH_CACHE_TTL = 0
    _, plaintext = ApiKeyFactory.create_with_plaintext()
    authenticate_api_key(plaintext)
    with django_assert_num_queries(1):
        authenticate_api_key(plaintext)
