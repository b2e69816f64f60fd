import pytest
from django.db import transaction

from integrations.models import WebhookEvent
from integrations.webhooks import first_delivery

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_delivery_is_applied_once():
    with transaction.atomic():
        assert first_delivery("stripe", "evt_1", event_type="invoice.paid") is True
    with transaction.atomic():
        assert first_delivery("stripe", "evt_1", event_type="invoice.paid") is False
    # Another provider's id space is separate.
    with transaction.atomic():
        assert first_delivery("calcom", "evt_1") is True
    assert WebhookEvent.objects.count() == 2


def test_a_failed_effect_leaves_the_delivery_to_be_applied_again():
    with pytest.raises(RuntimeError), transaction.atomic():
        assert first_delivery("twilio", "SM1:delivered") is True
        raise RuntimeError("the effect failed")
    with transaction.atomic():
        assert first_delivery("twilio", "SM1:delivered") is True


def test_it_refuses_to_run_outside_the_effects_transaction():
    with pytest.raises(RuntimeError, match="inside the transaction"):
        first_delivery("retell", "call_1:call_ended")
