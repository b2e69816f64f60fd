"""The webhook front doors (CONTRACT section 4.3): no API key, each verified by its provider's
signature."""

from django.urls import path

urlpatterns: list = []

# Retell AI: call webhooks (incl. call_inbound) and custom functions.
from integrations.retell import views as retell_views  # noqa: E402

urlpatterns += [
    path("retell", retell_views.retell_webhook, name="retell-webhook"),
    path("retell/functions", retell_views.retell_functions, name="retell-functions"),
]

from integrations.calcom.webhook import calcom_webhook  # noqa: E402

urlpatterns += [path("calcom", calcom_webhook, name="webhook-calcom")]
