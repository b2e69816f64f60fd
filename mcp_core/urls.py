from django.urls import include, path
from django.views.decorators.csrf import csrf_exempt

from mcp_core import rest, transport, views
from mcp_core.realtime.graphql_views import graphql_http

urlpatterns = [
    path("mcp", transport.mcp_endpoint, name="mcp"),
    path("mcp/health", views.health, name="mcp-health"),
    path("livez", views.livez, name="livez"),
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
    path("graphql", csrf_exempt(graphql_http), name="graphql"),
    path("", include("mcp_core.oauth.urls")),
]
