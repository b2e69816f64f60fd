"""No two active appointments of one staff member may overlap, enforced by PostgreSQL itself.

The range is the occupied time (booking widened by the service's buffers), half-open so that
back-to-back appointments are allowed. SQLite has no exclusion constraints; there the booking
service serialises writers instead (IMMEDIATE transactions).
"""

from django.db import migrations

from common.migration_ops import RunSQLOnPostgreSQL


class Migration(migrations.Migration):
    dependencies = [("bookings", "0001_initial")]

    operations = [
        RunSQLOnPostgreSQL(
            sql=[
                "CREATE EXTENSION IF NOT EXISTS btree_gist",
                """
                ALTER TABLE bookings_appointment
                ADD CONSTRAINT appointment_no_staff_overlap
                EXCLUDE USING gist (
                    staff_id WITH =,
                    tstzrange(occupied_start, occupied_end, '[)') WITH &&
                ) WHERE (status IN ('pending', 'confirmed'))
                """,
            ],
            reverse_sql=[
                "ALTER TABLE bookings_appointment DROP CONSTRAINT appointment_no_staff_overlap",
            ],
        ),
    ]
