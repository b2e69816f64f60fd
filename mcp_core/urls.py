from django.urls import include, path

from mcp_core import rest, transport, views

urlpatterns = [
    path("mcp", transport.mcp_endpoint, name="mcp"),
    path("mcp/health", views.health, name="mcp-health"),
    path("metrics", views.metrics, name="metrics"),
    path(
        ".well-known/oauth-protected-resource",
        transport.protected_resource_metadata,
        name="oauth-protected-resource",
    ),
    path(
        ".well-known/oauth-protected-resource/mcp",
        transport.protected_resource_metadata,
        name="oauth-protected-resource-mcp",
    ),
    path("api/v2/mcp/", include(rest.urlpatterns())),
    path("", include("mcp_core.oauth.urls")),
]
