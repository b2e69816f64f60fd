from django.urls import path

from mcp_core import views

urlpatterns = [
    path("mcp/health", views.health, name="mcp-health"),
]
