"""common.rows: hand-built single-table statements read back exactly as the ORM writes them,
on PostgreSQL and SQLite alike (the suite runs on both)."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from bookings.models import Appointment
from common import rows
from mcp_core.models import OutboxMessage, SagaRun
from tests.factories import AppointmentFactory, CompanyFactory, CustomerFactory

pytestmark = pytest.mark.django_db


def test_insert_fills_defaults_and_reads_back_like_the_orm() -> None:
    tenant = CompanyFactory()
    before = timezone.now()
    pk = rows.insert(
        OutboxMessage,
        tenant=tenant,
        topic="t",
        payload={"a": [1, "ü"], "b": None},
        dedupe_key="k1",
    )
    message = OutboxMessage.objects.all_tenants().get(pk=pk)
    assert isinstance(pk, int)
    assert message.tenant_id == tenant.pk
    assert message.payload == {"a": [1, "ü"], "b": None}
    assert message.status == "pending" and message.attempts == 0 and message.result is None
    assert message.last_error == "" and message.delivered_at is None
    assert before <= message.created_at == message.updated_at <= timezone.now()
    assert before <= message.next_attempt_at <= timezone.now()


def test_insert_with_a_uuid_key_and_an_explicit_one() -> None:
    tenant = CompanyFactory()
    generated = rows.insert(SagaRun, tenant_id=tenant.pk, name="s", context={"x": 1})
    given = uuid.uuid4()
    assert rows.insert(SagaRun, tenant=tenant, name="s", context={}, id=given) == given
    assert isinstance(generated, uuid.UUID)
    assert SagaRun.objects.all_tenants().get(pk=generated).context == {"x": 1}
    assert SagaRun.objects.all_tenants().filter(pk__in=[generated, given]).count() == 2


def test_insert_many_returns_keys_in_order() -> None:
    tenant = CompanyFactory()
    keys = rows.insert_many(
        OutboxMessage,
        [
            {"tenant": tenant, "topic": "t", "payload": {"n": n}, "dedupe_key": f"m{n}"}
            for n in range(3)
        ],
    )
    assert [OutboxMessage.objects.all_tenants().get(pk=key).payload["n"] for key in keys] == [
        0,
        1,
        2,
    ]
    assert rows.insert_many(OutboxMessage, []) == []


def test_a_violated_constraint_raises_integrity_error_and_writes_nothing() -> None:
    tenant = CompanyFactory()
    rows.insert(OutboxMessage, tenant=tenant, topic="t", payload={}, dedupe_key="same")
    with pytest.raises(IntegrityError), transaction.atomic():
        rows.insert(OutboxMessage, tenant=tenant, topic="t", payload={}, dedupe_key="same")
    assert OutboxMessage.objects.all_tenants().filter(dedupe_key="same").count() == 1


def test_update_matches_on_every_condition_and_touches_auto_now() -> None:
    tenant = CompanyFactory()
    pk = rows.insert(OutboxMessage, tenant=tenant, topic="t", payload={}, dedupe_key="u")
    stamp = OutboxMessage.objects.all_tenants().get(pk=pk).updated_at
    assert rows.update(OutboxMessage, {"pk": pk, "attempts": 5}, status="dead") == 0
    when = timezone.now() + dt.timedelta(hours=1)
    changed = rows.update(
        OutboxMessage,
        {"id": pk, "status": "pending", "attempts": 0},
        status="delivered",
        result={"sent": ["sms"]},
        delivered_at=when,
    )
    message = OutboxMessage.objects.all_tenants().get(pk=pk)
    assert changed == 1
    assert (message.status, message.result, message.delivered_at) == (
        "delivered",
        {"sent": ["sms"]},
        when,
    )
    assert message.updated_at > stamp


def test_select_one_converts_like_the_orm() -> None:
    appointment = AppointmentFactory(price=Decimal("25.50"))
    row = rows.select_one(
        Appointment,
        ("id", "start_time", "price", "customer_id", "status"),
        {"tenant": appointment.tenant, "confirmation_number": appointment.confirmation_number},
    )
    assert row == (
        appointment.pk,
        appointment.start_time,
        Decimal("25.50"),
        appointment.customer_id,
        appointment.status,
    )
    assert row is not None and timezone.is_aware(row[1])
    assert rows.select_one(Appointment, ("id",), {"confirmation_number": "nope"}) is None


def test_select_one_takes_the_lowest_key_and_filters_by_tenant() -> None:
    first, second = CustomerFactory(phone="+4930111"), CustomerFactory(phone="+4930111")
    other_tenant = CompanyFactory()
    assert rows.select_one(type(first), ("id",), {"phone": "+4930111"}) == (first.pk,)
    assert rows.select_one(
        type(first), ("id",), {"tenant": second.tenant, "phone": "+4930111"}
    ) == (second.pk,)
    assert (
        rows.select_one(type(first), ("id",), {"tenant": other_tenant, "phone": "+4930111"}) is None
    )


def test_unknown_columns_are_refused() -> None:
    with pytest.raises(ValueError, match="not a column"):
        rows.select_one(Appointment, ("sms_messages",), {})  # a reverse relation


def test_first_builds_the_instance_the_orm_would() -> None:
    customer = CustomerFactory(email="a@example.de")
    found = rows.first(type(customer), {"tenant": customer.tenant, "phone": customer.phone})
    expected = type(customer).objects.all_tenants().get(pk=customer.pk)
    assert isinstance(found, type(customer))
    assert {f.attname: getattr(found, f.attname) for f in found._meta.concrete_fields} == {
        f.attname: getattr(expected, f.attname) for f in expected._meta.concrete_fields
    }
    assert found._state.adding is False
    assert rows.first(type(customer), {"phone": "+491"}) is None


def test_insert_unless_conflict_skips_a_conflicting_row_and_keeps_the_transaction() -> None:
    tenant = CompanyFactory()
    with transaction.atomic():
        first = rows.insert_unless_conflict(
            OutboxMessage, tenant=tenant, topic="t", payload={"n": 1}, dedupe_key="once"
        )
        again = rows.insert_unless_conflict(
            OutboxMessage, tenant=tenant, topic="t", payload={"n": 2}, dedupe_key="once"
        )
        # The transaction is still usable: no savepoint was needed.
        other = rows.insert(OutboxMessage, tenant=tenant, topic="t", payload={}, dedupe_key="b")
    assert isinstance(first, int) and again is None and isinstance(other, int)
    assert OutboxMessage.objects.all_tenants().get(dedupe_key="once").payload == {"n": 1}


def test_insert_unless_conflict_still_raises_for_a_check_constraint() -> None:
    appointment = AppointmentFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        rows.insert_unless_conflict(
            Appointment,
            tenant_id=appointment.tenant_id,
            branch_id=appointment.branch_id,
            service_id=appointment.service_id,
            staff_id=appointment.staff_id,
            customer_id=appointment.customer_id,
            start_time=appointment.start_time,
            end_time=appointment.start_time,  # appointment_end_after_start
            occupied_start=appointment.start_time,
            occupied_end=appointment.start_time,
            status="confirmed",
            confirmation_number="ZZZ-ZZZ",
            price=Decimal("1"),
        )


def test_a_model_with_save_receivers_is_refused_for_writes() -> None:
    from django.db.models.signals import post_save

    from staff.models import Staff  # staff.signals bumps the schedule version on its saves

    assert post_save.has_listeners(Staff)
    with pytest.raises(TypeError, match="save signal receivers"):
        rows.update(Staff, {"pk": 0}, name="x")
    assert rows.select_one(Staff, ("id",), {"pk": 0}) is None  # reading is fine
