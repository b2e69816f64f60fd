"""Recovery of saga runs whose process stopped (`recover_stale_sagas`, on Celery beat): finished,
rolled forward past their point of no return, or compensated. Why: docs/architecture.md,
"Sagas"."""

from __future__ import annotations

import datetime as dt
import logging
import uuid

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from common.scoping import TenantQuerySet
from mcp_core.models import SagaRun, SagaStatus, StepStatus
from mcp_core.saga import (
    _ACTIVE,
    _OWED,
    _RECOVERY_BATCH,
    Saga,
    _Hold,
    _registry,
    _step,
    _TakenOver,
)

# The sagas' own logger: a run's story reads in one place, whichever module wrote it.
logger = logging.getLogger("mcp_core.saga")


def _every_tenants_runs() -> TenantQuerySet[SagaRun]:
    # all_tenants: recovery takes every tenant's stale runs, by run id; the row has the tenant.
    return SagaRun.objects.all_tenants()


def recover_stale_sagas(now: dt.datetime | None = None) -> list[uuid.UUID]:
    """Finish, roll forward or compensate the runs whose process stopped; return their ids.

    Stale: running or compensating, heartbeat older than MCP_SAGA_STALE_AFTER seconds before
    `now`. One worker claims each run (row lock with SKIP LOCKED, else a conditional UPDATE) and
    raises its `attempts`, so the old process, should it still live, can write nothing more.

    A run whose steps are all done is marked completed. A run whose pivot step is done rolls
    forward: the steps after it that did not finish run again (`ctx.attempt` > 1), then it is
    completed. Otherwise every step that may have had an effect is compensated in reverse
    order: done steps, one whose compensation was under way, and the one running when the
    process died — its action may have got part way and `ctx.results` has no entry for it.
    Compensations must therefore be idempotent and cope with a missing result (find their
    effect from `ctx.data` or `ctx.run_id`). A run whose saga is not registered here is marked
    failed and logged. At most 100 runs per call.

    Raises nothing for a lost claim; database errors propagate (the next beat retries).
    """
    cutoff = (now or timezone.now()) - dt.timedelta(seconds=settings.MCP_SAGA_STALE_AFTER)
    handled: list[uuid.UUID] = []
    while len(handled) < _RECOVERY_BATCH:
        run = _claim_stale(cutoff, exclude=handled)
        if run is None:
            break
        _recover(run)
        handled.append(run.pk)
    return handled


def _claim_stale(cutoff: dt.datetime, *, exclude: list[uuid.UUID]) -> SagaRun | None:
    stale = (
        _every_tenants_runs()
        .filter(status__in=_ACTIVE, updated_at__lt=cutoff)
        .exclude(pk__in=exclude)
        .order_by("updated_at")
    )
    now = timezone.now()
    if connection.features.has_select_for_update_skip_locked:
        with transaction.atomic():
            run = stale.select_for_update(skip_locked=True).first()
            if run is None:
                return None
            _every_tenants_runs().filter(pk=run.pk).update(
                attempts=F("attempts") + 1, updated_at=now
            )
    else:
        # Without row locks the conditional UPDATE is the claim: only one claimer matches.
        for run in stale[:_RECOVERY_BATCH]:
            claimed = (
                _every_tenants_runs()
                .filter(
                    pk=run.pk, status=run.status, attempts=run.attempts, updated_at=run.updated_at
                )
                .update(attempts=F("attempts") + 1, updated_at=now)
            )
            if claimed:
                break
        else:
            return None
    run.attempts += 1
    return run


def _recover(run: SagaRun) -> None:
    saga = _registry.get(run.name)
    steps = list(run.steps)
    data, results = run.context.get("data", {}), run.context.get("results", {})
    hold = _Hold(run.tenant, run.pk, run.attempts, data, results, steps)
    try:
        if saga is None:
            logger.error("saga run %s: no saga named %r is registered", run.pk, run.name)
            error = f"No saga named {run.name!r} is registered; its compensations are unknown."
            hold.commit(status=SagaStatus.FAILED, error=error)
        elif all(step["status"] == StepStatus.DONE for step in steps):
            hold.commit(status=SagaStatus.COMPLETED)
        elif (pivot := _passed_pivot(saga, run)) is not None:
            logger.warning("saga %s run %s: rolling a stale run forward", run.name, run.pk)
            unfinished = [
                i
                for i, s in enumerate(steps)
                if i > pivot and s["status"] in (StepStatus.RUNNING, StepStatus.PENDING)
            ]
            if not unfinished:
                hold.commit(status=SagaStatus.COMPLETED)
            else:
                first = unfinished[0]
                hold.commit(
                    current_step=saga.steps[first].name,
                    steps=[_step(first, StepStatus.RUNNING)],
                )
                saga._roll_forward(hold, first)
        else:
            logger.warning("saga %s run %s: recovering a stale run", run.name, run.pk)
            error = run.error or "The process running the saga stopped."
            hold.commit(status=SagaStatus.COMPENSATING, error=error)
            owed = [(i, s["name"]) for i, s in enumerate(steps) if s["status"] in _OWED]
            saga._compensate(hold, owed[::-1])
    except _TakenOver:
        logger.warning("saga run %s: claimed by another recovery meanwhile", run.pk)


def _passed_pivot(saga: Saga, run: SagaRun) -> int | None:
    """The index of the run's pivot step when the run is running and that step committed (it
    may only go forward), else None."""
    pivot, steps = saga.pivot, list(run.steps)
    if pivot is None or run.status != SagaStatus.RUNNING or len(steps) <= pivot:
        return None
    return pivot if steps[pivot]["status"] == StepStatus.DONE else None
