import datetime as dt

import pytest
from django.utils import timezone

from mcp_core.auth import authenticate_api_key, bearer_token
from mcp_core.errors import AuthenticationFailed
from tenants.models import ApiKey
from tests.factories import ApiKeyFactory

pytestmark = pytest.mark.django_db


def test_valid_key_gives_tenant_and_role_and_records_use():
    api_key, plaintext = ApiKeyFactory.create_with_plaintext(role="manager")

    principal = authenticate_api_key(plaintext)

    assert (principal.tenant, principal.role) == (api_key.tenant, "manager")
    assert principal.actor == f"api_key:{api_key.prefix}"
    assert ApiKey.objects.get(pk=api_key.pk).last_used_at is not None


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
