"""The transactional outbox: side effects leave through rows written with the change itself.

`enqueue` inside the change's transaction; `@handler("topic")` registers the idempotent
handler that delivers it (raise to retry, `PermanentDeliveryError` when retrying cannot help).
`next_attempt_at` is schedule and lease in one; failures back off, then dead-letter (topic
hook, audit row, `on_dead_letter` listeners); `retry` replays. Why: docs/architecture.md.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

from celery import shared_task
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone

from common.scoping import TenantQuerySet
from mcp_core.audit import Ref, audit_record
from mcp_core.models import OutboxMessage, OutboxStatus
from mcp_core.queries import outbox_message_insert, outbox_message_update

if TYPE_CHECKING:
    from tenants.models import Company

logger = logging.getLogger(__name__)

HandlerFn = Callable[[OutboxMessage], dict[str, Any] | None]
DeadHook = Callable[[OutboxMessage], None]

# A task may arrive a little before the time written in the row (clocks, rounding).
_CLOCK_TOLERANCE = dt.timedelta(seconds=1)
SWEEP_BATCH = 20
OUTBOX_ACTOR = "system:outbox"
# An inline message is written as claimed by its first attempt.
_INLINE_ATTEMPT = 1


class PermanentDeliveryError(Exception):
    """Raised by a handler when retrying cannot help (e.g. the provider refused the request):
    the message is dead-lettered at once."""


@dataclass(frozen=True)
class _Topic:
    handle: HandlerFn
    on_dead: DeadHook | None


_topics: dict[str, _Topic] = {}


def handler(topic: str, *, on_dead: DeadHook | None = None) -> Callable[[HandlerFn], HandlerFn]:
    """Register the handler of `topic` (once per topic, at import of a module loaded at
    start-up). `on_dead(message)` runs when the topic's message is dead-lettered."""

    def register(fn: HandlerFn) -> HandlerFn:
        existing = _topics.get(topic)
        if existing is not None and existing.handle is not fn:
            raise ValueError(f"outbox topic {topic!r} has a handler already")
        _topics[topic] = _Topic(handle=fn, on_dead=on_dead)
        return fn

    return register


def _every_tenants_messages() -> TenantQuerySet[OutboxMessage]:
    # all_tenants: delivery, the sweep and replays work by message id; the row has the tenant.
    return OutboxMessage.objects.all_tenants()


def registered_topics() -> list[str]:
    return sorted(_topics)


DeadLetterListener = Callable[[OutboxMessage], None]
_dead_letter_listeners: list[DeadLetterListener] = []


def on_dead_letter(listener: DeadLetterListener) -> DeadLetterListener:
    """Register a listener told of every dead-lettered message, after the topic's own hook and
    the audit row (the operations alert of `tenants.alerts` is one)."""
    if listener not in _dead_letter_listeners:
        _dead_letter_listeners.append(listener)
    return listener


def enqueue(
    *,
    tenant: Company,
    topic: str,
    payload: dict[str, Any],
    key: str | None = None,
    inline: bool = False,
) -> OutboxMessage:
    """Write a message for `topic`; call it inside the transaction of the change it belongs
    to. Its delivery task is sent when that transaction commits.

    `inline=True`: the caller delivers the message itself with `deliver_claimed` right after
    the commit, so it is written already claimed (attempts 1, leased for MCP_OUTBOX_LEASE
    seconds) and no task is sent; should the caller die first, the sweep takes the message up
    once the lease has run out. `key` makes the message unique: enqueueing the same key again
    returns the first message.
    Raises RuntimeError outside a transaction (the row must commit with the change).
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("outbox.enqueue must run inside the transaction of the change")
    now = timezone.now()
    fields = {
        "topic": topic,
        "payload": payload,
        # A fresh uuid cannot collide: no savepoint (two round trips) on the booking path.
        "dedupe_key": key or f"{topic}:{uuid.uuid4().hex}",
        "attempts": _INLINE_ATTEMPT if inline else 0,
        "next_attempt_at": _lease_end(now) if inline else now,
    }
    if key is None:
        message_id = outbox_message_insert(tenant_id=tenant.pk, **fields)
    else:
        try:
            with transaction.atomic():
                message_id = outbox_message_insert(tenant_id=tenant.pk, **fields)
        except IntegrityError:
            return OutboxMessage.objects.for_tenant(tenant).get(dedupe_key=key)
    message = OutboxMessage(pk=message_id, tenant=tenant, **fields)
    if not inline:
        transaction.on_commit(partial(schedule, message.pk), robust=True)
    return message


def schedule(message_id: int, *, countdown: float = 0.0) -> None:
    """Send the delivery task of a message. With the broker unreachable this only logs: the
    sweep delivers the message later. Without a broker (eager Celery) see below."""
    if settings.CELERY_TASK_ALWAYS_EAGER:
        # No broker, so nothing runs later: a delayed task (a back-off retry) is not run at
        # all; `retry_failed_syncs` replays what is left pending. The rest is delivered here
        # and now, not through eager apply_async, whose process-wide "join would block" flag
        # is not thread-safe.
        if countdown <= 0:
            deliver(message_id)
        return
    try:
        # retry=False: with the broker down, fail at once rather than hold the request.
        deliver_outbox_message.apply_async((message_id,), countdown=countdown, retry=False)
    except Exception as exc:
        logger.warning(
            "outbox message %s not handed to the broker (%s: %s); the sweep delivers it",
            message_id,
            type(exc).__name__,
            exc,
        )


def backoff_seconds(attempt: int) -> float:
    """How long to wait before retry `attempt` (1, 2, ...): exponential from
    MCP_RETRY_BACKOFF_BASE, capped at MCP_RETRY_BACKOFF_MAX, with "equal jitter" (between
    half and all of it) so messages that failed together do not retry together."""
    ceiling = min(
        float(settings.MCP_RETRY_BACKOFF_MAX),
        float(settings.MCP_RETRY_BACKOFF_BASE) * 2 ** max(0, attempt - 1),
    )
    return ceiling / 2 + random.uniform(0, ceiling / 2)  # noqa: S311 - jitter, not secrecy


@dataclass(frozen=True)
class Delivery:
    """A message's state after a `deliver` call; `attempted` says whether this call ran it."""

    message_id: int
    topic: str
    status: str
    attempts: int
    attempted: bool
    result: dict[str, Any] | None
    error: str

    @property
    def delivered(self) -> bool:
        return self.status == OutboxStatus.DELIVERED


def deliver(message_id: int) -> Delivery | None:
    """Attempt the message now when it is pending and due (None when it does not exist).

    A message delivered, dead, scheduled for later or being attempted elsewhere is left alone
    and reported as it is. Never raises for a handler's failure: it is recorded on the row.
    """
    message = _claim(message_id)
    if message is None:
        current = _every_tenants_messages().filter(pk=message_id).first()
        return _report(current, attempted=False) if current is not None else None
    return _attempt(message)


def claimed_message(
    *, tenant: Company, message_id: int, topic: str, payload: dict[str, Any]
) -> OutboxMessage:
    """The message `enqueue(inline=True)` wrote, as it was written, for a caller that kept
    only its id: no read needed before `deliver_claimed`."""
    return OutboxMessage(
        pk=message_id,
        tenant=tenant,
        topic=topic,
        payload=payload,
        status=OutboxStatus.PENDING,
        attempts=_INLINE_ATTEMPT,
    )


def deliver_claimed(message: OutboxMessage) -> Delivery:
    """Deliver a message this process enqueued with `inline=True` (after its transaction
    committed). Never raises for a handler's failure: it is recorded on the row, and the
    message is retried with back-off like any other."""
    return _attempt(message)


def deliver_due(*, limit: int = SWEEP_BATCH) -> list[int]:
    """The sweep: attempt pending messages due for at least MCP_OUTBOX_SWEEP_GRACE seconds
    (a fresh message is its own task's or caller's to deliver). Returns the ids attempted."""
    now = timezone.now()
    due_before = now - dt.timedelta(seconds=settings.MCP_OUTBOX_SWEEP_GRACE)
    with transaction.atomic():
        due = (
            _every_tenants_messages()
            .filter(status=OutboxStatus.PENDING, next_attempt_at__lte=due_before)
            .order_by("next_attempt_at")
        )
        if connection.vendor == "postgresql":
            due = due.select_for_update(skip_locked=True)
        ids = list(due.values_list("pk", flat=True)[:limit])
        _every_tenants_messages().filter(pk__in=ids).update(
            next_attempt_at=_lease_end(now), attempts=F("attempts") + 1, updated_at=now
        )
    for message in _every_tenants_messages().select_related("tenant").filter(pk__in=ids):
        _attempt(message)
    return ids


def retry(messages: Iterable[OutboxMessage], *, actor: str) -> list[int]:
    """Put dead or pending messages back to be delivered now, with a fresh retry budget, and
    send their tasks on commit. Delivered messages are left alone. Returns the ids requeued."""
    ids = [message.pk for message in messages if message.status != OutboxStatus.DELIVERED]
    if not ids:
        return []
    now = timezone.now()
    with transaction.atomic():
        requeued = list(
            _every_tenants_messages()
            .select_for_update()
            .filter(pk__in=ids)
            .exclude(status=OutboxStatus.DELIVERED)
            .values_list("pk", "tenant_id", "status")
        )
        _every_tenants_messages().filter(pk__in=[pk for pk, _, _ in requeued]).update(
            status=OutboxStatus.PENDING, attempts=0, next_attempt_at=now, updated_at=now
        )
        for pk, tenant_id, status in requeued:
            audit_record(
                tenant=tenant_id,
                actor=actor,
                action="outbox.retried",
                obj=Ref(OutboxMessage, pk),
                changes={"status": [status, OutboxStatus.PENDING.value]},
            )
            transaction.on_commit(partial(schedule, pk), robust=True)
    return [pk for pk, _, _ in requeued]


# ------------------------------------------------------------------------------ internals


def _lease_end(now: dt.datetime) -> dt.datetime:
    return now + dt.timedelta(seconds=settings.MCP_OUTBOX_LEASE)


def _claim(message_id: int) -> OutboxMessage | None:
    now = timezone.now()
    claimed = (
        _every_tenants_messages()
        .filter(
            pk=message_id, status=OutboxStatus.PENDING, next_attempt_at__lte=now + _CLOCK_TOLERANCE
        )
        .update(next_attempt_at=_lease_end(now), attempts=F("attempts") + 1, updated_at=now)
    )
    if not claimed:
        return None
    return _every_tenants_messages().select_related("tenant").get(pk=message_id)


def _attempt(message: OutboxMessage) -> Delivery:
    """Run the handler of a claimed message and record the outcome."""
    topic = _topics.get(message.topic)
    try:
        if topic is None:
            raise PermanentDeliveryError(f"no handler for outbox topic {message.topic!r}")
        result = topic.handle(message) or {}
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"[:2000]
        permanent = isinstance(exc, PermanentDeliveryError)
        return _failed(message, error, permanent=permanent)
    recorded = _record_if_still_ours(
        message,
        status=OutboxStatus.DELIVERED,
        result=result,
        last_error="",
        delivered_at=timezone.now(),
    )
    if not recorded:
        logger.warning("outbox message %s was taken over while being delivered", message.pk)
    message.status, message.result, message.last_error = OutboxStatus.DELIVERED, result, ""
    return _report(message, attempted=True)


def _record_if_still_ours(message: OutboxMessage, **fields: Any) -> bool:
    """Write `fields` to the message's row unless another process claimed it since (its
    lease ran out meanwhile); whether it was written."""
    ours = {"pk": message.pk, "status": OutboxStatus.PENDING, "attempts": message.attempts}
    return outbox_message_update(ours, **fields) > 0


def _failed(message: OutboxMessage, error: str, *, permanent: bool) -> Delivery:
    retries_used = message.attempts - 1
    now = timezone.now()
    if permanent or retries_used >= settings.MCP_MAX_RETRIES:
        if _record_if_still_ours(message, status=OutboxStatus.DEAD, last_error=error):
            message.status, message.last_error = OutboxStatus.DEAD, error
            _dead_lettered(message)
        return _report(message, attempted=True)
    delay = backoff_seconds(message.attempts)
    if _record_if_still_ours(
        message, next_attempt_at=now + dt.timedelta(seconds=delay), last_error=error
    ):
        message.last_error = error
        logger.warning(
            "outbox message %s (%s) failed, attempt %s, retry in %.0f s: %s",
            message.pk,
            message.topic,
            message.attempts,
            delay,
            error,
        )
        # Eager Celery (no broker) would run the retry at once, inside this call: there the
        # sweep or an operator's retry takes it up instead.
        if not settings.CELERY_TASK_ALWAYS_EAGER:
            schedule(message.pk, countdown=delay)
    return _report(message, attempted=True)


def _dead_lettered(message: OutboxMessage) -> None:
    topic = _topics.get(message.topic)
    if topic is not None and topic.on_dead is not None:
        try:
            topic.on_dead(message)
        except Exception:
            logger.exception("on_dead hook of outbox message %s failed", message.pk)
    audit_record(
        tenant=message.tenant,
        actor=OUTBOX_ACTOR,
        action="outbox.dead_lettered",
        obj=message,
        changes={"topic": message.topic, "attempts": message.attempts, "error": message.last_error},
    )
    logger.error(
        "outbox message %s (%s, tenant %s) dead-lettered after %s attempts: %s; replay it with "
        "integration.retryFailedSync, manage.py retry_failed_syncs or the admin",
        message.pk,
        message.topic,
        message.tenant_id,
        message.attempts,
        message.last_error,
    )
    for listener in _dead_letter_listeners:
        try:
            listener(message)
        except Exception:
            logger.exception("dead-letter listener for outbox message %s failed", message.pk)


def _report(message: OutboxMessage, *, attempted: bool) -> Delivery:
    return Delivery(
        message_id=message.pk,
        topic=message.topic,
        status=str(message.status),
        attempts=message.attempts,
        attempted=attempted,
        result=message.result if isinstance(message.result, dict) else None,
        error=message.last_error,
    )


# ------------------------------------------------------------------------------ tasks
# Named as before the move, so queued tasks and the beat schedule keep working.


@shared_task(name="mcp_core.tasks.deliver_outbox_message")
def deliver_outbox_message(message_id: int) -> str:
    """Deliver one outbox message; its status afterwards ("" when it no longer exists).

    No Celery retries: back-off, jitter and dead-lettering are the outbox's own, kept on the
    row, so they survive a lost task."""
    delivery = deliver(message_id)
    return delivery.status if delivery is not None else ""


@shared_task(name="mcp_core.tasks.deliver_due_outbox_messages")
def deliver_due_outbox_messages() -> list[int]:
    """Beat: deliver pending outbox messages whose task was lost; the ids attempted."""
    return deliver_due()
