"""The ASGI WebSocket routes."""

from channels.auth import AuthMiddlewareStack
from django.urls import path

from mcp_core.realtime.consumer import EventsConsumer
from mcp_core.realtime.graphql_views import graphql_socket

websocket_urlpatterns = [
    # The session middleware lets the console's page authenticate with its admin cookie.
    path("ws/v2/events", AuthMiddlewareStack(EventsConsumer.as_asgi())),
    path("graphql", graphql_socket),
]
