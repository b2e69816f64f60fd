"""What the customer's admin page shows of their history, as small HTML tables, and their
GDPR export as JSON (the same document as customer.exportCustomerData)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any
from zoneinfo import ZoneInfo

from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from bookings.customer_selectors import customer_call_logs
from bookings.models import Appointment, Customer, SmsMessage
from bookings.services import customer_data_export
from bookings.tools.customer import export_output

ROWS = 50  # the newest; the lists behind them are one filter away


def _local(moment: Any, zone: ZoneInfo) -> str:
    return f"{timezone.localtime(moment, zone):%d.%m.%Y %H:%M}" if moment else ""


def table(head: Sequence[Any], rows: Iterable[Sequence[Any]], empty: Any) -> SafeString:
    body = format_html_join(
        "",
        "<tr>{}</tr>",
        ((format_html_join("", "<td>{}</td>", ((cell,) for cell in row)),) for row in rows),
    )
    if not body:
        return format_html("<p>{}</p>", empty)
    header = format_html_join("", "<th>{}</th>", ((cell,) for cell in head))
    return format_html("<table><thead><tr>{}</tr></thead><tbody>{}</tbody></table>", header, body)


def appointment_rows(customer: Customer) -> list[tuple[Any, ...]]:
    appointments = (
        Appointment.objects.for_tenant(customer.tenant_id)
        .filter(customer=customer)
        .select_related("branch", "service", "staff")
        .order_by("-start_time")[:ROWS]
    )
    return [
        (
            format_html(
                '<a href="{}">{}</a>',
                reverse("admin:bookings_appointment_change", args=[a.pk]),
                _local(a.start_time, ZoneInfo(a.branch.time_zone)),
            ),
            a.service.name,
            a.staff.name,
            a.get_status_display(),
        )
        for a in appointments
    ]


def call_rows(customer: Customer) -> list[tuple[Any, ...]]:
    zone = ZoneInfo(customer.tenant.time_zone)
    calls = customer_call_logs(tenant=customer.tenant, customer=customer).order_by("-started_at")
    return [
        (
            _local(call.started_at, zone),
            call.get_outcome_display(),
            # Retell's post-call analysis: its summary sentence, not the JSON around it.
            (call.analysis or {}).get("call_summary", ""),
        )
        for call in calls[:ROWS]
    ]


def sms_rows(customer: Customer) -> list[tuple[Any, ...]]:
    zone = ZoneInfo(customer.tenant.time_zone)
    sent = (
        SmsMessage.objects.for_tenant(customer.tenant_id)
        .filter(appointment__customer=customer)
        .order_by("-created_at")[:ROWS]
    )
    return [
        (_local(sms.created_at, zone), sms.get_kind_display(), sms.get_status_display())
        for sms in sent
    ]


def export_json(customer: Customer, actor: str) -> dict[str, Any]:
    data = customer_data_export(tenant=customer.tenant, actor=actor, customer_id=customer.pk)
    return export_output(data, exported_at=timezone.now()).model_dump(mode="json")
