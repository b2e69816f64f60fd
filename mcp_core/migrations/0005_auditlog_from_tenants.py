"""AuditLog moves from tenants to mcp_core: only Django's state changes; the table and its
index stay as they are (`db_table = "tenants_auditlog"`). Its content type moves along, so the
permissions granted on it (an operator's "view audit log") keep working."""

import django.db.models.deletion
from django.db import migrations, models


def move_content_type(apps, schema_editor, source="tenants", target="mcp_core"):
    content_types = apps.get_model("contenttypes", "ContentType")
    if not content_types.objects.filter(app_label=target, model="auditlog").exists():
        content_types.objects.filter(app_label=source, model="auditlog").update(app_label=target)


def move_content_type_back(apps, schema_editor):
    move_content_type(apps, schema_editor, source="mcp_core", target="tenants")


class Migration(migrations.Migration):
    dependencies = [
        ("mcp_core", "0004_saga_steps_in_run"),
        ("tenants", "0003_auditlog_lean_indexes"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.RunPython(move_content_type, move_content_type_back),
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="AuditLog",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        (
                            "actor",
                            models.CharField(
                                help_text="e.g. 'api_key:ab12cd34', 'admin:anna'", max_length=200
                            ),
                        ),
                        ("action", models.CharField(max_length=100)),
                        ("object_type", models.CharField(max_length=50)),
                        ("object_id", models.CharField(max_length=64)),
                        ("changes", models.JSONField(blank=True, default=dict)),
                        ("created_at", models.DateTimeField(auto_now_add=True, db_index=True)),
                        (
                            "tenant",
                            models.ForeignKey(
                                db_index=False,
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="audit_log",
                                to="tenants.company",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "tenants_auditlog",
                        "ordering": ["-created_at"],
                        "indexes": [
                            models.Index(
                                fields=["tenant", "object_type", "object_id"],
                                name="audit_object_idx",
                            )
                        ],
                    },
                ),
            ],
        ),
    ]
