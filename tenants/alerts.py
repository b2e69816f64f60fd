"""Operations hear of a dead-lettered outbox message: by e-mail to OPERATIONS_ALERT_EMAILS and
to the admin users bound to the message's tenant (its operations staff)."""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string

from mcp_core.models import OutboxMessage
from tenants.models import Company, OperatorProfile

logger = logging.getLogger(__name__)


def operations_recipients(tenant: Company) -> list[str]:
    """OPERATIONS_ALERT_EMAILS and the e-mail addresses of the tenant's active operators."""
    bound = OperatorProfile.objects.filter(
        tenant=tenant, user__is_active=True, user__is_staff=True
    ).exclude(user__email="")
    addresses = list(settings.OPERATIONS_ALERT_EMAILS)
    addresses += [email for email in bound.values_list("user__email", flat=True)]
    return list(dict.fromkeys(addresses))


def tell_operations(message: OutboxMessage) -> None:
    """Dead-letter listener (registered in `TenantsConfig.ready`)."""
    recipients = operations_recipients(message.tenant)
    if not recipients:
        return
    context = {"message": message, "tenant": message.tenant}
    subject = render_to_string("emails/outbox_dead_lettered_subject.txt", context).strip()
    body = render_to_string("emails/outbox_dead_lettered.txt", context)
    try:
        send_mail(subject, body, None, recipients)
    except Exception:
        logger.exception("operations e-mail for outbox message %s failed", message.pk)
