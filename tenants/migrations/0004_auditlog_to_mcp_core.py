"""AuditLog moves to mcp_core (see mcp_core 0005): the table stays, only Django's state."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("tenants", "0003_auditlog_lean_indexes"),
        ("mcp_core", "0005_auditlog_from_tenants"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="AuditLog")],
        ),
    ]
