"""The webhook front doors (CONTRACT section 4.3): no API key, each verified by its provider's
signature."""

from django.urls import path  # noqa: F401  (each provider adds its route below)

urlpatterns: list = []
