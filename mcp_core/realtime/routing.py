"""The ASGI WebSocket routes."""

from django.urls import path

from mcp_core.realtime.consumer import EventsConsumer
from mcp_core.realtime.graphql_views import graphql_socket

websocket_urlpatterns = [
    path("ws/v2/events", EventsConsumer.as_asgi()),
    path("graphql", graphql_socket),
]
