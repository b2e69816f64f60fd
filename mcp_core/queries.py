"""mcp_core's hand-written statements: the rows every booking writes (saga runs, outbox
messages, audit rows) through `common.rows`, and the statements the ORM has no word for.
The only module of mcp_core that writes SQL or calls the statement helper."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.apps import apps
from django.db import connection, transaction

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


def database_busy_sessions() -> int | None:
    """Sessions of this database, besides this one, that hold a connection busy: running,
    waiting (for a lock, say) or idle inside a transaction (PostgreSQL's pg_stat_activity;
    None elsewhere). A role sees the state of its own sessions only (pg_monitor: all)."""
    if connection.vendor != "postgresql":
        return None
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid() AND backend_type = 'client backend' "
            "AND state IS NOT NULL AND state <> 'idle'"
        )
        row = cursor.fetchone()
    return int(row[0]) if row else 0


def database_ping() -> None:
    """One round trip to the database; raises when it cannot be reached."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


# A reporting view: (view name, app label, model, columns). Appointments without the customer
# (a report needs no personal data), the branches, services and staff they refer to.
REPORTING_VIEWS = (
    (
        "appointments",
        "bookings",
        "Appointment",
        "id, branch_id, service_id, staff_id, start_time, end_time, status, source, created_at",
    ),
    ("branches", "tenants", "Branch", "id, name, city, is_active"),
    ("services", "staff", "Service", "id, name, duration_minutes, price"),
    ("staff", "staff", "Staff", "id, name, branch_id, is_active"),
)


def reporting_access_create(*, tenant_id: int, role: str, schema: str, password: str) -> None:
    """A login role that reads only `schema`: security-barrier views of one tenant's rows,
    owned by the application's role (so the views read the tables, the reporting role cannot).
    Idempotent: an existing role gets the new password, the views are replaced."""
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role])
        verb = "ALTER" if cursor.fetchone() else "CREATE"
        # Identifiers and the password are ours ([a-z0-9_], token_urlsafe): nothing to escape
        # beyond the quoting, and DDL takes no bind parameters.
        cursor.execute(
            f"{verb} ROLE {quote(role)} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT "
            f"PASSWORD '{password}'"
        )
        cursor.execute(f"CREATE SCHEMA IF NOT EXISTS {quote(schema)}")
        for view, app_label, model_name, columns in REPORTING_VIEWS:
            table = apps.get_model(app_label, model_name)._meta.db_table
            source = f"SELECT {columns} FROM {quote(table)} WHERE tenant_id = {int(tenant_id)}"  # noqa: S608 — our identifiers, an int
            cursor.execute(
                f"CREATE OR REPLACE VIEW {quote(schema)}.{quote(view)} "
                f"WITH (security_barrier) AS {source}"
            )
        cursor.execute(f"REVOKE ALL ON SCHEMA {quote(schema)} FROM PUBLIC")
        cursor.execute(f"GRANT USAGE ON SCHEMA {quote(schema)} TO {quote(role)}")
        cursor.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA {quote(schema)} TO {quote(role)}")
        cursor.execute(f"ALTER ROLE {quote(role)} SET search_path = {quote(schema)}")
        cursor.execute(f"ALTER ROLE {quote(role)} SET default_transaction_read_only = on")


def reporting_access_drop(*, role: str, schema: str) -> None:
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(f"DROP SCHEMA IF EXISTS {quote(schema)} CASCADE")
        cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role])
        if cursor.fetchone():
            cursor.execute(f"DROP OWNED BY {quote(role)}")
            cursor.execute(f"DROP ROLE {quote(role)}")


def domain_event_insert(**fields: Any) -> int:
    """The new event's id (its cursor)."""
    return int(rows.insert(DomainEvent, **fields))
