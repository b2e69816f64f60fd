"""Indexes whose cost does not grow with history (bench/history.py, docs/benchmarks.md).

The active-appointment index leads with the end after the staff member: an overlap query ("ends
after begin, starts before end") then reads only appointments ending after `begin`, never the
staff member's past ones. Completed appointments per staff member get a partial index, so their
count is read from the index alone. Built CONCURRENTLY on PostgreSQL, the new index before the
old one goes, so bookings go on, and keep an index, while a large table is indexed.
"""

from django.db import migrations, models

from common.migration_ops import AddIndexConcurrently, RemoveIndexConcurrently


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("bookings", "0009_appointment_sync_failed_index"),
        ("staff", "0003_translatable_names"),
        ("tenants", "0008_console_roles"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="appointment",
            index=models.Index(
                condition=models.Q(("status__in", ("pending", "confirmed"))),
                fields=["staff", "occupied_end", "occupied_start"],
                name="appointment_active_end_idx",
            ),
        ),
        AddIndexConcurrently(
            model_name="appointment",
            index=models.Index(
                condition=models.Q(("status", "completed")),
                fields=["tenant", "staff"],
                name="appointment_completed_idx",
            ),
        ),
        RemoveIndexConcurrently(
            model_name="appointment",
            name="appointment_active_staff_idx",
        ),
    ]
