"""manage.py reencrypt_secrets: encrypt every stored credential again with the first key of
FIELD_ENCRYPTION_KEYS, the step of a key rotation before the old key is removed."""

from typing import Any

from django.core.management.base import BaseCommand
from django.db import transaction

from integrations.models import CalcomAccount


class Command(BaseCommand):
    help = "Encrypt the stored Cal.com credentials again with the current key (key rotation)."

    def handle(self, *args: Any, **options: Any) -> None:
        count = 0
        with transaction.atomic():
            # all_tenants: the key is the installation's, so every tenant's account is rotated.
            for account in CalcomAccount.objects.all_tenants().select_for_update():
                account.save(update_fields=["api_key", "webhook_secret"])
                count += 1
        self.stdout.write(f"{count} Cal.com account(s) encrypted with the current key.")
