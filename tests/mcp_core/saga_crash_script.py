"""A saga whose second step SIGKILLs its own process, for the kill test in test_saga.py.

The test process imports this module too, so its recovery finds the compensations by name.
The subprocess runs `main()` from the project root, with DATABASE_URL pointing at the test
database and the tenant's id as its one argument, after `django.setup()`.

Every compensation writes an audit row naming the run, so the test can see which ran, in what
order; both are idempotent, as recovery requires.
"""

from __future__ import annotations

import os
import signal
import sys
from typing import Any

from mcp_core.models import AuditLog
from mcp_core.saga import Saga, SagaContext, Step
from tenants.models import Company

ACTOR = "saga-crash-test"


def _note(ctx: SagaContext, action: str) -> AuditLog:
    return AuditLog.objects.create(
        tenant=ctx.tenant,
        actor=ACTOR,
        action=action,
        object_type="mcp_core.sagarun",
        object_id=str(ctx.run_id),
    )


def create_marker(ctx: SagaContext) -> dict[str, Any]:
    return {"audit_id": _note(ctx, "crash.marker").pk}


def delete_marker(ctx: SagaContext) -> None:
    AuditLog.objects.all_tenants().filter(pk=ctx.results["create_marker"]["audit_id"]).delete()
    _note(ctx, "crash.marker_deleted")


def die(ctx: SagaContext) -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def undo_die(ctx: SagaContext) -> None:
    # The action never returned, so there is no result to go by: only the run id.
    _note(ctx, "crash.die_compensated")


crash_saga = Saga(
    "test.crash",
    steps=[
        Step("create_marker", action=create_marker, compensate=delete_marker),
        Step("die", action=die, compensate=undo_die),
        Step("never", action=lambda ctx: {"reached": True}),
    ],
)


def main() -> None:
    tenant = Company.objects.get(pk=int(sys.argv[1]))
    crash_saga.run(tenant=tenant, context={"note": "killed in step 2"})
    sys.exit("the saga outlived its own SIGKILL")
