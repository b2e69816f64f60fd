"""SmsMessage and SmsTemplate move from integrations to bookings: what we told a customer is
booking logic (`bookings.notifications`). Only Django's state changes; the tables keep their
names (`db_table`), constraints and indexes. integrations 0005 drops them from its state."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("bookings", "0004_appointment_created_index"),
        ("integrations", "0004_smsmessage_lean_indexes"),
        ("tenants", "0004_auditlog_to_mcp_core"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="SmsMessage",
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
                            "kind",
                            models.CharField(
                                choices=[
                                    ("confirmation", "Booking confirmation"),
                                    ("reminder", "Reminder"),
                                    ("cancellation", "Cancellation"),
                                    ("reschedule", "Reschedule"),
                                    ("custom", "Free text"),
                                ],
                                max_length=20,
                            ),
                        ),
                        ("to", models.CharField(max_length=20)),
                        ("body", models.TextField()),
                        (
                            "provider",
                            models.CharField(
                                help_text="The SMS backend, e.g. twilio, console", max_length=20
                            ),
                        ),
                        ("provider_sid", models.CharField(blank=True, max_length=64, null=True)),
                        (
                            "status",
                            models.CharField(
                                choices=[
                                    ("claimed", "Claimed, not yet handed over"),
                                    ("not_configured", "Not sent: no SMS provider configured"),
                                    ("accepted", "Accepted"),
                                    ("scheduled", "Scheduled"),
                                    ("queued", "Queued"),
                                    ("sending", "Sending"),
                                    ("sent", "Sent"),
                                    ("delivered", "Delivered"),
                                    ("undelivered", "Undelivered"),
                                    ("failed", "Failed"),
                                    ("read", "Read"),
                                    ("canceled", "Canceled"),
                                ],
                                default="claimed",
                                max_length=20,
                            ),
                        ),
                        ("error_code", models.CharField(blank=True, max_length=20)),
                        ("error_message", models.CharField(blank=True, max_length=500)),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                        ("updated_at", models.DateTimeField(auto_now=True)),
                        (
                            "appointment",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="sms_messages",
                                to="bookings.appointment",
                            ),
                        ),
                        (
                            "tenant",
                            models.ForeignKey(
                                db_index=False,
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="sms_messages",
                                to="tenants.company",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "integrations_smsmessage",
                        "ordering": ["-created_at"],
                        "indexes": [
                            models.Index(
                                fields=["tenant", "created_at"], name="sms_tenant_created_idx"
                            )
                        ],
                        "constraints": [
                            models.UniqueConstraint(
                                condition=models.Q(("kind", "reminder")),
                                fields=("appointment",),
                                name="sms_reminder_once_per_appointment",
                            ),
                            models.UniqueConstraint(
                                condition=models.Q(("provider_sid__isnull", False)),
                                fields=("provider", "provider_sid"),
                                name="sms_provider_sid_unique",
                            ),
                            models.CheckConstraint(
                                condition=models.Q(
                                    (
                                        "status__in",
                                        [
                                            "claimed",
                                            "not_configured",
                                            "accepted",
                                            "scheduled",
                                            "queued",
                                            "sending",
                                            "sent",
                                            "delivered",
                                            "undelivered",
                                            "failed",
                                            "read",
                                            "canceled",
                                        ],
                                    )
                                ),
                                name="sms_status_valid",
                            ),
                        ],
                    },
                ),
                migrations.CreateModel(
                    name="SmsTemplate",
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
                            "kind",
                            models.CharField(
                                choices=[
                                    ("confirmation", "Booking confirmation"),
                                    ("reminder", "Reminder"),
                                    ("cancellation", "Cancellation"),
                                    ("reschedule", "Reschedule"),
                                    ("custom", "Free text"),
                                ],
                                max_length=20,
                            ),
                        ),
                        ("body", models.TextField()),
                        ("updated_at", models.DateTimeField(auto_now=True)),
                        (
                            "tenant",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="sms_templates",
                                to="tenants.company",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "integrations_smstemplate",
                        "constraints": [
                            models.UniqueConstraint(
                                fields=("tenant", "kind"), name="sms_template_once_per_kind"
                            ),
                            models.CheckConstraint(
                                condition=models.Q(
                                    (
                                        "kind__in",
                                        ["confirmation", "reminder", "cancellation", "reschedule"],
                                    )
                                ),
                                name="sms_template_kind_valid",
                            ),
                        ],
                    },
                ),
            ],
        ),
    ]
