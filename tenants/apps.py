from django.apps import AppConfig


class TenantsConfig(AppConfig):
    name = "tenants"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from mcp_core import outbox
        from tenants.alerts import tell_operations

        outbox.on_dead_letter(tell_operations)
