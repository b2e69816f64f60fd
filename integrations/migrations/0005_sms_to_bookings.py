"""SmsMessage and SmsTemplate move to bookings (see bookings 0005): only Django's state changes,
the tables stay. Their admin pages stay here as proxies, under the same content types and
permissions."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("bookings", "0005_sms_from_integrations"),
        ("integrations", "0004_smsmessage_lean_indexes"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(name="SmsMessage"),
                migrations.DeleteModel(name="SmsTemplate"),
            ],
        ),
        migrations.CreateModel(
            name="SmsMessage",
            fields=[],
            options={"proxy": True, "indexes": [], "constraints": []},
            bases=("bookings.smsmessage",),
        ),
        migrations.CreateModel(
            name="SmsTemplate",
            fields=[],
            options={"proxy": True, "indexes": [], "constraints": []},
            bases=("bookings.smstemplate",),
        ),
    ]
