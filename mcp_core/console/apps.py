from django.contrib.admin.apps import AdminConfig


class ConsoleAdminConfig(AdminConfig):
    """Django's admin with the console's site as `admin.site`, so every app's
    `@admin.register` lands on it unchanged."""

    default_site = "mcp_core.console.site.ConsoleAdminSite"
