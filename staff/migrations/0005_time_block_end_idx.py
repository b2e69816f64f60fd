"""The time-block index leads with the end after the staff member, as the appointments' active
index does since bookings/0010: an overlap read then starts at `begin` instead of scanning the
staff member's past absences. Built CONCURRENTLY on PostgreSQL, the new index before the old
one goes."""

from django.db import migrations, models

from common.migration_ops import AddIndexConcurrently, RemoveIndexConcurrently


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("staff", "0004_german_field_labels"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="timeblock",
            index=models.Index(
                fields=["staff", "end_time", "start_time"], name="time_block_end_idx"
            ),
        ),
        RemoveIndexConcurrently(
            model_name="timeblock",
            name="time_block_range_idx",
        ),
    ]
