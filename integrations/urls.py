"""The webhook front doors (CONTRACT section 4.3): no API key, each verified by its provider's
signature."""

from django.urls import path

urlpatterns: list = []

from integrations.calcom.webhook import calcom_webhook  # noqa: E402

urlpatterns += [path("calcom", calcom_webhook, name="webhook-calcom")]
