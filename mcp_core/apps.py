from django.apps import AppConfig
from django.utils.module_loading import autodiscover_modules
from django.utils.translation import gettext_lazy as _


class McpCoreConfig(AppConfig):
    name = "mcp_core"
    verbose_name = _("System")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Every app's `tools.py` registers its operations with the orchestrator.
        autodiscover_modules("tools")
        # webhooks_out registers the outbox handler of outbound webhooks.
        from mcp_core import flag_provider, observability, webhooks_out  # noqa: F401

        observability.configure()
        flag_provider.install()
