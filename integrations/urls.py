"""The webhook front doors (CONTRACT section 4.3): no API key, each verified by its provider's
signature."""

from django.urls import path

urlpatterns: list = []

from integrations.billing_webhook import stripe_webhook  # noqa: E402
from integrations.calcom.webhook import calcom_webhook  # noqa: E402
from integrations.sms_status import sms_status_webhook  # noqa: E402

urlpatterns += [path("calcom", calcom_webhook, name="webhook-calcom")]
urlpatterns += [
    path("sms/status", sms_status_webhook, name="webhook-sms-status"),
    path("stripe", stripe_webhook, name="webhook-stripe"),
]
