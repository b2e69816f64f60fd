"""Run by test_replica.py in a process of its own against the primary it started, with
DATABASE_REPLICA_URL naming that primary's streaming replica: `seed` writes a tenant and prints
its id; `report TENANT_ID` writes one more call and prints what a reporting read and a plain
read see."""

from __future__ import annotations

import datetime as dt
import json
import sys
import uuid

import django

django.setup()

from django.utils import timezone  # noqa: E402

from bookings.models import Appointment  # noqa: E402
from common.replica import reporting_reads  # noqa: E402
from routing.models import CallLog  # noqa: E402
from routing.selectors import call_distribution  # noqa: E402
from tenants.models import Branch, Company  # noqa: E402
from tests.factories import AppointmentFactory, BranchFactory, CallLogFactory  # noqa: E402


def _appointment(branch: Branch) -> None:
    # Each run is a new process whose factory sequences start again: names of their own.
    tag = uuid.uuid4().hex[:8]
    AppointmentFactory(
        staff__branch=branch,
        staff__name=f"Staff {tag}",
        service__name=f"Service {tag}",
        customer__name=f"Kunde {tag}",
        customer__phone=f"+49301{uuid.uuid4().int % 10**7:07d}",
    )


def seed() -> dict[str, int]:
    branch = BranchFactory()
    CallLogFactory(branch=branch, call_id=uuid.uuid4().hex, started_at=timezone.now())
    _appointment(branch)
    return {"tenant_id": branch.tenant_id}


def report(tenant_id: int) -> dict[str, int]:
    tenant = Company.objects.get(pk=tenant_id)
    branch = Branch.objects.for_tenant(tenant).get()
    # A write: always the primary.
    CallLogFactory(branch=branch, call_id=uuid.uuid4().hex, started_at=timezone.now())
    _appointment(branch)
    today = timezone.localdate()
    with reporting_reads():
        appointments_reported = Appointment.objects.for_tenant(tenant).count()
    return {
        "calls_reported": call_distribution(
            tenant=tenant, date_from=today - dt.timedelta(days=1), date_to=today
        ).total_calls,
        "calls_on_primary": CallLog.objects.for_tenant(tenant).count(),
        "appointments_reported": appointments_reported,
        # Booking and availability reads never leave the primary.
        "appointments_on_primary": Appointment.objects.for_tenant(tenant).count(),
    }


if __name__ == "__main__":
    command = sys.argv[1]
    result = seed() if command == "seed" else report(int(sys.argv[2]))
    print(json.dumps(result))
