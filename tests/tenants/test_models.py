import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count

from bookings.confirmation import ALPHABET, new_confirmation_number, normalize_confirmation_number
from bookings.models import Customer
from common.phone import InvalidPhoneNumber, normalize_phone
from common.scoping import TenantMissingError
from staff.models import WorkingHours
from tenants.hours import business_hours_errors, default_business_hours, parse_business_hours
from tenants.models import Branch
from tenants.policy import plan_features, plan_limits
from tests.factories import (
    BranchFactory,
    CompanyFactory,
    CustomerFactory,
    StaffFactory,
    WorkingHoursFactory,
)


def test_plan_limits_follow_the_contract(settings):
    settings.MCP_RATE_LIMIT_BASIC = 100
    assert plan_limits("basic").__dict__ == {
        "branches": 1,
        "staff_per_branch": 5,
        "monthly_bookings": 500,
        "api_calls_per_hour": 100,
    }
    assert plan_limits("professional").branches == 5
    assert plan_limits("enterprise").branches == -1
    assert plan_limits("no-such-plan") == plan_limits("basic")
    assert plan_features("basic", {"sms": True})["sms_notifications"] is True
    assert plan_features("basic", {})["multi_branch"] is False


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("030 1234567", "+49301234567"),
        ("+49 (0)30 1234567", "+49301234567"),
        ("0151 12345678", "+4915112345678"),
        ("+43 1 5122345", "+4315122345"),
    ],
)
def test_phone_numbers_are_normalised_to_e164(raw, expected):
    assert normalize_phone(raw) == expected


@pytest.mark.parametrize("raw", ["", "abc", "123", "+49 30"])
def test_invalid_phone_numbers_are_refused(raw):
    with pytest.raises(InvalidPhoneNumber):
        normalize_phone(raw)


def test_confirmation_numbers_are_readable():
    number = new_confirmation_number()
    assert len(number) == 7 and number[3] == "-"
    assert all(ch in ALPHABET for ch in number.replace("-", ""))
    assert normalize_confirmation_number(" k7m 4rt ") == "K7M-4RT"


def test_default_business_hours_are_valid_and_sunday_is_closed():
    hours = parse_business_hours(default_business_hours())
    assert hours.for_date(dt.date(2027, 3, 28)).is_open is False  # a Sunday
    assert hours.for_date(dt.date(2027, 3, 29)).open == dt.time(9)


def test_business_hours_errors_name_the_field():
    errors = business_hours_errors(
        {"monday": {"open": "18:00", "close": "09:00", "is_open": True}, "funday": {}}
    )
    assert set(errors) == {"monday", "funday"}
    assert errors["monday"] == ["Value error, 'close' must be after 'open'"]


@pytest.mark.django_db
def test_branch_validation_refuses_bad_time_zone_and_hours():
    branch = BranchFactory.build(
        tenant=CompanyFactory(),
        time_zone="Mars/Olympus",
        business_hours={"monday": {"open": "25:00"}},
    )
    with pytest.raises(ValidationError) as exc:
        branch.full_clean()
    assert set(exc.value.message_dict) == {"time_zone", "business_hours"}


@pytest.mark.django_db
def test_branch_names_are_unique_per_tenant_ignoring_case():
    branch = BranchFactory(name="Berlin Mitte")
    with pytest.raises(IntegrityError), transaction.atomic():
        BranchFactory(tenant=branch.tenant, name="berlin mitte")
    BranchFactory(name="Berlin Mitte")  # another tenant may use the name
    assert Branch.objects.all_tenants().filter(name__iexact="berlin mitte").count() == 2


@pytest.mark.django_db
def test_customer_phone_is_unique_per_tenant():
    customer = CustomerFactory(phone="+4915112345678")
    with pytest.raises(IntegrityError), transaction.atomic():
        CustomerFactory(tenant=customer.tenant, phone="+4915112345678")
    CustomerFactory(phone="+4915112345678")
    assert Customer.objects.all_tenants().filter(phone="+4915112345678").count() == 2


@pytest.mark.django_db
def test_customer_phone_must_be_stored_as_e164():
    customer = CustomerFactory.build(tenant=CompanyFactory(), phone="030 1234567")
    with pytest.raises(ValidationError) as exc:
        customer.full_clean()
    assert exc.value.message_dict["phone"] == ["Store phone numbers in E.164, e.g. '+49301234567'."]


@pytest.mark.django_db
def test_scoped_queries_need_a_tenant():
    branch = BranchFactory()
    BranchFactory()
    assert list(Branch.objects.for_tenant(branch.tenant)) == [branch]
    assert list(Branch.objects.for_tenant(branch.tenant_id)) == [branch]
    with pytest.raises(TenantMissingError):
        Branch.objects.for_tenant(None)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "unscoped",
    [
        lambda: list(Branch.objects.filter(is_active=True)),
        lambda: Branch.objects.count(),
        lambda: Branch.objects.exists(),
        lambda: Branch.objects.filter(name="x").first(),
        lambda: Branch.objects.get(name="x"),
        lambda: list(Branch.objects.values_list("name", flat=True)),
        lambda: list(Branch.objects.iterator()),
        lambda: Branch.objects.aggregate(n=Count("id")),
        lambda: Branch.objects.update(name="überall"),
        lambda: Branch.objects.all().delete(),
    ],
)
def test_the_default_manager_fails_closed_without_a_tenant(unscoped):
    mine, theirs = BranchFactory(), BranchFactory()

    with pytest.raises(TenantMissingError, match=r"use \.for_tenant"):
        unscoped()

    assert sorted(Branch.objects.all_tenants().values_list("name", flat=True)) == sorted(
        [mine.name, theirs.name]
    )


@pytest.mark.django_db
def test_scoped_reads_writes_and_related_rows_stay_open():
    branch = BranchFactory()
    other = BranchFactory()

    assert Branch.objects.for_tenant(branch.tenant).filter(is_active=True).count() == 1
    assert Branch.objects.for_tenant(branch.tenant).update(name="Mitte") == 1
    # The parent row scopes its related rows; Django's own machinery uses the default manager.
    assert [b.name for b in branch.tenant.branches.all()] == ["Mitte"]
    assert Branch._default_manager.count() == 2
    assert Branch.objects.for_tenant(other.tenant).get().name == other.name


@pytest.mark.django_db
def test_working_hours_validation_checks_breaks():
    staff = StaffFactory()
    hours = WorkingHoursFactory.build(
        staff=staff,
        tenant=staff.tenant,
        start_time=dt.time(9),
        end_time=dt.time(17),
        breaks=[
            {"start": "08:00", "end": "09:30"},
            {"start": "12:00", "end": "11:00"},
            {"start": "12:00"},
        ],
    )
    with pytest.raises(ValidationError) as exc:
        hours.clean()
    # In the console's language (German by default), as the staff page shows them.
    assert exc.value.message_dict["breaks"] == [
        "Pause 1 muss innerhalb der Arbeitszeit 09:00–17:00 liegen.",
        "Pause 2: Das Ende muss nach dem Beginn liegen.",
        "Pause 3: Beginn und Ende als HH:MM angeben.",
    ]


@pytest.mark.django_db
def test_working_hours_end_after_start_is_a_database_constraint():
    staff = StaffFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        WorkingHoursFactory(staff=staff, start_time=dt.time(18), end_time=dt.time(9), breaks=[])
    assert WorkingHours.objects.all_tenants().count() == 0
