"""Sagas: multi-step writes whose completed steps are undone in reverse order when one fails,
until the step marked `pivot` (the point of no return) has committed; after it they only go
forward.

Every state change of a run commits on its own and no transaction stays open while an action
runs; `mcp_core.saga_recovery` compensates runs whose process died before the pivot and rolls
forward those that died after it (why: docs/architecture.md, "Sagas"). Declare each saga once at
module level, in a module imported at start-up, so recovery knows its steps by name::

    booking_saga = Saga("booking.create", steps=[
        Step("reserve", action=reserve, atomic=True, pivot=True),
        Step("sync", action=sync),
    ])
    result = booking_saga.run(tenant=tenant, context={...}, idempotency_key="k")

Actions and compensations are `fn(ctx: SagaContext) -> dict | None`; an action's dict must be
JSON-serialisable, and an action that raises must leave no effect behind. A step after the
pivot may run again in recovery (`ctx.attempt` > 1): it must be idempotent.
"""

from __future__ import annotations

import json
import logging
import pickle
import uuid
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NoReturn

from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, transaction
from django.utils import timezone

from common import deadline
from common.errors import ApplicationError, Conflict, TransactionFailed
from mcp_core.models import SagaRun, SagaStatus, StepStatus
from mcp_core.queries import commit_without_flush_wait, saga_run_insert, saga_run_update

if TYPE_CHECKING:
    from tenants.models import Company

logger = logging.getLogger(__name__)

_ACTIVE = (SagaStatus.RUNNING, SagaStatus.COMPENSATING)
# Steps whose effects may exist: a `running` step's action may have got part way before a crash.
_OWED = (StepStatus.DONE, StepStatus.RUNNING, StepStatus.COMPENSATING)
_RECOVERY_BATCH = 100
_TAKEN_OVER = "The run was taken over by the recovery task."
_FIRST_ATTEMPT = 1  # SagaRun.attempts of a new run


@dataclass(frozen=True)
class SagaContext:
    tenant: Company
    run_id: uuid.UUID
    data: dict[str, Any]
    results: dict[str, dict[str, Any]]
    attempt: int = _FIRST_ATTEMPT  # above 1: recovery runs the step again, rolling forward


StepFn = Callable[[SagaContext], dict[str, Any] | None]


@dataclass(frozen=True)
class Step:
    name: str
    action: StepFn
    compensate: StepFn | None = None
    atomic: bool = False  # database work only: runs in the transaction that records it
    # Asked once the step before is done (the context holds its result): False skips this step
    # (recorded done with SKIPPED, no transaction of its own). Must not write or mutate.
    applies: Callable[[SagaContext], bool] | None = None
    # The point of no return (atomic only): once it committed, nothing before it is undone and
    # the steps after it (no compensations) run to the end, in recovery if need be.
    pivot: bool = False


SKIPPED: dict[str, Any] = {"skipped": True}


@dataclass(frozen=True)
class _Advance:
    steps: list[tuple[int, dict[str, Any]]]
    run_fields: dict[str, Any]
    next_index: int
    results: dict[str, dict[str, Any]]


@dataclass(frozen=True)
class SagaResult:
    run_id: uuid.UUID
    results: dict[str, dict[str, Any]]


class _FirstStepFailed(Exception):
    """An atomic first step raised `error`; its transaction, with the run, is rolled back."""

    def __init__(self, error: Exception) -> None:
        super().__init__(str(error))
        self.error = error


class _TakenOver(Exception):
    """Recovery claimed the run (its `attempts` moved on): this process must write no more."""


_registry: dict[str, Saga] = {}


class Saga:
    def __init__(self, name: str, steps: Sequence[Step]) -> None:
        """Raises ValueError for no steps, duplicate step names or an already registered name."""
        names = [step.name for step in steps]
        if not names or len(set(names)) != len(names):
            raise ValueError(f"saga {name!r} needs at least one step and unique step names")
        if name in _registry:
            raise ValueError(f"a saga named {name!r} is already registered")
        pivots = [index for index, step in enumerate(steps) if step.pivot]
        if len(pivots) > 1 or any(not steps[index].atomic for index in pivots):
            raise ValueError(f"saga {name!r} may have one pivot step, an atomic one")
        if pivots and any(step.compensate is not None for step in steps[pivots[0] + 1 :]):
            raise ValueError(f"saga {name!r}: the steps after its pivot are never compensated")
        self.name = name
        self.steps = tuple(steps)
        self.pivot: int | None = pivots[0] if pivots else None
        _registry[name] = self

    def run(
        self, *, tenant: Company, context: dict[str, Any], idempotency_key: str | None = None
    ) -> SagaResult:
        """Run every step in order and return their results.

        Call it outside `transaction.atomic`: otherwise step state stays invisible to recovery
        until the caller commits, and a crash loses it. With an `idempotency_key` already used
        for this tenant and saga, the first run's outcome is returned (or raised) again and no
        step runs.

        Raises TransactionFailed (1007) when a step before the pivot raised (or the time budget
        of the call, `common.deadline`, ran out before it); the completed steps were compensated
        (run status `compensated`), or a compensation raised too (status `failed`, logged).
        Once the pivot has committed nothing raises: see `_roll_forward`.
        Raises Conflict (1010) when the key belongs to a run still in progress or to a run with
        other inputs, and TypeError (nothing written) for a context JSON cannot represent.
        """
        data = _jsonable(context)
        deadline.check(self.steps[0].name)
        if self.steps[0].atomic:
            started = self._start_with_first_step(tenant, data, idempotency_key)
            if isinstance(started, SagaResult):
                return started
            hold, first = started
        else:
            created = self._create_run(tenant, data, idempotency_key)
            if isinstance(created, SagaRun):
                return self._replay(created, data)
            hold, first = created, 0
        # Each commit closes one step and opens the next (the first opened with the run, the
        # last closed with it): one short transaction between two actions instead of two.
        index = first
        while index < len(self.steps):
            if self.pivot is not None and index > self.pivot:
                # Past the point of no return the budget no longer applies: the caller is
                # answered with what was committed, not with a timeout.
                with deadline.lifted():
                    return self._roll_forward(hold, index)
            step = self.steps[index]
            try:
                deadline.check(step.name)
            except ApplicationError as exc:
                self._fail(hold, index, exc)
            if step.atomic:
                index = self._run_atomic_step(hold, index)
                continue
            try:
                result = _result_of(step, hold.context())
            except Exception as exc:
                self._fail(hold, index, exc)
            try:
                index = self._record_done(hold, index, result)
            except _TakenOver:
                # Recovery may have compensated this step before its action finished: undo again.
                hold.results = {**hold.results, step.name: result}
                if step.compensate is not None:
                    _call_compensation(step.compensate, hold.context(), self.name)
                raise self._failure(hold.run_id, step.name, _TAKEN_OVER) from None
        return SagaResult(hold.run_id, hold.results)

    def _roll_forward(self, hold: _Hold, index: int) -> SagaResult:
        """Run the steps from `index` (all after the pivot) to the end. A step that raises is
        recorded failed with `{"failed": reason}` as its result (logged; its effect is owed by
        whatever it left for later, e.g. an outbox message) and the next one runs; the run ends
        `completed`. Stops quietly when recovery took the run over (it finishes it)."""
        while index < len(self.steps):
            step = self.steps[index]
            try:
                if step.atomic:
                    with transaction.atomic():
                        index = self._record_done(hold, index, _result_of(step, hold.context()))
                    continue
                result = _result_of(step, hold.context())
            except _TakenOver:
                break
            except Exception as exc:
                logger.exception(
                    "saga %s run %s: step %s failed after the point of no return; rolling on",
                    self.name,
                    hold.run_id,
                    step.name,
                )
                result, failure = {"failed": _reason(exc)}, _detail(exc)
            else:
                failure = ""
            try:
                index = self._record_done(hold, index, result, error=failure)
            except _TakenOver:
                hold.results = {**hold.results, step.name: result}
                break
        return SagaResult(hold.run_id, hold.results)

    def _advance(
        self, hold: _Hold, index: int, result: dict[str, Any], error: str = ""
    ) -> _Advance:
        """What to write once step `index` is done with `result` (failed with `error`, after
        the pivot): its row, those of the steps after it that do not apply (done,
        `{"skipped": true}`, no transaction of their own), and the next step's (running) — or
        the run completed."""
        results = {**hold.results, self.steps[index].name: result}
        if error:
            steps = [_step(index, StepStatus.FAILED, result=result, error=error)]
        else:
            steps = [_step(index, StepStatus.DONE, result=result)]
        following = index + 1
        while following < len(self.steps):
            applies = self.steps[following].applies
            ctx = SagaContext(hold.tenant, hold.run_id, hold.data, results)
            if applies is None or applies(ctx):
                break
            results[self.steps[following].name] = dict(SKIPPED)
            steps.append(_step(following, StepStatus.DONE, result=dict(SKIPPED)))
            following += 1
        run_fields: dict[str, Any] = {"context": {"data": hold.data, "results": results}}
        if following == len(self.steps):
            run_fields["status"] = SagaStatus.COMPLETED
        else:
            steps.append(_step(following, StepStatus.RUNNING))
            run_fields["current_step"] = self.steps[following].name
        return _Advance(steps, run_fields, following, results)

    def _record_done(self, hold: _Hold, index: int, result: dict[str, Any], error: str = "") -> int:
        """Commit step `index` done (see `_advance`); returns the next step to run.
        Raises _TakenOver."""
        advance = self._advance(hold, index, result, error)
        last = advance.next_index == len(self.steps)
        hold.commit(steps=advance.steps, durable=last, **advance.run_fields)
        hold.results = advance.results
        return advance.next_index

    def _run_atomic_step(self, hold: _Hold, index: int) -> int:
        """Run an atomic step and record it done in one transaction; returns the next step to
        run. A raising action rolls its own writes back, so only the steps before it are
        compensated."""
        step = self.steps[index]
        try:
            with transaction.atomic():
                return self._record_done(hold, index, _result_of(step, hold.context()))
        except _TakenOver:
            raise self._failure(hold.run_id, step.name, _TAKEN_OVER) from None
        except Exception as exc:
            self._fail(hold, index, exc)

    def _start_with_first_step(
        self, tenant: Company, data: dict[str, Any], key: str | None
    ) -> tuple[_Hold, int] | SagaResult:
        """Create the run and run its atomic first step in one transaction. Returns the hold
        on the new run and the next step to run, or the replayed result of an earlier run with
        the same key.

        A first step that raises leaves no run behind (nothing happened; the warning is
        logged), so a retry with the same key runs again. Raises TransactionFailed."""
        step = self.steps[0]
        hold = _Hold(tenant, uuid.uuid4(), _FIRST_ATTEMPT, data, {}, self._fresh_steps())
        existing: SagaRun | None = None
        try:
            with transaction.atomic():
                if key is None:
                    # Nothing can collide: the run is written once, after its first step.
                    next_index = self._first_step(hold, key, run_written=False)
                else:
                    try:
                        # First, so a concurrent call with the same key waits here, not after
                        # the work.
                        with transaction.atomic():
                            self._insert_run(hold, key, current_step=step.name, steps=hold.steps)
                    except IntegrityError:
                        existing = self._run_with_key(tenant, key)
                        if existing is None:
                            raise
                    else:
                        next_index = self._first_step(hold, key, run_written=True)
        except _FirstStepFailed as failed:
            exc = failed.error
            # An ApplicationError is an expected refusal (slot taken); anything else is a bug.
            log = logger.warning if isinstance(exc, ApplicationError) else logger.exception
            log(
                "saga %s run %s: step %s failed: %s",
                self.name,
                hold.run_id,
                step.name,
                _reason(exc),
            )
            raise self._failure(hold.run_id, step.name, _reason(exc)) from exc
        if existing is not None:
            return self._replay(existing, data)
        return hold, next_index

    def _insert_run(self, hold: _Hold, key: str | None, **fields: Any) -> None:
        context = fields.pop("context", {"data": hold.data, "results": {}})
        saga_run_insert(
            id=hold.run_id,
            tenant_id=hold.tenant.pk,
            name=self.name,
            idempotency_key=key,
            context=context,
            attempts=hold.attempt,
            **fields,
        )

    def _first_step(self, hold: _Hold, key: str | None, *, run_written: bool) -> int:
        """Run the atomic first step inside the run's transaction, then write the run (or,
        when `run_written`, its new state) and its step rows; returns the next step to run.
        Raises _FirstStepFailed (its cause the action's exception)."""
        step = self.steps[0]
        try:
            result = _result_of(step, hold.context())
        except Exception as exc:
            raise _FirstStepFailed(exc) from exc
        advance = self._advance(hold, 0, result)
        if advance.next_index < len(self.steps):
            commit_without_flush_wait()  # the run's last commit is the durable one
        first = dict(advance.steps)[0]
        hold.record_steps([(0, {"started_at": first["finished_at"], **first}), *advance.steps[1:]])
        if run_written:
            saga_run_update({"pk": hold.run_id}, steps=hold.steps, **advance.run_fields)
        else:
            run_fields = {"current_step": step.name, **advance.run_fields}
            self._insert_run(hold, key, steps=hold.steps, **run_fields)
        hold.results = advance.results
        return advance.next_index

    def _run_with_key(self, tenant: Company, key: str | None) -> SagaRun | None:
        if key is None:
            return None
        runs = SagaRun.objects.for_tenant(tenant).filter(name=self.name, idempotency_key=key)
        return runs.first()

    def _create_run(
        self, tenant: Company, data: dict[str, Any], key: str | None
    ) -> _Hold | SagaRun:
        """The hold on a new run, its first step running; or the run a concurrent first call
        with the same key created (to be replayed)."""
        hold = _Hold(tenant, uuid.uuid4(), _FIRST_ATTEMPT, data, {}, self._fresh_steps())
        hold.record_steps([_step(0, StepStatus.RUNNING)])
        try:
            with transaction.atomic():
                # See _Hold.commit: the run's last commit is the durable one.
                commit_without_flush_wait()
                self._insert_run(hold, key, current_step=self.steps[0].name, steps=hold.steps)
        except IntegrityError:
            existing = self._run_with_key(tenant, key)
            if existing is None:
                raise
            return existing
        return hold

    def _fresh_steps(self) -> list[dict[str, Any]]:
        return [
            {
                "name": step.name,
                "status": StepStatus.PENDING.value,
                "result": None,
                "error": "",
                "started_at": None,
                "finished_at": None,
            }
            for step in self.steps
        ]

    def _replay(self, run: SagaRun, data: dict[str, Any]) -> SagaResult:
        details = {"saga": self.name, "run_id": str(run.pk)}
        if run.context.get("data") != data:
            raise Conflict("The idempotency key was used with other arguments.", details=details)
        if run.status in _ACTIVE:
            raise Conflict("A run with this idempotency key is in progress.", details=details)
        if run.status == SagaStatus.COMPLETED:
            return SagaResult(run.pk, run.context.get("results", {}))
        raise self._failure(run.pk, run.current_step, run.error, run.status == SagaStatus.FAILED)

    def _fail(self, hold: _Hold, index: int, exc: Exception) -> NoReturn:
        """Record step `index` as failed, compensate the steps before it, then raise
        TransactionFailed."""
        name, reason = self.steps[index].name, _reason(exc)
        # An ApplicationError is an expected refusal (slot taken); anything else is a bug.
        log = logger.warning if isinstance(exc, ApplicationError) else logger.exception
        log("saga %s run %s: step %s failed: %s", self.name, hold.run_id, name, reason)
        try:
            hold.commit(
                status=SagaStatus.COMPENSATING,
                error=reason,
                steps=[_step(index, StepStatus.FAILED, error=_detail(exc))],
            )
            ok = self._compensate(hold, [(i, self.steps[i].name) for i in reversed(range(index))])
        except _TakenOver:
            raise self._failure(hold.run_id, name, _TAKEN_OVER) from exc
        raise self._failure(hold.run_id, name, reason, operator_needed=not ok) from exc

    def _compensate(self, hold: _Hold, owed: list[tuple[int, str]]) -> bool:
        """Compensate the `(index, name)` steps in the order given; a failing compensation sets
        the run `failed` at once and the rest still run. True when all succeeded.
        Raises _TakenOver."""
        definitions = {step.name: step for step in self.steps}
        ok = True
        for index, name in owed:
            hold.commit(steps=[_step(index, StepStatus.COMPENSATING)])
            step = definitions.get(name)
            if step is None:
                error: str | None = f"step {name!r} is not in the saga definition any more"
                logger.error("saga %s run %s: %s", self.name, hold.run_id, error)
            elif step.compensate is None:
                error = None
            else:
                error = _call_compensation(step.compensate, hold.context(), self.name)
            if error is None:
                hold.commit(steps=[_step(index, StepStatus.COMPENSATED)])
            else:
                ok = False
                hold.commit(
                    status=SagaStatus.FAILED, steps=[_step(index, StepStatus.FAILED, error=error)]
                )
        if ok:
            hold.commit(status=SagaStatus.COMPENSATED)
        return ok

    def _failure(
        self, run_id: uuid.UUID, step: str, reason: str, operator_needed: bool = False
    ) -> TransactionFailed:
        outcome = "undoing its completed steps failed too; the run needs an operator"
        if not operator_needed:
            outcome = "its completed steps were undone"
        details = {"saga": self.name, "run_id": str(run_id), "failed_step": step, "reason": reason}
        return TransactionFailed(
            f"{self.name} failed at step {step!r}; {outcome}.", details=details
        )


@dataclass
class _Hold:
    """This process's hold on one run: what its steps see, its steps' states as last written,
    and the attempt its writes need."""

    tenant: Company
    run_id: uuid.UUID
    attempt: int
    data: dict[str, Any]
    results: dict[str, dict[str, Any]]
    steps: list[dict[str, Any]]

    def context(self) -> SagaContext:
        # Copies: a step mutating what it was given must not change what later steps see.
        # (Both are plain JSON values: a pickle round trip copies them 4× faster than deepcopy.)
        data, results = pickle.loads(pickle.dumps((self.data, self.results), -1))  # noqa: S301
        return SagaContext(self.tenant, self.run_id, data, results, self.attempt)

    def record_steps(self, steps: Sequence[tuple[int, dict[str, Any]]]) -> None:
        """Apply `(index, fields)` changes to the steps' states (written with the next
        commit)."""
        for index, fields in steps:
            self.steps[index] = {**self.steps[index], **_jsonable(fields)}

    def commit(
        self,
        *,
        steps: Sequence[tuple[int, dict[str, Any]]] = (),
        durable: bool = True,
        **run_fields: Any,
    ) -> None:
        """Write the run's fields, heartbeat and steps: one single-row UPDATE, atomic by itself.

        `durable=False` lets PostgreSQL skip the WAL flush for this commit (that takes a
        transaction of its own): a server crash may lose it, which only makes recovery
        compensate a run whose caller never got an answer (the final, durable commit flushes
        every earlier one too). It saves an fsync per step.

        Raises _TakenOver when recovery has claimed the run since (its attempts moved on)."""
        self.record_steps(steps)
        ours = {"pk": self.run_id, "attempts": self.attempt}
        fields = {"updated_at": timezone.now(), "steps": self.steps, **run_fields}
        with nullcontext() if durable else transaction.atomic():
            if not durable:
                commit_without_flush_wait()
            if not saga_run_update(ours, **fields):
                raise _TakenOver


def _step(index: int, status: StepStatus, **fields: Any) -> tuple[int, dict[str, Any]]:
    if status == StepStatus.RUNNING:
        fields["started_at"] = timezone.now()
    elif status != StepStatus.COMPENSATING:
        fields["finished_at"] = timezone.now()
    return index, {"status": status, **fields}


def _result_of(step: Step, ctx: SagaContext) -> dict[str, Any]:
    """Run the step's action; its result as it reads back from the database."""
    raw = step.action(ctx)
    if raw is not None and not isinstance(raw, dict):
        raise TypeError(f"step {step.name!r} returned {type(raw).__name__}")
    return _jsonable(raw or {})


def _call_compensation(compensate: StepFn, ctx: SagaContext, saga: str) -> str | None:
    """Run one compensation; the error to record if it raised, else None."""
    try:
        compensate(ctx)
    except Exception as exc:
        logger.exception("saga %s run %s: a compensation failed", saga, ctx.run_id)
        return f"compensation: {_detail(exc)}"
    return None


def _jsonable(value: dict[str, Any]) -> dict[str, Any]:
    """`value` as it reads back from a JSONField, so in-process and recovered steps agree.

    Raises TypeError for a value JSON cannot represent."""
    loaded: dict[str, Any] = json.loads(json.dumps(value, cls=DjangoJSONEncoder))
    return loaded


def _reason(exc: Exception) -> str:
    """What the caller may see: an ApplicationError's message, else only the class name."""
    return exc.message if isinstance(exc, ApplicationError) else type(exc).__name__


def _detail(exc: Exception) -> str:
    """What an operator sees on the step row."""
    return f"{type(exc).__name__}: {exc}"
