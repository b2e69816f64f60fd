"""The webhook front doors (docs/contract.md): no API key, each verified by its provider's
signature."""

from django.urls import path

from integrations.calcom.webhook import calcom_webhook
from integrations.retell import views as retell_views
from integrations.stripe.webhook import stripe_webhook
from integrations.twilio.webhook import sms_status_webhook

urlpatterns = [
    # Retell AI: call webhooks (incl. call_inbound) and the custom functions called mid-call.
    path("retell", retell_views.retell_webhook, name="retell-webhook"),
    path("retell/functions", retell_views.retell_functions, name="retell-functions"),
    path("calcom", calcom_webhook, name="webhook-calcom"),
    path("sms/status", sms_status_webhook, name="webhook-sms-status"),
    path("stripe", stripe_webhook, name="webhook-stripe"),
]
