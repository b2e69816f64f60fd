"""Migration operations that only touch PostgreSQL, or touch it without blocking writes.

The embedded default database is SQLite, which has neither btree_gist nor exclusion
constraints nor `CREATE INDEX CONCURRENTLY`; the same migrations must run on both.
"""

from typing import Any

from django.contrib.postgres import operations as postgres
from django.db import migrations


class RunSQLOnPostgreSQL(migrations.RunSQL):
    def database_forwards(
        self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any
    ) -> None:
        if schema_editor.connection.vendor == "postgresql":
            super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(
        self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any
    ) -> None:
        if schema_editor.connection.vendor == "postgresql":
            super().database_backwards(app_label, schema_editor, from_state, to_state)


# An index on a table that keeps growing (appointments, time blocks) is built CONCURRENTLY on
# PostgreSQL: a plain CREATE INDEX holds off every booking's INSERT for as long as the build
# takes (12.8 s at 10 million appointments). The migration declaring these sets
# `atomic = False`, as PostgreSQL refuses CONCURRENTLY inside a transaction.


class _ConcurrentlyOnPostgreSQL:
    """PostgreSQL's CONCURRENTLY operation there, the plain one (`plain`) elsewhere."""

    plain: Any

    def database_forwards(
        self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any
    ) -> None:
        if schema_editor.connection.vendor == "postgresql":
            super().database_forwards(app_label, schema_editor, from_state, to_state)  # type: ignore[misc]
        else:
            self.plain.database_forwards(self, app_label, schema_editor, from_state, to_state)

    def database_backwards(
        self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any
    ) -> None:
        if schema_editor.connection.vendor == "postgresql":
            super().database_backwards(app_label, schema_editor, from_state, to_state)  # type: ignore[misc]
        else:
            self.plain.database_backwards(self, app_label, schema_editor, from_state, to_state)


class AddIndexConcurrently(_ConcurrentlyOnPostgreSQL, postgres.AddIndexConcurrently):
    plain = migrations.AddIndex


class RemoveIndexConcurrently(_ConcurrentlyOnPostgreSQL, postgres.RemoveIndexConcurrently):
    plain = migrations.RemoveIndex
