"""The demo tenant "Salon Sonnenschein" (docs/contract.md), created or brought back idempotently.

Secrets (API key, admin passwords) are derived from SECRET_KEY: stable across runs of
`seed_demo`, so `make run` can print them every time although only hashes are stored, and
different on every deployment that sets its own SECRET_KEY.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import zoneinfo
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.db import transaction
from django.utils import timezone

from bookings.confirmation import new_confirmation_number
from bookings.enums import AppointmentSource, AppointmentStatus
from bookings.models import Appointment, Customer
from mcp_core.permissions import Role
from routing.enums import RoutingAction
from routing.models import PhoneNumber, RoutingRule
from staff.models import Service, Staff, StaffService, WorkingHours
from tenants import services as tenant_services
from tenants.api_keys import key_from_plaintext
from tenants.enums import Plan, SubscriptionStatus
from tenants.hours import default_business_hours
from tenants.models import ApiKey, Branch, Company, OperatorProfile, Subscription

DEMO_SLUG = "salon-sonnenschein"
OPERATOR_GROUP = "Operations"
OPERATOR_APPS = ("tenants", "staff", "bookings", "routing", "integrations", "mcp_core")

BRANCHES: list[dict[str, Any]] = [
    {
        "name": "Berlin Mitte",
        "address": "Friedrichstraße 123",
        "postal_code": "10117",
        "city": "Berlin",
        "latitude": Decimal("52.520008"),
        "longitude": Decimal("13.404954"),
        "phone": "+4930120045670",
        "number": "+493012345670",
        "agent": "agent_demo_berlin_de",
    },
    {
        "name": "Hamburg Altona",
        "address": "Ottenser Hauptstraße 10",
        "postal_code": "22765",
        "city": "Hamburg",
        "latitude": Decimal("53.550341"),
        "longitude": Decimal("9.935170"),
        "phone": "+4940120045670",
        "number": "+494012345670",
        "agent": "agent_demo_hamburg_de",
    },
]

SERVICES: list[dict[str, Any]] = [
    {
        "name": "Damenhaarschnitt",
        "duration": 60,
        "price": "49.00",
        "before": 0,
        "after": 10,
        "synonyms": ["Haare schneiden Damen", "Damenschnitt", "Schnitt"],
    },
    {
        "name": "Herrenhaarschnitt",
        "duration": 30,
        "price": "29.00",
        "before": 0,
        "after": 0,
        "synonyms": ["Herrenschnitt", "Haare schneiden Herren", "Männerhaarschnitt"],
    },
    {
        "name": "Färben",
        "duration": 90,
        "price": "79.00",
        "before": 0,
        "after": 15,
        "synonyms": ["Haare färben", "Farbe", "Coloration", "Tönen"],
    },
    {
        "name": "Bartpflege",
        "duration": 20,
        "price": "19.00",
        "before": 0,
        "after": 0,
        "synonyms": ["Bart", "Bart trimmen", "Rasur"],
    },
]

# (name, branch index, {service name: skill level}, works saturday, languages, rating)
STAFF: list[tuple[str, int, dict[str, int], bool, list[str], str]] = [
    ("Anna Schmidt", 0, {"Damenhaarschnitt": 5, "Färben": 5}, False, ["de", "en"], "4.90"),
    ("Ben Müller", 0, {"Herrenhaarschnitt": 4, "Bartpflege": 5}, True, ["de"], "4.60"),
    (
        "Clara Weber",
        0,
        {"Damenhaarschnitt": 3, "Herrenhaarschnitt": 3, "Färben": 2},
        True,
        ["de", "tr"],
        "4.40",
    ),
    ("David Fischer", 1, {"Herrenhaarschnitt": 5, "Bartpflege": 4}, False, ["de", "en"], "4.80"),
    ("Eva Becker", 1, {"Damenhaarschnitt": 4, "Färben": 4}, True, ["de"], "4.70"),
    (
        "Felix Wagner",
        1,
        {"Damenhaarschnitt": 2, "Herrenhaarschnitt": 4, "Bartpflege": 3},
        True,
        ["de", "pl"],
        "4.30",
    ),
]

# (name, priority, branch index or None, conditions, action, target branch index, agent):
# a busy branch hands calls to the other one; English callers get an English agent.
ROUTING_RULES: list[tuple[str, int, int | None, dict[str, Any], str, int | None, str]] = [
    (
        "Berlin ausgelastet → Hamburg",
        10,
        0,
        {"time_windows": [], "languages": [], "min_ongoing_calls": 8},
        RoutingAction.OVERFLOW,
        1,
        "",
    ),
    (
        "Hamburg ausgelastet → Berlin",
        11,
        1,
        {"time_windows": [], "languages": [], "min_ongoing_calls": 8},
        RoutingAction.OVERFLOW,
        0,
        "",
    ),
    (
        "Englischsprachige Anrufer",
        50,
        None,
        {"time_windows": [], "languages": ["en"], "min_ongoing_calls": None},
        RoutingAction.USE_AGENT,
        None,
        "agent_demo_en",
    ),
]

CUSTOMERS = [
    ("+4915112345678", "Maria Hoffmann", "maria.hoffmann@example.de"),
    ("+4917098765432", "Jonas Klein", ""),
]


def _derived(purpose: str, length: int) -> str:
    digest = hmac.new(settings.SECRET_KEY.encode(), purpose.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")[:length]


def demo_api_key_plaintext() -> str:
    prefix = hashlib.sha256(_derived("demo-api-key-prefix", 32).encode()).hexdigest()[:8]
    return f"apk_{prefix}_{_derived('demo-api-key-secret', 43)}"


def demo_password(user: str) -> str:
    return f"demo-{_derived(f'demo-password-{user}', 16)}"


def _operator_group() -> Group:
    group, _ = Group.objects.get_or_create(name=OPERATOR_GROUP)
    perms = Permission.objects.filter(content_type__app_label__in=OPERATOR_APPS).exclude(
        codename__in=[
            "add_company",
            "delete_company",
            "add_operatorprofile",
            "change_operatorprofile",
            "delete_operatorprofile",
            "view_operatorprofile",
        ]
    )
    group.permissions.set(perms)
    return group


def _user(username: str, *, superuser: bool) -> dict[str, str]:
    user_model = get_user_model()
    user, _ = user_model.objects.get_or_create(username=username)
    password = demo_password(username)
    user.is_staff = True
    user.is_superuser = superuser
    user.is_active = True
    user.set_password(password)
    user.save()
    return {"username": username, "password": password}


def _next_weekday(after: dt.date, offset: int) -> dt.date:
    day = after + dt.timedelta(days=1)
    found = 0
    while True:
        if day.weekday() < 5:
            found += 1
            if found > offset:
                return day
        day += dt.timedelta(days=1)


@transaction.atomic
def seed_demo() -> dict[str, Any]:
    actor = "cli:seed_demo"
    company, _ = Company.objects.update_or_create(
        slug=DEMO_SLUG,
        defaults={
            "name": "Salon Sonnenschein",
            "email": "hallo@salon-sonnenschein.example",
            "phone": "+4930120045670",
            "is_active": True,
        },
    )
    Subscription.objects.update_or_create(
        tenant=company,
        defaults={
            "plan": Plan.PROFESSIONAL,
            "status": SubscriptionStatus.ACTIVE,
            "features": {"sms": True, "whatsapp": False},
        },
    )

    branches: list[Branch] = []
    for spec in BRANCHES:
        branch, _ = Branch.objects.for_tenant(company).update_or_create(
            tenant=company,
            name=spec["name"],
            defaults={
                "address": spec["address"],
                "postal_code": spec["postal_code"],
                "city": spec["city"],
                "latitude": spec["latitude"],
                "longitude": spec["longitude"],
                "phone": spec["phone"],
                "time_zone": "Europe/Berlin",
                "business_hours": default_business_hours(),
                "is_active": True,
                "settings": {"slot_interval_minutes": 30, "min_notice_minutes": 60},
            },
        )
        PhoneNumber.objects.for_tenant(company).update_or_create(
            number=spec["number"],
            defaults={
                "tenant": company,
                "branch": branch,
                "retell_agent_id": spec["agent"],
                "language": "de",
                "is_active": True,
            },
        )
        branches.append(branch)

    for name, priority, scope, conditions, action, target, agent in ROUTING_RULES:
        RoutingRule.objects.for_tenant(company).update_or_create(
            tenant=company,
            name=name,
            defaults={
                "priority": priority,
                "branch": branches[scope] if scope is not None else None,
                "conditions": conditions,
                "action": action,
                "target_branch": branches[target] if target is not None else None,
                "target_agent_id": agent,
                "is_active": True,
            },
        )

    services_by_name: dict[str, Service] = {}
    for spec in SERVICES:
        service, _ = Service.objects.for_tenant(company).update_or_create(
            tenant=company,
            name=spec["name"],
            defaults={
                "duration_minutes": spec["duration"],
                "price": Decimal(spec["price"]),
                "buffer_before_minutes": spec["before"],
                "buffer_after_minutes": spec["after"],
                "synonyms": spec["synonyms"],
                "is_active": True,
            },
        )
        service.branches.set(branches)
        services_by_name[service.name] = service

    staff_members: list[Staff] = []
    for name, branch_index, skills, saturday, languages, rating in STAFF:
        member, _ = Staff.objects.for_tenant(company).update_or_create(
            tenant=company,
            name=name,
            defaults={
                "branch": branches[branch_index],
                "languages": languages,
                "rating": Decimal(rating),
                "is_active": True,
                "email": f"{name.split()[0].lower()}@salon-sonnenschein.example",
            },
        )
        for service_name, level in skills.items():
            StaffService.objects.for_tenant(company).update_or_create(
                tenant=company,
                staff=member,
                service=services_by_name[service_name],
                defaults={"skill_level": level},
            )
        WorkingHours.objects.for_tenant(company).filter(staff=member).delete()
        for weekday in range(5):
            WorkingHours.objects.create(
                tenant=company,
                staff=member,
                weekday=weekday,
                start_time=dt.time(9),
                end_time=dt.time(18),
                breaks=[{"start": "12:30", "end": "13:00"}],
            )
        if saturday:
            WorkingHours.objects.create(
                tenant=company,
                staff=member,
                weekday=5,
                start_time=dt.time(9),
                end_time=dt.time(14),
                breaks=[],
            )
        staff_members.append(member)

    customers = [
        Customer.objects.for_tenant(company).update_or_create(
            tenant=company,
            phone=phone,
            defaults={"name": name, "email": email, "language": "de", "sms_consent": True},
        )[0]
        for phone, name, email in CUSTOMERS
    ]
    _seed_appointments(company, staff_members, services_by_name, customers)

    generated = key_from_plaintext(demo_api_key_plaintext())
    existing = ApiKey.objects.for_tenant(company).filter(prefix=generated.prefix).first()
    if existing is None:
        tenant_services.api_key_create(
            tenant=company,
            actor=actor,
            role=Role.OWNER,
            name="demo owner key",
            generated=generated,
        )
    elif existing.revoked_at is not None or existing.key_hash != generated.key_hash:
        existing.revoked_at = None
        existing.key_hash = generated.key_hash
        existing.save(update_fields=["revoked_at", "key_hash"])

    admin = _user("admin", superuser=True)
    operator = _user("operator", superuser=False)
    operator_user = get_user_model().objects.get(username="operator")
    operator_user.groups.add(_operator_group())
    OperatorProfile.objects.update_or_create(user=operator_user, defaults={"tenant": company})

    return {
        "tenant_id": company.pk,
        "api_key": generated.plaintext,
        "branches": [{"id": b.pk, "name": b.name} for b in branches],
        "services": [
            {"id": s.pk, "name": s.name, "duration": s.duration_minutes}
            for s in services_by_name.values()
        ],
        "staff": [{"id": s.pk, "name": s.name, "branch_id": s.branch_id} for s in staff_members],
        "phone_numbers": [
            {"number": spec["number"], "branch_id": b.pk}
            for spec, b in zip(BRANCHES, branches, strict=True)
        ],
        "admin": admin,
        "operator": operator,
    }


def _seed_appointments(
    company: Company,
    staff_members: list[Staff],
    services_by_name: dict[str, Service],
    customers: list[Customer],
) -> None:
    """A few upcoming appointments so the admin is not empty; keyed to be created once."""
    berlin = zoneinfo.ZoneInfo("Europe/Berlin")
    today = timezone.localdate(timezone=berlin)
    plan = [
        ("demo-1", staff_members[0], "Damenhaarschnitt", customers[0], 0, dt.time(10)),
        ("demo-2", staff_members[1], "Herrenhaarschnitt", customers[1], 0, dt.time(11)),
        ("demo-3", staff_members[4], "Färben", customers[0], 1, dt.time(14)),
    ]
    for key, member, service_name, customer, day_offset, at in plan:
        if Appointment.objects.for_tenant(company).filter(idempotency_key=key).exists():
            continue
        service = services_by_name[service_name]
        start = dt.datetime.combine(_next_weekday(today, day_offset), at, tzinfo=berlin)
        end = start + dt.timedelta(minutes=service.duration_minutes)
        Appointment.objects.create(
            tenant=company,
            branch=member.branch,
            service=service,
            staff=member,
            customer=customer,
            start_time=start,
            end_time=end,
            occupied_start=start - dt.timedelta(minutes=service.buffer_before_minutes),
            occupied_end=end + dt.timedelta(minutes=service.buffer_after_minutes),
            status=AppointmentStatus.CONFIRMED,
            confirmation_number=new_confirmation_number(),
            source=AppointmentSource.ADMIN,
            idempotency_key=key,
            price=service.price,
        )
