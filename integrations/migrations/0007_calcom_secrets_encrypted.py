"""Cal.com credentials encrypted at rest, and each account's own webhook signing secret.

The columns become text holding Fernet tokens; `encrypt_existing` re-saves every account, so a
key stored in plain text before is encrypted (the field reads a value that is no token as it
is) and each account gets a secret of its own (AddField's default is evaluated once for all)."""

from typing import Any

import encrypted_fields.fields
from django.db import migrations

import integrations.models


def encrypt_existing(apps: Any, schema_editor: Any) -> None:
    account_model = apps.get_model("integrations", "CalcomAccount")
    # Every tenant's account: a migration, not a request.
    for account in account_model._default_manager.all():
        account.webhook_secret = integrations.models.new_webhook_secret()
        account.save(update_fields=["api_key", "webhook_secret"])


class Migration(migrations.Migration):
    dependencies = [
        ("integrations", "0006_fail_closed_managers"),
    ]

    operations = [
        migrations.AddField(
            model_name="calcomaccount",
            name="webhook_secret",
            field=encrypted_fields.fields.EncryptedCharField(
                default=integrations.models.new_webhook_secret,
                help_text="Signs this tenant's Cal.com webhooks; enter it in Cal.com with the URL.",
                max_length=255,
            ),
        ),
        migrations.AlterField(
            model_name="calcomaccount",
            name="api_key",
            field=encrypted_fields.fields.EncryptedCharField(
                blank=True,
                help_text="cal_live_…; empty: the global CALCOM_API_KEY.",
                max_length=255,
            ),
        ),
        migrations.RunPython(encrypt_existing, migrations.RunPython.noop),
    ]
