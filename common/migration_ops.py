"""Migration operations that only touch PostgreSQL.

The embedded default database is SQLite, which has neither btree_gist nor exclusion
constraints; the same migrations must run on both, so PostgreSQL-only DDL is skipped elsewhere.
"""

from typing import Any

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
