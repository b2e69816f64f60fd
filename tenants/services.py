"""Writes of the tenants app. Keyword-only, tenant first, actor second; each writes an audit row."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from tenants.api_keys import GeneratedKey, generate_key
from tenants.audit import audit_record
from tenants.enums import Plan, Role, SubscriptionStatus
from tenants.errors import ApiKeyAlreadyRevoked, InvalidTenantInput
from tenants.models import ApiKey, Branch, Company, Subscription


@dataclass(frozen=True)
class CreatedApiKey:
    api_key: ApiKey
    plaintext: str


def _unique_slug(name: str) -> str:
    base = slugify(name)[:90] or "tenant"
    slug, n = base, 1
    while Company.objects.filter(slug=slug).exists():
        n += 1
        slug = f"{base}-{n}"
    return slug


@transaction.atomic
def tenant_create(*, name: str, plan: str, actor: str) -> tuple[Company, CreatedApiKey]:
    """Create a tenant with its subscription and a first owner key.

    Raises InvalidTenantInput for an empty name or unknown plan.
    """
    name = name.strip()
    errors: dict[str, list[str]] = {}
    if not name:
        errors["name"] = ["A tenant needs a name."]
    if plan not in Plan.values:
        errors["plan"] = [f"Unknown plan '{plan}'; use one of {', '.join(Plan.values)}."]
    if errors:
        raise InvalidTenantInput("The tenant could not be created.", details=errors)
    company = Company.objects.create(name=name, slug=_unique_slug(name))
    Subscription.objects.create(tenant=company, plan=plan, status=SubscriptionStatus.ACTIVE)
    audit_record(
        tenant=company,
        actor=actor,
        action="tenant.created",
        obj=company,
        changes={"name": name, "plan": plan},
    )
    key = api_key_create(tenant=company, actor=actor, role=Role.OWNER, name="initial owner key")
    return company, key


@transaction.atomic
def api_key_create(
    *, tenant: Company, actor: str, role: str, name: str = "", generated: GeneratedKey | None = None
) -> CreatedApiKey:
    """Issue a key; the plaintext is returned once and never stored.

    Raises InvalidTenantInput for an unknown role.
    """
    if role not in Role.values:
        raise InvalidTenantInput(
            "Unknown role.", details={"role": [f"Use one of {', '.join(Role.values)}."]}
        )
    generated = generated or generate_key()
    api_key = ApiKey.objects.create(
        tenant=tenant, role=role, name=name, prefix=generated.prefix, key_hash=generated.key_hash
    )
    audit_record(
        tenant=tenant,
        actor=actor,
        action="api_key.created",
        obj=api_key,
        changes={"role": role, "prefix": generated.prefix},
    )
    return CreatedApiKey(api_key=api_key, plaintext=generated.plaintext)


@transaction.atomic
def api_key_revoke(*, tenant: Company, actor: str, api_key: ApiKey) -> ApiKey:
    """Revoke a key for good. Raises ApiKeyAlreadyRevoked when it is."""
    locked = ApiKey.objects.for_tenant(tenant).select_for_update().get(pk=api_key.pk)
    if locked.revoked_at is not None:
        raise ApiKeyAlreadyRevoked()
    locked.revoked_at = timezone.now()
    locked.save(update_fields=["revoked_at"])
    audit_record(tenant=tenant, actor=actor, action="api_key.revoked", obj=locked)
    return locked


@transaction.atomic
def branch_set_active(*, tenant: Company, actor: str, branch: Branch, is_active: bool) -> Branch:
    """Activate or deactivate a branch; a no-op (and no audit row) when already so."""
    locked = Branch.objects.for_tenant(tenant).select_for_update().get(pk=branch.pk)
    if locked.is_active != is_active:
        locked.is_active = is_active
        locked.save(update_fields=["is_active", "updated_at"])
        audit_record(
            tenant=tenant,
            actor=actor,
            action="branch.activated" if is_active else "branch.deactivated",
            obj=locked,
        )
    return locked
