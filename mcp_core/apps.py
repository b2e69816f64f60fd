from django.apps import AppConfig


class McpCoreConfig(AppConfig):
    name = "mcp_core"
    default_auto_field = "django.db.models.BigAutoField"
