"""The transactional outbox (mcp_core.outbox) on its own: written with the change or not at all,
delivered once, retried with back-off, dead-lettered with an operations alert, replayed."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.utils import timezone

from mcp_core import outbox
from mcp_core.models import AuditLog, OutboxMessage, OutboxStatus
from tests.factories import CompanyFactory, OperatorProfileFactory, UserFactory

pytestmark = pytest.mark.django_db

TOPIC = "test.echo"
received: list[dict[str, Any]] = []
failures: list[Exception] = []
dead: list[int] = []


@outbox.handler(TOPIC, on_dead=lambda message: dead.append(message.pk))
def _echo(message: OutboxMessage) -> dict[str, Any]:
    if failures:
        raise failures.pop(0)
    received.append(message.payload)
    return {"echo": message.payload}


@pytest.fixture(autouse=True)
def _clean() -> None:
    received.clear()
    failures.clear()
    dead.clear()


@pytest.fixture
def scheduled(monkeypatch) -> list[tuple[int, float]]:
    """Delivery tasks sent (the process edge), as (message id, countdown)."""
    sent: list[tuple[int, float]] = []
    monkeypatch.setattr(
        outbox, "schedule", lambda message_id, countdown=0.0: sent.append((message_id, countdown))
    )
    return sent


def test_with_a_broker_the_task_is_sent_with_its_countdown_and_no_publish_retries(
    monkeypatch, settings
):
    from mcp_core import outbox as tasks

    sent: list[tuple[Any, dict[str, Any]]] = []
    settings.CELERY_TASK_ALWAYS_EAGER = False
    monkeypatch.setattr(
        tasks.deliver_outbox_message, "apply_async", lambda args, **kw: sent.append((args, kw))
    )

    outbox.schedule(41, countdown=7.5)

    assert sent == [((41,), {"countdown": 7.5, "retry": False})]


def test_without_a_reachable_broker_scheduling_only_logs(monkeypatch, settings, caplog):
    from mcp_core import outbox as tasks

    def refuse(*args, **kwargs):
        raise ConnectionRefusedError("no broker")

    settings.CELERY_TASK_ALWAYS_EAGER = False
    monkeypatch.setattr(tasks.deliver_outbox_message, "apply_async", refuse)

    outbox.schedule(41)

    assert "the sweep delivers it" in caplog.text


def due(message: OutboxMessage) -> None:
    OutboxMessage.objects.all_tenants().filter(pk=message.pk).update(next_attempt_at=timezone.now())


@pytest.mark.django_db(transaction=True)
def test_enqueue_refuses_to_run_outside_a_transaction():
    tenant = CompanyFactory()

    with pytest.raises(RuntimeError, match="inside the transaction"):
        outbox.enqueue(tenant=tenant, topic=TOPIC, payload={})

    assert OutboxMessage.objects.all_tenants().count() == 0


def test_a_rolled_back_change_leaves_no_message_and_sends_no_task(
    scheduled, django_capture_on_commit_callbacks
):
    tenant = CompanyFactory()

    with (
        django_capture_on_commit_callbacks(execute=True),
        pytest.raises(ValueError),
        transaction.atomic(),
    ):
        outbox.enqueue(tenant=tenant, topic=TOPIC, payload={"n": 1})
        raise ValueError("the change failed")

    assert OutboxMessage.objects.all_tenants().count() == 0
    assert scheduled == []


def test_a_committed_message_sends_its_task_on_commit_and_a_key_dedupes(
    scheduled, django_capture_on_commit_callbacks
):
    tenant = CompanyFactory()

    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        first = outbox.enqueue(tenant=tenant, topic=TOPIC, payload={"n": 1}, key="k1")
        again = outbox.enqueue(tenant=tenant, topic=TOPIC, payload={"n": 2}, key="k1")

    assert again.pk == first.pk
    assert OutboxMessage.objects.all_tenants().get().payload == {"n": 1}
    assert scheduled == [(first.pk, 0.0)]


def test_eager_celery_delivers_on_commit(django_capture_on_commit_callbacks):
    tenant = CompanyFactory()

    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        message = outbox.enqueue(tenant=tenant, topic=TOPIC, payload={"n": 1})

    message.refresh_from_db()
    assert (message.status, message.attempts, message.result) == (
        OutboxStatus.DELIVERED,
        1,
        {"echo": {"n": 1}},
    )
    assert received == [{"n": 1}]


def test_an_inline_message_is_written_claimed_and_sends_no_task(
    scheduled, django_capture_on_commit_callbacks, settings
):
    """The caller delivers it right after the commit: nobody else may attempt it meanwhile,
    and no task is sent for it."""
    tenant = CompanyFactory()
    before = timezone.now()

    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        message = outbox.enqueue(tenant=tenant, topic=TOPIC, payload={"n": 1}, inline=True)

    row = OutboxMessage.objects.all_tenants().get(pk=message.pk)
    assert scheduled == []
    assert (row.status, row.attempts) == (OutboxStatus.PENDING, 1)
    lease = dt.timedelta(seconds=settings.MCP_OUTBOX_LEASE)
    assert before + lease <= row.next_attempt_at <= timezone.now() + lease
    assert outbox.deliver(message.pk).attempted is False  # a task or the sweep: leased
    assert outbox.deliver_due() == []

    delivery = outbox.deliver_claimed(message)

    assert (delivery.attempted, delivery.status) == (True, "delivered")
    assert received == [{"n": 1}]
    assert OutboxMessage.objects.all_tenants().get(pk=message.pk).result == {"echo": {"n": 1}}


def test_an_inline_message_whose_caller_died_is_swept_once_its_lease_ran_out(settings):
    with transaction.atomic():
        message = outbox.enqueue(
            tenant=CompanyFactory(), topic=TOPIC, payload={"n": 1}, inline=True
        )
    expired = timezone.now() - dt.timedelta(seconds=settings.MCP_OUTBOX_SWEEP_GRACE + 1)
    OutboxMessage.objects.all_tenants().filter(pk=message.pk).update(next_attempt_at=expired)

    assert outbox.deliver_due() == [message.pk]

    row = OutboxMessage.objects.all_tenants().get(pk=message.pk)
    assert (row.status, row.attempts) == (OutboxStatus.DELIVERED, 2)
    assert received == [{"n": 1}]


def test_a_late_inline_delivery_after_a_takeover_records_nothing(caplog):
    """The caller outlived its lease and the sweep took the message over: the caller's
    outcome must not overwrite the sweep's."""
    with transaction.atomic():
        message = outbox.enqueue(
            tenant=CompanyFactory(), topic=TOPIC, payload={"n": 1}, inline=True
        )
    OutboxMessage.objects.all_tenants().filter(pk=message.pk).update(
        attempts=2
    )  # claimed again meanwhile

    outbox.deliver_claimed(message)

    row = OutboxMessage.objects.all_tenants().get(pk=message.pk)
    assert (row.status, row.attempts, row.result) == (OutboxStatus.PENDING, 2, None)
    assert "taken over" in caplog.text


def test_a_message_is_delivered_once_however_often_it_is_asked(scheduled):
    with transaction.atomic():
        message = outbox.enqueue(tenant=CompanyFactory(), topic=TOPIC, payload={"n": 1})

    deliveries = [outbox.deliver(message.pk) for _ in range(3)]

    assert [d.attempted for d in deliveries] == [True, False, False]
    assert {d.status for d in deliveries} == {"delivered"}
    assert received == [{"n": 1}]


def test_a_failure_is_retried_after_a_jittered_back_off_then_dead_lettered(
    scheduled, settings, mailoutbox
):
    settings.CELERY_TASK_ALWAYS_EAGER = False  # a broker: the outbox schedules its retries
    settings.MCP_MAX_RETRIES = 2
    settings.OPERATIONS_ALERT_EMAILS = ["ops@askproai.example"]
    tenant = CompanyFactory(name="Salon Sonnenschein")
    operator = UserFactory(is_staff=True, email="filiale@example.de")
    OperatorProfileFactory(user=operator, tenant=tenant)
    with transaction.atomic():
        message = outbox.enqueue(tenant=tenant, topic=TOPIC, payload={"n": 1})
    failures.extend([ConnectionError("down")] * 3)

    first = outbox.deliver(message.pk)
    message.refresh_from_db()
    wait = (message.next_attempt_at - timezone.now()).total_seconds()
    assert first.status == "pending"
    assert settings.MCP_RETRY_BACKOFF_BASE / 2 - 1 <= wait <= settings.MCP_RETRY_BACKOFF_BASE
    assert scheduled[-1][0] == message.pk
    assert outbox.deliver(message.pk).attempted is False  # not due yet
    due(message)
    assert outbox.deliver(message.pk).status == "pending"
    due(message)
    last = outbox.deliver(message.pk)

    assert (last.status, last.attempts) == ("dead", 3)
    assert "ConnectionError: down" in last.error
    assert dead == [message.pk]
    assert AuditLog.objects.all_tenants().filter(action="outbox.dead_lettered").count() == 1
    [alert] = mailoutbox
    assert sorted(alert.to) == ["filiale@example.de", "ops@askproai.example"]
    assert "Salon Sonnenschein" in alert.body
    assert received == []


def test_a_permanent_error_or_an_unknown_topic_is_dead_lettered_at_once(scheduled):
    tenant = CompanyFactory()
    with transaction.atomic():
        refused = outbox.enqueue(tenant=tenant, topic=TOPIC, payload={})
        orphan = outbox.enqueue(tenant=tenant, topic="nobody.listens", payload={})
    failures.append(outbox.PermanentDeliveryError("refused"))

    assert outbox.deliver(refused.pk).status == "dead"
    assert outbox.deliver(orphan.pk).status == "dead"
    assert "no handler" in OutboxMessage.objects.all_tenants().get(pk=orphan.pk).last_error


def test_the_sweep_delivers_messages_whose_task_was_lost_but_leaves_fresh_ones(scheduled):
    tenant = CompanyFactory()
    with transaction.atomic():
        lost = outbox.enqueue(tenant=tenant, topic=TOPIC, payload={"lost": True})
        fresh = outbox.enqueue(tenant=tenant, topic=TOPIC, payload={"fresh": True})
    OutboxMessage.objects.all_tenants().filter(pk=lost.pk).update(
        next_attempt_at=timezone.now() - dt.timedelta(minutes=5)
    )

    assert outbox.deliver_due() == [lost.pk]

    assert received == [{"lost": True}]
    assert OutboxMessage.objects.all_tenants().get(pk=fresh.pk).status == OutboxStatus.PENDING


def test_a_claim_left_by_a_dead_worker_expires_after_the_lease(scheduled, settings):
    with transaction.atomic():
        message = outbox.enqueue(tenant=CompanyFactory(), topic=TOPIC, payload={})
    now = timezone.now()
    # A worker claimed it and died: the lease runs until then.
    OutboxMessage.objects.all_tenants().filter(pk=message.pk).update(
        attempts=1, next_attempt_at=now + dt.timedelta(seconds=settings.MCP_OUTBOX_LEASE)
    )
    assert outbox.deliver(message.pk).attempted is False

    OutboxMessage.objects.all_tenants().filter(pk=message.pk).update(
        next_attempt_at=now - dt.timedelta(seconds=settings.MCP_OUTBOX_SWEEP_GRACE + 1)
    )
    assert outbox.deliver_due() == [message.pk]
    assert OutboxMessage.objects.all_tenants().get(pk=message.pk).status == OutboxStatus.DELIVERED


def test_retry_puts_dead_messages_back_and_never_repeats_delivered_ones(scheduled):
    tenant = CompanyFactory()
    with transaction.atomic():
        gone = outbox.enqueue(tenant=tenant, topic=TOPIC, payload={"n": 1})
        done = outbox.enqueue(tenant=tenant, topic=TOPIC, payload={"n": 2})
    OutboxMessage.objects.all_tenants().filter(pk=gone.pk).update(
        status=OutboxStatus.DEAD, attempts=4
    )
    outbox.deliver(done.pk)

    requeued = outbox.retry(OutboxMessage.objects.all_tenants(), actor="test")

    gone.refresh_from_db()
    assert requeued == [gone.pk]
    assert (gone.status, gone.attempts) == (OutboxStatus.PENDING, 0)
    assert outbox.deliver(gone.pk).status == "delivered"


def test_retry_failed_syncs_command_replays_every_tenants_dead_messages(
    scheduled, capsys, django_capture_on_commit_callbacks
):
    import json

    first, second = CompanyFactory(), CompanyFactory()
    with transaction.atomic():
        messages = [
            outbox.enqueue(tenant=tenant, topic=TOPIC, payload={"tenant": tenant.pk})
            for tenant in (first, second)
        ]
    OutboxMessage.objects.all_tenants().update(status=OutboxStatus.DEAD)

    with django_capture_on_commit_callbacks(execute=True):
        call_command("retry_failed_syncs", "--json")

    report = json.loads(capsys.readouterr().out)
    assert report["requeued"] == 2
    assert report["tenants"][str(first.pk)]["message_ids"] == [messages[0].pk]
    assert {m.status for m in OutboxMessage.objects.all_tenants()} == {OutboxStatus.PENDING}
    assert sorted(pk for pk, _ in scheduled) == sorted(m.pk for m in messages)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_sweeps_at_once_never_attempt_the_same_message(scheduled):
    tenant = CompanyFactory()
    with transaction.atomic():
        ids = [outbox.enqueue(tenant=tenant, topic=TOPIC, payload={"n": n}).pk for n in range(10)]
    OutboxMessage.objects.all_tenants().update(
        next_attempt_at=timezone.now() - dt.timedelta(minutes=5)
    )
    results: list[list[int]] = []
    barrier = threading.Barrier(2)

    def sweep() -> None:
        try:
            barrier.wait()
            results.append(outbox.deliver_due(limit=10))
        finally:
            connection.close()

    threads = [threading.Thread(target=sweep) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    attempted = results[0] + results[1]
    assert sorted(attempted) == sorted(ids)
    assert len(received) == 10
    assert set(OutboxMessage.objects.all_tenants().values_list("attempts", flat=True)) == {1}


def test_the_console_inbox_lists_only_the_operators_tenant_and_delivers_dead_ones_again(
    client, scheduled, django_capture_on_commit_callbacks
):
    from django.contrib.auth.models import Permission
    from django.urls import reverse

    mine, theirs = CompanyFactory(), CompanyFactory()
    with transaction.atomic():
        my_dead = outbox.enqueue(tenant=mine, topic=TOPIC, payload={"n": 1})
        their_dead = outbox.enqueue(tenant=theirs, topic=TOPIC, payload={"n": 2})
    OutboxMessage.objects.all_tenants().update(status=OutboxStatus.DEAD)
    profile = OperatorProfileFactory(tenant=mine, user=UserFactory(is_staff=True))
    profile.user.user_permissions.set(
        Permission.objects.filter(content_type__model="outboxmessage")
    )
    client.force_login(profile.user)
    url = reverse("admin:console_problems")

    listed = client.get(url).context["problems"].dead_messages
    technical = client.get(reverse("admin:mcp_core_outboxmessage_changelist"))
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, {"retry_message": my_dead.pk})
        refused = client.post(url, {"retry_message": their_dead.pk}, follow=True)

    assert listed == [my_dead]
    assert technical.status_code == 403  # the outbox table itself is for superusers
    assert response.status_code == 302
    assert "Nichts erneut zuzustellen" in refused.content.decode()
    assert OutboxMessage.objects.all_tenants().get(pk=my_dead.pk).status == OutboxStatus.PENDING
    assert OutboxMessage.objects.all_tenants().get(pk=their_dead.pk).status == OutboxStatus.DEAD
    assert [pk for pk, _ in scheduled] == [my_dead.pk]
    retried = AuditLog.objects.all_tenants().get(action="outbox.retried")
    assert retried.actor == f"admin:{profile.user.get_username()}"
