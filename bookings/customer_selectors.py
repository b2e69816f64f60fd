"""Reads of customers and what is held on them. Tenant-owned rows only through `for_tenant` (or
the tenant's own reverse relations).

Call logs belong to the routing app, which sits above bookings (import-linter layers): they are
reached through the tenant's and the customer's reverse relations, never by importing it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Q, QuerySet

from bookings.enums import AppointmentStatus
from bookings.models import Appointment, Customer
from common.errors import NotFound, ValidationFailed
from common.pagination import Page, paginate
from common.phone import InvalidPhoneNumber, normalize_phone
from mcp_core.models import AuditLog
from tenants.models import Company
from tenants.selectors import tenant_get

FIND_LIMIT = 20


class CustomerNotFound(NotFound):
    default_message = "Customer not found."


class InvalidCustomerInput(ValidationFailed):
    default_message = "The customer data is not valid."


CUSTOMER_TYPE = Customer._meta.label_lower
APPOINTMENT_TYPE = Appointment._meta.label_lower


def customer_get(*, tenant: Company, customer_id: int) -> Customer:
    """Raises CustomerNotFound, also for another tenant's id (which must not be told apart)."""
    customer = Customer.objects.for_tenant(tenant).filter(pk=customer_id).first()
    if customer is None:
        raise CustomerNotFound(details={"customer_id": customer_id})
    return customer


def customer_list_by_ids(*, tenant: Company, customer_ids: list[int]) -> list[Customer]:
    """The tenant's customers among `customer_ids`, by id; another tenant's ids are left out."""
    return list(Customer.objects.for_tenant(tenant).filter(pk__in=customer_ids).order_by("pk"))


def customer_tenant(*, customer_id: int, tenant_id: int | None = None) -> Company:
    """The tenant to act for in operator commands that are given a customer id (`gdpr_export`,
    `gdpr_erase`): `tenant_id` when given (the customer must then be one of its, which the
    service checks), else the customer's own. API callers never reach this: their key fixes
    the tenant. Raises TenantNotFound, CustomerNotFound."""
    if tenant_id is not None:
        return tenant_get(tenant_id=tenant_id)
    # all_tenants: an operator command names only the customer; its tenant is what we look up.
    customer = (
        Customer.objects.all_tenants().select_related("tenant").filter(pk=customer_id).first()
    )
    if customer is None:
        raise CustomerNotFound(details={"customer_id": customer_id})
    return customer.tenant


def normalised_phone(phone: str, field: str = "phone") -> str:
    """E.164 of a caller's number. Raises InvalidCustomerInput."""
    try:
        return normalize_phone(phone)
    except InvalidPhoneNumber as exc:
        raise InvalidCustomerInput(
            details={field: [f"{exc}; use E.164 (+49151…) or a German number (0151 …)."]}
        ) from exc


def customer_find(
    *,
    tenant: Company,
    phone: str | None = None,
    name: str | None = None,
    email: str | None = None,
    limit: int = FIND_LIMIT,
) -> list[Customer]:
    """Customers matching every criterion given: the phone number (normalised to E.164), part
    of the name or the whole e-mail address (any case); at most `limit`, by name. Erased
    customers are never found.

    Raises InvalidCustomerInput without criteria or for a phone number that is none.
    """
    if not (phone or name or email):
        raise InvalidCustomerInput(details={"params": ["Give a phone number, name or e-mail."]})
    customers = Customer.objects.for_tenant(tenant).filter(erased_at__isnull=True)
    if phone:
        customers = customers.filter(phone=normalised_phone(phone))
    if name:
        customers = customers.filter(name__icontains=name.strip())
    if email:
        customers = customers.filter(email__iexact=email.strip())
    return list(customers.order_by("name", "pk")[:limit])


def customer_bookings(
    *, tenant: Company, customer_id: int, status: str | None = None
) -> QuerySet[Appointment]:
    """The customer's appointments, latest start first, with branch, service and staff.

    Raises CustomerNotFound and InvalidCustomerInput for an unknown status.
    """
    customer = customer_get(tenant=tenant, customer_id=customer_id)
    if status is not None and status not in AppointmentStatus.values:
        raise InvalidCustomerInput(
            details={"status": [f"Use one of {', '.join(AppointmentStatus.values)}."]}
        )
    appointments = Appointment.objects.for_tenant(tenant).filter(customer=customer)
    if status is not None:
        appointments = appointments.filter(status=status)
    return appointments.select_related("branch", "service", "staff").order_by("-start_time", "-pk")


def customer_bookings_page(
    *,
    tenant: Company,
    customer_id: int,
    status: str | None = None,
    page: int = 1,
    page_size: int = 20,
) -> Page[Appointment]:
    bookings = customer_bookings(tenant=tenant, customer_id=customer_id, status=status)
    return paginate(bookings, page=page, page_size=page_size)


def customer_call_logs(*, tenant: Company, customer: Customer) -> QuerySet[Any]:
    """Calls (routing.CallLog) linked to the customer, or made from their number."""
    linked = Q(customer=customer)
    if customer.erased_at is None:
        linked |= Q(from_number=customer.phone)
    return tenant.call_logs.filter(linked)


def customer_audit_entries(*, tenant: Company, customer: Customer) -> QuerySet[AuditLog]:
    """Audit rows about the customer and about their appointments, oldest first."""
    appointment_ids = [
        str(pk)
        for pk in Appointment.objects.for_tenant(tenant)
        .filter(customer=customer)
        .values_list("pk", flat=True)
    ]
    return (
        AuditLog.objects.for_tenant(tenant)
        .filter(
            Q(object_type=CUSTOMER_TYPE, object_id=str(customer.pk))
            | Q(object_type=APPOINTMENT_TYPE, object_id__in=appointment_ids)
        )
        .order_by("created_at", "pk")
    )


@dataclass(frozen=True)
class CustomerData:
    """Everything held on one person."""

    customer: Customer
    appointments: list[Appointment]
    call_logs: list[Any]  # routing.models.CallLog
    audit_entries: list[AuditLog]


def customer_data(*, tenant: Company, customer_id: int) -> CustomerData:
    """Raises CustomerNotFound."""
    customer = customer_get(tenant=tenant, customer_id=customer_id)
    return CustomerData(
        customer=customer,
        appointments=list(
            customer_bookings(tenant=tenant, customer_id=customer.pk).order_by("start_time", "pk")
        ),
        call_logs=list(
            customer_call_logs(tenant=tenant, customer=customer).order_by("started_at", "pk")
        ),
        audit_entries=list(customer_audit_entries(tenant=tenant, customer=customer)),
    )
