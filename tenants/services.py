"""Writes of the tenants app. Keyword-only, tenant first, actor second; each writes an audit row.

Every write that changes what `tenant.getTenant` shows clears the tenant cache after commit.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypedDict

from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.text import slugify

from common.jsonbody import json_depth
from common.phone import InvalidPhoneNumber, normalize_phone
from common.text import strip_blanks
from mcp_core.audit import audit_record
from mcp_core.permissions import Role
from tenants import policy
from tenants.api_keys import GeneratedKey, generate_key, toolset_choices, unknown_toolsets
from tenants.enums import Plan, SubscriptionStatus
from tenants.errors import (
    ApiKeyAlreadyRevoked,
    BranchNameTaken,
    BranchNotFound,
    InvalidBranchInput,
    InvalidTenantInput,
    TenantNotFound,
)
from tenants.hours import business_hours_errors, default_business_hours, parse_business_hours
from tenants.models import ApiKey, Branch, Company, Subscription
from tenants.selectors import tenant_cache_key
from tenants.settings_limits import (
    BRANCH_DEFAULT_SETTINGS,
    BRANCH_MINUTE_SETTINGS,
    SETTINGS_MAX_BYTES,
    SETTINGS_MAX_DEPTH,
    SETTINGS_MAX_KEY_LENGTH,
    SETTINGS_MAX_KEYS,
)
from tenants.validators import validate_time_zone

Errors = dict[str, list[str]]


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


def _checked_toolsets(toolsets: list[str]) -> list[str]:
    unknown = unknown_toolsets(toolsets)
    if unknown:
        raise InvalidTenantInput(
            "Unknown toolsets.",
            details={
                "toolsets": [f"Unknown: {', '.join(unknown)}; use {', '.join(toolset_choices())}."]
            },
        )
    return sorted(set(toolsets))


@transaction.atomic
def api_key_create(
    *,
    tenant: Company,
    actor: str,
    role: str,
    name: str = "",
    toolsets: list[str] | None = None,
    generated: GeneratedKey | None = None,
) -> CreatedApiKey:
    """Issue a key; the plaintext is returned once and never stored. `toolsets` are the MCP
    toolsets listed when the client names none (empty: the assistant default).

    Raises InvalidTenantInput for an unknown role or toolset.
    """
    if role not in Role.values:
        raise InvalidTenantInput(
            "Unknown role.", details={"role": [f"Use one of {', '.join(Role.values)}."]}
        )
    chosen = _checked_toolsets(toolsets or [])
    generated = generated or generate_key()
    api_key = ApiKey.objects.create(
        tenant=tenant,
        role=role,
        name=name,
        toolsets=chosen,
        prefix=generated.prefix,
        key_hash=generated.key_hash,
    )
    changes: dict[str, Any] = {"role": role, "prefix": generated.prefix}
    if chosen:
        changes["toolsets"] = chosen
    audit_record(tenant=tenant, actor=actor, action="api_key.created", obj=api_key, changes=changes)
    return CreatedApiKey(api_key=api_key, plaintext=generated.plaintext)


@transaction.atomic
def api_key_set_toolsets(
    *, tenant: Company, actor: str, api_key: ApiKey, toolsets: list[str]
) -> ApiKey:
    """Configure the MCP toolsets a key lists when its client names none; a no-op (and no audit
    row) when unchanged. Raises InvalidTenantInput for an unknown toolset. Every process sees
    the change within MCP_AUTH_CACHE_TTL (this one at once)."""
    chosen = _checked_toolsets(toolsets)
    locked = ApiKey.objects.for_tenant(tenant).select_for_update().get(pk=api_key.pk)
    if locked.toolsets == chosen:
        return locked
    before = locked.toolsets
    locked.toolsets = chosen
    locked.save(update_fields=["toolsets"])
    audit_record(
        tenant=tenant,
        actor=actor,
        action="api_key.toolsets_changed",
        obj=locked,
        changes={"toolsets": [before, chosen]},
    )
    return locked


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
    """Activate or deactivate a branch; a no-op (and no audit row) when already so.

    Raises BranchNotFound when the branch is not the tenant's. Clears the tenant cache on commit.
    """
    locked = Branch.objects.for_tenant(tenant).select_for_update().filter(pk=branch.pk).first()
    if locked is None:
        raise BranchNotFound(details={"branch_id": branch.pk})
    if locked.is_active != is_active:
        locked.is_active = is_active
        locked.save(update_fields=["is_active", "updated_at"])
        audit_record(
            tenant=tenant,
            actor=actor,
            action="branch.activated" if is_active else "branch.deactivated",
            obj=locked,
            changes={"is_active": [not is_active, is_active]},
        )
        tenant_cache_clear_on_commit(tenant_id=tenant.pk)
    return locked


def tenant_cache_clear_on_commit(*, tenant_id: int) -> None:
    """Drop the cached `tenant.getTenant` overview once the current transaction commits
    (clearing earlier would let a concurrent read cache the old state again)."""
    key = tenant_cache_key(tenant_id)
    transaction.on_commit(lambda: cache.delete(key))


# ------------------------------------------------------------------------- tenant profile


class TenantChanges(TypedDict, total=False):
    name: str
    email: str
    phone: str
    default_language: str
    time_zone: str


@transaction.atomic
def tenant_update(*, tenant: Company, actor: str, changes: TenantChanges) -> Company:
    """Change the tenant's profile; only the given fields change.

    The phone is stored in E.164. Raises InvalidTenantInput (details: field → messages) and
    TenantNotFound. Writes a `tenant.updated` audit row with {field: [old, new]} and clears the
    tenant cache on commit, both only when something changed.
    """
    cleaned = _clean_tenant_changes(changes)
    company = Company.objects.select_for_update().filter(pk=tenant.pk).first()
    if company is None:
        raise TenantNotFound(details={"tenant_id": tenant.pk})
    diff = _apply(company, cleaned)
    if diff:
        company.save(update_fields=[*diff, "updated_at"])
        audit_record(
            tenant=company, actor=actor, action="tenant.updated", obj=company, changes=diff
        )
        tenant_cache_clear_on_commit(tenant_id=company.pk)
    return company


def _clean_tenant_changes(changes: Mapping[str, Any]) -> dict[str, Any]:
    errors: Errors = {}
    cleaned: dict[str, Any] = {}
    for field, value in changes.items():
        if field not in TenantChanges.__annotations__:
            errors[field] = ["Unknown field."]
        elif not isinstance(value, str):
            errors[field] = ["Must be a string."]
        elif field == "name":
            cleaned[field] = _clean_name(value, Company, errors)
        elif field == "phone":
            cleaned[field] = _clean_phone(value, errors)
        elif field == "email":
            cleaned[field] = _clean_email(value, errors)
        elif field == "time_zone":
            cleaned[field] = _clean_time_zone(value, errors)
        else:
            cleaned[field] = _clean_text(field, value, Company, errors)
    if errors:
        raise InvalidTenantInput("The tenant could not be updated.", details=errors)
    return cleaned


# ---------------------------------------------------------------------------------- branches


class BranchChanges(TypedDict, total=False):
    name: str
    address: str
    postal_code: str
    city: str
    country: str
    phone: str
    email: str
    latitude: float | None
    longitude: float | None
    time_zone: str
    business_hours: dict[str, Any]
    settings: dict[str, Any]


@transaction.atomic
def branch_create(
    *,
    tenant: Company,
    actor: str,
    name: str,
    address: str = "",
    postal_code: str = "",
    city: str = "",
    country: str = "DE",
    phone: str = "",
    email: str = "",
    latitude: float | None = None,
    longitude: float | None = None,
    time_zone: str | None = None,
    business_hours: dict[str, Any] | None = None,
    settings: dict[str, Any] | None = None,
) -> Branch:
    """Create a branch. It starts inactive; `branch_set_active` opens it for bookings.

    `time_zone` defaults to the tenant's, `business_hours` to Mon–Fri 09–18 and Sat 09–14;
    `settings` are merged over BRANCH_DEFAULT_SETTINGS (a key set to None drops a default).
    Raises InvalidBranchInput (details: field → messages), PlanLimitReached (details: quota,
    plan, limit, used) when the plan's branch limit is used up, BranchNameTaken when the tenant
    already has a branch of that name in any case. Writes a `branch.created` audit row and
    clears the tenant cache on commit.
    """
    fields: BranchChanges = {
        "name": name,
        "address": address,
        "postal_code": postal_code,
        "city": city,
        "country": country,
        "phone": phone,
        "email": email,
        "latitude": latitude,
        "longitude": longitude,
        "time_zone": time_zone if time_zone is not None else tenant.time_zone,
        "business_hours": business_hours
        if business_hours is not None
        else default_business_hours(),
        "settings": settings or {},
    }
    cleaned = _clean_branch_changes(fields, current_settings=BRANCH_DEFAULT_SETTINGS)
    branch_room_check(tenant=tenant)
    _ensure_name_free(tenant, cleaned["name"], exclude_pk=None)
    branch = Branch(tenant=tenant, is_active=False, **cleaned)
    _save_branch(tenant, branch, update_fields=None)
    audit_record(
        tenant=tenant,
        actor=actor,
        action="branch.created",
        obj=branch,
        changes={**{key: _jsonable(value) for key, value in cleaned.items()}, "is_active": False},
    )
    tenant_cache_clear_on_commit(tenant_id=tenant.pk)
    return branch


def branch_room_check(*, tenant: Company) -> None:
    """Call inside the transaction that adds a branch: locks the tenant row, so two concurrent
    adds cannot both see room for one more, and raises PlanLimitReached when the plan's branch
    limit is used up (TenantNotFound for a tenant gone)."""
    if Company.objects.select_for_update().filter(pk=tenant.pk).first() is None:
        raise TenantNotFound(details={"tenant_id": tenant.pk})
    policy.limit_check(tenant, "branches", used=Branch.objects.for_tenant(tenant).count())


@transaction.atomic
def branch_update(*, tenant: Company, actor: str, branch_id: int, changes: BranchChanges) -> Branch:
    """Change a branch; only the given fields change, `settings` keys are merged (a key set to
    None is removed) and `business_hours` replace the whole week.

    Raises BranchNotFound (also for another tenant's branch), InvalidBranchInput (details:
    field → messages), BranchNameTaken. Writes a `branch.updated` audit row with
    {field: [old, new]} and clears the tenant cache on commit, both only when something changed.
    """
    branch = Branch.objects.for_tenant(tenant).select_for_update().filter(pk=branch_id).first()
    if branch is None:
        raise BranchNotFound(details={"branch_id": branch_id})
    cleaned = _clean_branch_changes(changes, current_settings=branch.settings)
    if "name" in cleaned:
        _ensure_name_free(tenant, cleaned["name"], exclude_pk=branch.pk)
    diff = _apply(branch, cleaned)
    if diff:
        _save_branch(tenant, branch, update_fields=[*diff, "updated_at"])
        audit_record(tenant=tenant, actor=actor, action="branch.updated", obj=branch, changes=diff)
        tenant_cache_clear_on_commit(tenant_id=tenant.pk)
    return branch


def branch_changes_errors(
    *, changes: Mapping[str, Any], current_settings: Mapping[str, Any]
) -> Errors:
    """What `branch_update` would refuse in `changes` (field → messages), without writing:
    the admin's forms check with it before they save through `branch_update`."""
    try:
        _clean_branch_changes(changes, current_settings=current_settings)
    except InvalidBranchInput as exc:
        return dict(exc.details or {})
    return {}


def _ensure_name_free(tenant: Company, name: str, *, exclude_pk: int | None) -> None:
    others = Branch.objects.for_tenant(tenant).filter(name__iexact=name)
    if exclude_pk is not None:
        others = others.exclude(pk=exclude_pk)
    if others.exists():
        raise BranchNameTaken(
            f"The tenant already has a branch named '{name}'.",
            details={"name": ["A branch with this name already exists."]},
        )


def _save_branch(tenant: Company, branch: Branch, *, update_fields: list[str] | None) -> None:
    """Save; a concurrent write of the same name (the unique constraint) is a BranchNameTaken."""
    try:
        with transaction.atomic():
            branch.save(update_fields=update_fields)
    except IntegrityError:
        _ensure_name_free(tenant, branch.name, exclude_pk=branch.pk)
        raise


def _clean_branch_changes(
    changes: Mapping[str, Any], *, current_settings: Mapping[str, Any]
) -> dict[str, Any]:
    errors: Errors = {}
    cleaned: dict[str, Any] = {}
    for field, value in changes.items():
        if field not in BranchChanges.__annotations__:
            errors[field] = ["Unknown field."]
        elif field in ("latitude", "longitude"):
            limit = 90 if field == "latitude" else 180
            cleaned[field] = _clean_coordinate(field, value, limit, errors)
        elif field == "business_hours":
            cleaned[field] = _clean_hours(value, errors)
        elif field == "settings":
            if not isinstance(value, Mapping):
                errors[field] = ["Must be an object."]
                continue
            messages = _branch_setting_errors(value)
            if not messages:
                value = _minutes_as_int(value)
            merged = _merge(current_settings, value)
            messages = settings_errors(merged, changed_keys=value.keys()) + messages
            if messages:
                errors[field] = messages
            cleaned[field] = merged
        elif not isinstance(value, str):
            errors[field] = ["Must be a string."]
        elif field == "name":
            cleaned[field] = _clean_name(value, Branch, errors)
        elif field == "phone":
            cleaned[field] = _clean_phone(value, errors)
        elif field == "email":
            cleaned[field] = _clean_email(value, errors)
        elif field == "time_zone":
            cleaned[field] = _clean_time_zone(value, errors)
        elif field == "country":
            country = value.strip().upper()
            if len(country) != 2 or not country.isascii() or not country.isalpha():
                errors[field] = ["Use a two-letter ISO 3166-1 code such as 'DE'."]
            cleaned[field] = country
        else:
            cleaned[field] = _clean_text(field, value, Branch, errors)
    if errors:
        raise InvalidBranchInput(details=errors)
    return cleaned


def _clean_coordinate(field: str, value: Any, limit: int, errors: Errors) -> Decimal | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        errors[field] = ["Must be a number."]
        return None
    if not math.isfinite(value) or not -limit <= value <= limit:
        errors[field] = [f"Must be between -{limit} and {limit}."]
        return None
    # The column keeps 6 decimal places (about 0.1 m), so compare and store that value.
    return Decimal(str(value)).quantize(Decimal("0.000001"))


def _clean_hours(value: Any, errors: Errors) -> dict[str, Any]:
    hour_errors = business_hours_errors(value)
    if hour_errors:
        for loc, messages in hour_errors.items():
            key = loc if loc == "business_hours" else f"business_hours.{loc}"
            errors[key] = messages
        return {}
    # Stored normalised: all seven days, HH:MM strings.
    return parse_business_hours(value).as_json()


# ---------------------------------------------------------------------------------- settings


@transaction.atomic
def tenant_settings_update(
    *, tenant: Company, actor: str, changes: Mapping[str, Any]
) -> dict[str, Any]:
    """Merge `changes` into the tenant's settings; a key set to None is removed.

    Raises InvalidTenantInput (details: {"settings": [...]}) when the result is not an object
    of at most SETTINGS_MAX_KEYS keys of at most SETTINGS_MAX_KEY_LENGTH characters and
    SETTINGS_MAX_BYTES of JSON; TenantNotFound. Writes a `tenant.settings_updated` audit row with
    {key: [old, new]} and clears the tenant cache on commit, both only when something changed.
    """
    if not isinstance(changes, Mapping):
        raise InvalidTenantInput(
            "The settings could not be updated.", details={"settings": ["Must be an object."]}
        )
    company = Company.objects.select_for_update().filter(pk=tenant.pk).first()
    if company is None:
        raise TenantNotFound(details={"tenant_id": tenant.pk})
    current: dict[str, Any] = dict(company.settings or {})
    merged = _merge(current, changes)
    if messages := settings_errors(merged, changed_keys=changes.keys()):
        raise InvalidTenantInput(
            "The settings could not be updated.", details={"settings": messages}
        )
    diff = {
        key: [current.get(key), merged.get(key)]
        for key in changes
        if current.get(key) != merged.get(key) or (key in current) != (key in merged)
    }
    if diff:
        company.settings = merged
        company.save(update_fields=["settings", "updated_at"])
        audit_record(
            tenant=company,
            actor=actor,
            action="tenant.settings_updated",
            obj=company,
            changes=diff,
        )
        tenant_cache_clear_on_commit(tenant_id=company.pk)
    return merged


def settings_errors(settings: Any, *, changed_keys: Any = ()) -> list[str]:
    """Why a settings object may not be stored; empty when it may."""
    if not isinstance(settings, Mapping):
        return ["Must be an object."]
    messages: list[str] = []
    keys = [*changed_keys, *settings.keys()]
    if any(not isinstance(key, str) or not key for key in keys):
        messages.append("Keys must be non-empty strings.")
    elif long := sorted({key for key in keys if len(key) > SETTINGS_MAX_KEY_LENGTH}):
        messages.append(
            f"Keys may be at most {SETTINGS_MAX_KEY_LENGTH} characters: "
            + ", ".join(f"'{key[:20]}…'" for key in long)
        )
    if len(settings) > SETTINGS_MAX_KEYS:
        messages.append(f"At most {SETTINGS_MAX_KEYS} keys; this would be {len(settings)}.")
    if json_depth(settings) > SETTINGS_MAX_DEPTH:
        messages.append(f"Settings may nest at most {SETTINGS_MAX_DEPTH} levels.")
        return messages  # too deep to measure its size safely
    try:
        size = len(json.dumps(settings, separators=(",", ":"), allow_nan=False).encode())
    except (TypeError, ValueError):
        messages.append("Values must be plain JSON.")
    else:
        if size > SETTINGS_MAX_BYTES:
            messages.append(f"At most {SETTINGS_MAX_BYTES} bytes of JSON; this would be {size}.")
    return messages


def _branch_setting_errors(changes: Mapping[str, Any]) -> list[str]:
    messages = []
    for key, (lowest, highest) in BRANCH_MINUTE_SETTINGS.items():
        value = changes.get(key)
        if value is None:
            continue
        if _whole_number(value) is None or not lowest <= value <= highest:
            messages.append(f"{key} must be whole minutes from {lowest} to {highest}.")
    return messages


def _whole_number(value: Any) -> int | None:
    # JSON does not tell 30 from 30.0 (JSON Schema's "integer" takes both); a bool is no number.
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, float) and not value.is_integer():
        return None
    return int(value)


def _minutes_as_int(changes: Mapping[str, Any]) -> dict[str, Any]:
    return {
        key: _whole_number(value) if key in BRANCH_MINUTE_SETTINGS and value is not None else value
        for key, value in changes.items()
    }


def _merge(current: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(current)
    for key, value in changes.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged


# ------------------------------------------------------------------------ shared field checks


def _clean_text(field: str, value: str, model: type[Company | Branch], errors: Errors) -> str:
    value = value.strip()
    max_length: int | None = getattr(model._meta.get_field(field), "max_length", None)
    if max_length is not None and len(value) > max_length:
        errors[field] = [f"At most {max_length} characters."]
    return value


def _clean_name(value: str, model: type[Company | Branch], errors: Errors) -> str:
    value = _clean_text("name", value, model, errors)
    if not value:
        errors["name"] = ["A name is required."]
    return value


def _clean_phone(value: str, errors: Errors) -> str:
    if not value.strip():
        return ""
    try:
        return normalize_phone(value)
    except InvalidPhoneNumber as exc:
        errors["phone"] = [f"{exc}; use E.164 (+4930…) or a German number (030 …)."]
        return value


def _clean_email(value: str, errors: Errors) -> str:
    value = strip_blanks(value)
    if not value:
        return ""
    try:
        validate_email(value)
    except ValidationError:
        errors["email"] = ["Enter a valid e-mail address."]
    return value


def _clean_time_zone(value: str, errors: Errors) -> str:
    value = value.strip()
    try:
        validate_time_zone(value)
    except ValidationError:
        errors["time_zone"] = [f"'{value}' is not an IANA time zone such as 'Europe/Berlin'."]
    return value


def _apply(obj: Company | Branch, cleaned: Mapping[str, Any]) -> dict[str, list[Any]]:
    """Set the changed attributes; {field: [old, new]} (JSON-able) of what changed."""
    diff: dict[str, list[Any]] = {}
    for field, new in cleaned.items():
        old = getattr(obj, field)
        if old != new:
            diff[field] = [_jsonable(old), _jsonable(new)]
            setattr(obj, field, new)
    return diff


def _jsonable(value: Any) -> Any:
    return float(value) if isinstance(value, Decimal) else value
