"""mcp_core's hand-written statements: the rows every booking writes (saga runs, outbox
messages, audit rows) through `common.rows`, and the statements the ORM has no word for.
The only module of mcp_core that writes SQL or calls the statement helper."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db import connection

from common import rows
from mcp_core.models import AuditLog, DomainEvent, OutboxMessage, SagaRun


def audit_row_insert(**fields: Any) -> None:
    rows.insert(AuditLog, **fields)


def outbox_message_insert(**fields: Any) -> int:
    """The new message's id."""
    return int(rows.insert(OutboxMessage, **fields))


def outbox_message_update(match: Mapping[str, Any], **fields: Any) -> int:
    """Rows written: 0 when no message matches (another process claimed it)."""
    return rows.update(OutboxMessage, match, **fields)


def saga_run_insert(**fields: Any) -> None:
    rows.insert(SagaRun, **fields)


def saga_run_update(match: Mapping[str, Any], **fields: Any) -> int:
    """Rows written: 0 when the run no longer matches (another process took it over)."""
    return rows.update(SagaRun, match, **fields)


def commit_without_flush_wait() -> None:
    """This transaction's commit does not wait for the WAL flush (PostgreSQL; a no-op
    elsewhere): for writes that a later, durable commit of the same run covers."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")


def statement_timeout_set(milliseconds: int | None) -> None:
    """Bound every later statement of this session to `milliseconds` (PostgreSQL; a no-op
    elsewhere); None restores the server's default."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        if milliseconds is None:
            cursor.execute("RESET statement_timeout")
        else:
            cursor.execute("SELECT set_config('statement_timeout', %s, false)", [str(milliseconds)])


def database_ping() -> None:
    """One round trip to the database; raises when it cannot be reached."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def domain_event_insert(**fields: Any) -> int:
    """The new event's id (its cursor)."""
    return int(rows.insert(DomainEvent, **fields))
