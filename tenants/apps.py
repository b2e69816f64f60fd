from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TenantsConfig(AppConfig):
    name = "tenants"
    verbose_name = _("Companies and branches")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from mcp_core import outbox
        from tenants.alerts import tell_operations

        outbox.on_dead_letter(tell_operations)
