"""The ASGI WebSocket routes."""

from django.urls import path

from mcp_core.realtime.consumer import EventsConsumer

websocket_urlpatterns = [path("ws/v2/events", EventsConsumer.as_asgi())]
