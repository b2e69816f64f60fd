"""Sagas: persisted step state, compensation in reverse order, idempotency, crash recovery."""

from __future__ import annotations

import datetime as dt
import logging
import os
import signal
import subprocess
import sys
import uuid
from decimal import Decimal
from pathlib import Path
from urllib.parse import quote

import factory
import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from common.errors import Conflict, IntegrationError, TransactionFailed
from mcp_core import tasks
from mcp_core.models import AuditLog, SagaRun, SagaStatus, StepStatus
from mcp_core.saga import Saga, SagaContext, SagaResult, Step
from mcp_core.saga_recovery import recover_stale_sagas
from tests.factories import CompanyFactory, OperatorProfileFactory
from tests.mcp_core.saga_crash_script import ACTOR, crash_saga

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
LONG_AGO = dt.timedelta(hours=1)
STEPS = ("reserve", "persist", "sync")


class SagaRunFactory(factory.django.DjangoModelFactory[SagaRun]):
    class Meta:
        model = SagaRun

    tenant = factory.SubFactory(CompanyFactory)
    name = "test.unregistered"
    context = factory.LazyFunction(lambda: {"data": {}, "results": {}})
    updated_at = factory.LazyFunction(lambda: timezone.now() - LONG_AGO)


def step_state(name: str, status: str = StepStatus.PENDING, result: dict | None = None) -> dict:
    """One entry of SagaRun.steps."""
    return {
        "name": name,
        "status": str(status),
        "result": result,
        "error": "",
        "started_at": None,
        "finished_at": None,
    }


class Recorder:
    """A three-step saga whose actions and compensations append to `calls`."""

    def __init__(self, *, fail_at: str = "", raises: Exception | None = None) -> None:
        self.calls: list[str] = []
        self.seen: dict[str, dict[str, dict]] = {}
        self.fail_at = fail_at
        self.raises = raises or IntegrationError("Calendar is down.")
        self.failing_compensation = ""
        self.saga = Saga(
            f"test.{uuid.uuid4().hex[:12]}",
            [Step(name, self._action(name), self._compensation(name)) for name in STEPS],
        )

    def _action(self, name: str):
        def action(ctx: SagaContext) -> dict:
            self.calls.append(name)
            self.seen[name] = ctx.results
            if name == self.fail_at:
                raise self.raises
            return {"done": name, "number": len(ctx.results) + 1}

        return action

    def _compensation(self, name: str):
        def compensate(ctx: SagaContext) -> None:
            self.calls.append(f"undo {name}")
            self.seen[f"undo {name}"] = ctx.results
            if name == self.failing_compensation:
                raise RuntimeError("database gone")

        return compensate


def _steps(run: SagaRun) -> list[tuple[str, str, dict | None, str]]:
    return [(s["name"], s["status"], s["result"], s["error"]) for s in run.steps]


def _statuses(run: SagaRun) -> list[str]:
    return [s["status"] for s in run.steps]


def _in_order(run: SagaRun) -> bool:
    """Every finished step started no later than it finished."""
    times = [
        (dt.datetime.fromisoformat(s["started_at"]), dt.datetime.fromisoformat(s["finished_at"]))
        for s in run.steps
    ]
    return all(start <= end for start, end in times)


def _result(name: str, number: int) -> dict:
    return {"done": name, "number": number}


def test_success_runs_every_step_and_persists_results():
    tenant = CompanyFactory()
    recorder = Recorder()

    result = recorder.saga.run(tenant=tenant, context={"slot": "2026-01-05T10:00"})

    expected = {name: _result(name, i + 1) for i, name in enumerate(STEPS)}
    run = SagaRun.objects.all_tenants().get()
    assert result == SagaResult(run.pk, expected)
    assert recorder.calls == ["reserve", "persist", "sync"]
    assert recorder.seen["sync"] == {"reserve": expected["reserve"], "persist": expected["persist"]}
    assert (run.tenant, run.name, run.status, run.attempts, run.error) == (
        tenant,
        recorder.saga.name,
        SagaStatus.COMPLETED,
        1,
        "",
    )
    assert run.context == {"data": {"slot": "2026-01-05T10:00"}, "results": expected}
    assert _steps(run) == [(name, StepStatus.DONE, expected[name], "") for name in STEPS]
    assert _in_order(run)


def test_results_read_the_same_in_process_as_from_the_database():
    tenant = CompanyFactory()
    seen: list[dict] = []
    saga = Saga(
        f"test.{uuid.uuid4().hex[:12]}",
        [
            Step("make", action=lambda ctx: {"day": dt.date(2026, 1, 5), "price": Decimal("9.50")}),
            Step("read", action=lambda ctx: seen.append(ctx.results["make"])),
        ],
    )

    result = saga.run(tenant=tenant, context={"when": dt.date(2026, 1, 5)})

    stored = {"day": "2026-01-05", "price": "9.50"}
    assert seen == [stored]
    assert result.results == {"make": stored, "read": {}}
    assert SagaRun.objects.all_tenants().get().context["data"] == {"when": "2026-01-05"}


@pytest.mark.parametrize(
    ("raises", "reason"),
    [
        (IntegrationError("Calendar is down."), "Calendar is down."),
        (ConnectionError("10.0.0.7 refused, token=abc"), "ConnectionError"),
    ],
)
def test_failure_at_step_3_compensates_steps_2_and_1_in_that_order(raises, reason):
    tenant = CompanyFactory()
    recorder = Recorder(fail_at="sync", raises=raises)

    with pytest.raises(TransactionFailed) as exc:
        recorder.saga.run(tenant=tenant, context={"slot": 1})

    run = SagaRun.objects.all_tenants().get()
    assert recorder.calls == ["reserve", "persist", "sync", "undo persist", "undo reserve"]
    envelope = exc.value.envelope()["error"]
    assert (envelope["code"], envelope["type"]) == (1007, "TRANSACTION_FAILED")
    assert envelope["details"] == {
        "saga": recorder.saga.name,
        "run_id": str(run.pk),
        "failed_step": "sync",
        "reason": reason,
    }
    assert envelope["message"] == (
        f"{recorder.saga.name} failed at step 'sync'; its completed steps were undone."
    )
    assert (run.status, run.current_step, run.error) == (SagaStatus.COMPENSATED, "sync", reason)
    assert _steps(run) == [
        ("reserve", StepStatus.COMPENSATED, _result("reserve", 1), ""),
        ("persist", StepStatus.COMPENSATED, _result("persist", 2), ""),
        ("sync", StepStatus.FAILED, None, f"{type(raises).__name__}: {raises}"),
    ]
    # Compensations see the results the actions returned.
    assert recorder.seen["undo reserve"] == {
        "reserve": _result("reserve", 1),
        "persist": _result("persist", 2),
    }


def test_failure_at_step_1_compensates_nothing():
    recorder = Recorder(fail_at="reserve")

    with pytest.raises(TransactionFailed):
        recorder.saga.run(tenant=CompanyFactory(), context={})

    run = SagaRun.objects.all_tenants().get()
    assert recorder.calls == ["reserve"]
    assert run.status == SagaStatus.COMPENSATED
    assert _statuses(run) == [
        StepStatus.FAILED,
        StepStatus.PENDING,
        StepStatus.PENDING,
    ]


def test_step_returning_something_else_than_a_dict_fails_the_step():
    saga = Saga(f"test.{uuid.uuid4().hex[:12]}", [Step("bad", action=lambda ctx: 42)])

    with pytest.raises(TransactionFailed) as exc:
        saga.run(tenant=CompanyFactory(), context={})

    assert exc.value.details["reason"] == "TypeError"
    assert SagaRun.objects.all_tenants().get().status == SagaStatus.COMPENSATED


def test_failing_compensation_marks_the_run_failed_and_the_others_still_run(caplog):
    recorder = Recorder(fail_at="sync")
    recorder.failing_compensation = "persist"

    with (
        caplog.at_level(logging.ERROR, logger="mcp_core.saga"),
        pytest.raises(TransactionFailed) as exc,
    ):
        recorder.saga.run(tenant=CompanyFactory(), context={})

    run = SagaRun.objects.all_tenants().get()
    assert recorder.calls == ["reserve", "persist", "sync", "undo persist", "undo reserve"]
    assert run.status == SagaStatus.FAILED
    assert _steps(run) == [
        ("reserve", StepStatus.COMPENSATED, _result("reserve", 1), ""),
        (
            "persist",
            StepStatus.FAILED,
            _result("persist", 2),
            "compensation: RuntimeError: database gone",
        ),
        ("sync", StepStatus.FAILED, None, "IntegrationError: Calendar is down."),
    ]
    assert exc.value.details["reason"] == "Calendar is down."
    assert "needs an operator" in exc.value.message
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert [r.getMessage() for r in errors] == [
        f"saga {recorder.saga.name} run {run.pk}: a compensation failed"
    ]
    assert errors[0].exc_info is not None


def test_same_idempotency_key_returns_the_first_result_without_running_again():
    tenant = CompanyFactory()
    recorder = Recorder()

    first = recorder.saga.run(tenant=tenant, context={"a": 1}, idempotency_key="k-1")
    again = recorder.saga.run(tenant=tenant, context={"a": 1}, idempotency_key="k-1")

    assert again == first
    assert recorder.calls == ["reserve", "persist", "sync"]
    assert SagaRun.objects.all_tenants().count() == 1


def test_same_idempotency_key_of_another_tenant_runs_on_its_own():
    recorder = Recorder()

    first = recorder.saga.run(tenant=CompanyFactory(), context={}, idempotency_key="k-1")
    other = recorder.saga.run(tenant=CompanyFactory(), context={}, idempotency_key="k-1")

    assert first.run_id != other.run_id
    assert recorder.calls == ["reserve", "persist", "sync"] * 2


@pytest.mark.parametrize("status", [SagaStatus.RUNNING, SagaStatus.COMPENSATING])
def test_idempotency_key_of_a_run_in_progress_conflicts(status):
    recorder = Recorder()
    first = SagaRunFactory(
        name=recorder.saga.name,
        status=status,
        idempotency_key="k-1",
        context={"data": {"a": 1}, "results": {}},
    )

    with pytest.raises(Conflict) as exc:
        recorder.saga.run(tenant=first.tenant, context={"a": 1}, idempotency_key="k-1")

    assert exc.value.envelope()["error"]["code"] == 1010
    assert exc.value.details == {"saga": recorder.saga.name, "run_id": str(first.pk)}
    assert recorder.calls == []
    assert list(SagaRun.objects.all_tenants()) == [first]
    assert first.steps == []


def test_idempotency_key_with_other_arguments_conflicts():
    tenant = CompanyFactory()
    recorder = Recorder()
    recorder.saga.run(tenant=tenant, context={"a": 1}, idempotency_key="k-1")

    with pytest.raises(Conflict) as exc:
        recorder.saga.run(tenant=tenant, context={"a": 2}, idempotency_key="k-1")

    assert exc.value.message == "The idempotency key was used with other arguments."
    assert recorder.calls == ["reserve", "persist", "sync"]
    assert SagaRun.objects.all_tenants().count() == 1


def test_idempotency_key_of_a_compensated_run_raises_the_same_failure_again():
    tenant = CompanyFactory()
    recorder = Recorder(fail_at="persist")
    with pytest.raises(TransactionFailed) as first:
        recorder.saga.run(tenant=tenant, context={}, idempotency_key="k-1")

    with pytest.raises(TransactionFailed) as again:
        recorder.saga.run(tenant=tenant, context={}, idempotency_key="k-1")

    assert again.value.details == first.value.details
    assert again.value.message == first.value.message
    assert recorder.calls == ["reserve", "persist", "undo reserve"]


@pytest.mark.django_db(transaction=True)
def test_no_transaction_is_open_while_actions_and_compensations_run():
    observed: list[tuple[str, bool, list[str]]] = []

    def observe(name: str):
        def fn(ctx: SagaContext) -> None:
            statuses = _statuses(SagaRun.objects.all_tenants().get(pk=ctx.run_id))
            observed.append((name, connection.in_atomic_block, statuses))
            if name == "second":
                raise IntegrationError("no")

        return fn

    saga = Saga(
        f"test.{uuid.uuid4().hex[:12]}",
        [
            Step("first", action=observe("first"), compensate=observe("undo first")),
            Step("second", action=observe("second")),
        ],
    )

    with pytest.raises(TransactionFailed):
        saga.run(tenant=CompanyFactory(), context={})

    # Each step's state was committed before its action ran, so recovery could see it.
    assert observed == [
        ("first", False, ["running", "pending"]),
        ("second", False, ["done", "running"]),
        ("undo first", False, ["compensating", "failed"]),
    ]


def test_context_json_cannot_hold_is_refused_before_anything_is_written():
    recorder = Recorder()

    with pytest.raises(TypeError):
        recorder.saga.run(tenant=CompanyFactory(), context={"when": object()})

    assert recorder.calls == []
    assert not SagaRun.objects.all_tenants().exists()


def test_saga_definitions_are_checked():
    step = Step("one", action=lambda ctx: None)
    name = f"test.{uuid.uuid4().hex[:12]}"
    Saga(name, [step])

    with pytest.raises(ValueError, match="already registered"):
        Saga(name, [step])
    with pytest.raises(ValueError, match="unique step names"):
        Saga(f"{name}.b", [step, step])
    with pytest.raises(ValueError, match="at least one step"):
        Saga(f"{name}.c", [])


def _stale_run(recorder: Recorder, statuses: list[str], **kwargs) -> SagaRun:
    results = {
        name: _result(name, i + 1)
        for i, (name, status) in enumerate(zip(STEPS, statuses, strict=True))
        if status in (StepStatus.DONE, StepStatus.COMPENSATING)
    }
    steps = [
        step_state(name, status, results.get(name))
        for name, status in zip(STEPS, statuses, strict=True)
    ]
    return SagaRunFactory(
        name=recorder.saga.name,
        context={"data": {"a": 1}, "results": results},
        steps=steps,
        **kwargs,
    )


def test_recovery_compensates_the_done_steps_of_a_stale_run_in_reverse_order():
    recorder = Recorder()
    run = _stale_run(recorder, ["done", "done", "pending"], current_step="persist")

    handled = recover_stale_sagas()

    run.refresh_from_db()
    assert handled == [run.pk]
    assert recorder.calls == ["undo persist", "undo reserve"]
    assert recorder.seen["undo persist"] == {
        "reserve": _result("reserve", 1),
        "persist": _result("persist", 2),
    }
    assert (run.status, run.attempts, run.error) == (
        SagaStatus.COMPENSATED,
        2,
        "The process running the saga stopped.",
    )
    assert _statuses(run) == [
        "compensated",
        "compensated",
        "pending",
    ]


def test_recovery_also_compensates_the_step_that_was_running():
    recorder = Recorder()
    run = _stale_run(recorder, ["done", "running", "pending"])

    assert recover_stale_sagas() == [run.pk]

    run.refresh_from_db()
    assert recorder.calls == ["undo persist", "undo reserve"]
    assert recorder.seen["undo persist"] == {"reserve": _result("reserve", 1)}
    assert run.status == SagaStatus.COMPENSATED


def test_recovery_finishes_a_compensation_cut_short():
    recorder = Recorder()
    run = _stale_run(
        recorder,
        ["done", "compensating", "failed"],
        status=SagaStatus.COMPENSATING,
        error="Calendar is down.",
    )

    assert recover_stale_sagas() == [run.pk]

    run.refresh_from_db()
    assert recorder.calls == ["undo persist", "undo reserve"]
    assert (run.status, run.error) == (SagaStatus.COMPENSATED, "Calendar is down.")
    assert _statuses(run) == [
        "compensated",
        "compensated",
        "failed",
    ]


def test_recovery_leaves_a_fresh_run_alone():
    recorder = Recorder()
    run = _stale_run(recorder, ["done", "running", "pending"], updated_at=timezone.now())

    assert recover_stale_sagas() == []

    run.refresh_from_db()
    assert recorder.calls == []
    assert (run.status, run.attempts) == (SagaStatus.RUNNING, 1)


def test_recovery_honours_the_stale_threshold(settings):
    settings.MCP_SAGA_STALE_AFTER = 600
    recorder = Recorder()
    run = _stale_run(recorder, ["done", "pending", "pending"])

    assert recover_stale_sagas(now=run.updated_at + dt.timedelta(seconds=600)) == []
    assert recover_stale_sagas(now=run.updated_at + dt.timedelta(seconds=601)) == [run.pk]


def test_recovery_completes_a_run_whose_steps_are_all_done():
    recorder = Recorder()
    run = _stale_run(recorder, ["done", "done", "done"])

    assert recover_stale_sagas() == [run.pk]

    run.refresh_from_db()
    assert recorder.calls == []
    assert run.status == SagaStatus.COMPLETED


def test_recovery_marks_a_run_of_an_unknown_saga_failed(caplog):
    run = SagaRunFactory(name="test.gone", steps=[step_state("one", StepStatus.DONE, {})])

    with caplog.at_level(logging.ERROR, logger="mcp_core.saga"):
        assert recover_stale_sagas() == [run.pk]

    run.refresh_from_db()
    assert run.status == SagaStatus.FAILED
    assert run.error == "No saga named 'test.gone' is registered; its compensations are unknown."
    assert [r.getMessage() for r in caplog.records] == [
        f"saga run {run.pk}: no saga named 'test.gone' is registered"
    ]


def test_recovery_claims_by_conditional_update_without_skip_locked(monkeypatch):
    monkeypatch.setattr(connection.features, "has_select_for_update_skip_locked", False)
    recorder = Recorder()
    run = _stale_run(recorder, ["done", "pending", "pending"])

    assert recover_stale_sagas() == [run.pk]
    assert recover_stale_sagas(now=timezone.now() + LONG_AGO) == []

    run.refresh_from_db()
    assert (run.status, run.attempts) == (SagaStatus.COMPENSATED, 2)
    assert recorder.calls == ["undo reserve"]


def test_owner_that_lost_its_run_to_recovery_stops_and_undoes_its_step():
    recorder = Recorder()
    handled: list[list[uuid.UUID]] = []

    def persist_slowly(ctx: SagaContext) -> dict:
        recorder.calls.append("persist")
        # Meanwhile a recovery worker takes the run for dead.
        handled.append(recover_stale_sagas(now=timezone.now() + LONG_AGO))
        return {"row": 1}

    saga = Saga(
        f"test.{uuid.uuid4().hex[:12]}",
        [
            recorder.saga.steps[0],
            Step("persist", action=persist_slowly, compensate=recorder.saga.steps[1].compensate),
            recorder.saga.steps[2],
        ],
    )

    with pytest.raises(TransactionFailed) as exc:
        saga.run(tenant=CompanyFactory(), context={})

    run = SagaRun.objects.all_tenants().get()
    assert handled == [[run.pk]]
    assert exc.value.details["reason"] == "The run was taken over by the recovery task."
    assert recorder.calls == ["reserve", "persist", "undo persist", "undo reserve", "undo persist"]
    assert (run.status, run.attempts) == (SagaStatus.COMPENSATED, 2)
    assert _statuses(run) == [
        "compensated",
        "compensated",
        "pending",
    ]


def test_recovery_task_runs_the_recovery():
    recorder = Recorder()
    run = _stale_run(recorder, ["done", "pending", "pending"])

    assert tasks.recover_stale_sagas.delay().get() == [str(run.pk)]
    assert tasks.recover_stale_sagas.apply().get() == []

    run.refresh_from_db()
    assert run.status == SagaStatus.COMPENSATED
    assert recorder.calls == ["undo reserve"]


def _subprocess_env() -> dict[str, str]:
    db = connection.settings_dict
    user = quote(db["USER"] or "")
    if db["PASSWORD"]:
        user += ":" + quote(db["PASSWORD"])
    url = f"postgres://{user}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    return {**os.environ, "DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "askproai.settings"}


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_process_killed_between_steps_is_compensated_by_the_recovery_task(settings):
    tenant = CompanyFactory()
    code = (
        "import django; django.setup(); from tests.mcp_core.saga_crash_script import main; main()"
    )

    process = subprocess.run(  # noqa: S603 — our own interpreter and module
        [sys.executable, "-c", code, str(tenant.pk)],
        cwd=ROOT,
        env=_subprocess_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert process.returncode == -signal.SIGKILL, process.stderr
    run = SagaRun.objects.all_tenants().get(tenant=tenant)
    marker = AuditLog.objects.all_tenants().get(tenant=tenant, action="crash.marker")
    assert (run.name, run.status, run.current_step, run.attempts) == (
        crash_saga.name,
        SagaStatus.RUNNING,
        "die",
        1,
    )
    assert _steps(run) == [
        ("create_marker", StepStatus.DONE, {"audit_id": marker.pk}, ""),
        ("die", StepStatus.RUNNING, None, ""),
        ("never", StepStatus.PENDING, None, ""),
    ]

    settings.MCP_SAGA_STALE_AFTER = 0
    assert tasks.recover_stale_sagas.delay().get() == [str(run.pk)]

    run.refresh_from_db()
    assert run.status == SagaStatus.COMPENSATED
    assert _statuses(run) == [
        "compensated",
        "compensated",
        "pending",
    ]
    notes = AuditLog.objects.all_tenants().filter(tenant=tenant, actor=ACTOR).order_by("pk")
    assert [(n.action, n.object_id) for n in notes] == [
        ("crash.die_compensated", str(run.pk)),
        ("crash.marker_deleted", str(run.pk)),
    ]


def test_admin_shows_a_run_with_its_steps(admin_client):
    recorder = Recorder()
    run = _stale_run(recorder, ["done", "running", "pending"])

    listing = admin_client.get(reverse("admin:mcp_core_sagarun_changelist"), {"q": str(run.pk)})
    detail = admin_client.get(reverse("admin:mcp_core_sagarun_change", args=[run.pk]))

    assert listing.status_code == 200
    assert list(listing.context["cl"].queryset) == [run]
    assert detail.status_code == 200
    assert "reserve" in detail.content.decode()
    assert admin_client.get(reverse("admin:mcp_core_sagarun_add")).status_code == 403


def test_admin_shows_saga_runs_to_superusers_only(client):
    mine = SagaRunFactory()
    profile = OperatorProfileFactory(tenant=mine.tenant)
    profile.user.user_permissions.set(Permission.objects.filter(content_type__app_label="mcp_core"))
    client.force_login(profile.user)

    listing = client.get(reverse("admin:mcp_core_sagarun_changelist"))
    own = client.get(reverse("admin:mcp_core_sagarun_change", args=[mine.pk]))

    # A technical record, even the operator's own tenant's, with every permission granted.
    assert (listing.status_code, own.status_code) == (403, 403)


# ------------------------------------------------------------------------------ atomic steps


class AtomicSaga:
    """reserve (atomic, writes an audit row) → notify (outbound) → settle (atomic, writes one)."""

    def __init__(self, *, fail_at: str = "") -> None:
        self.calls: list[str] = []
        self.fail_at = fail_at

        def writer(name: str):
            def action(ctx: SagaContext) -> dict:
                self.calls.append(name)
                AuditLog.objects.create(
                    tenant=ctx.tenant, actor="saga", action=f"test.{name}", object_type="t"
                )
                if name == self.fail_at:
                    raise IntegrationError(f"{name} refused")
                return {"done": name}

            return action

        def undo(name: str):
            def compensate(ctx: SagaContext) -> None:
                self.calls.append(f"undo {name}")
                AuditLog.objects.all_tenants().filter(action=f"test.{name}").delete()

            return compensate

        self.saga = Saga(
            f"test.{uuid.uuid4().hex[:12]}",
            [
                Step("reserve", writer("reserve"), undo("reserve"), atomic=True),
                Step("notify", lambda ctx: self.calls.append("notify") or {"sent": 1}),
                Step("settle", writer("settle"), undo("settle"), atomic=True),
            ],
        )


def test_atomic_steps_commit_with_their_record():
    tenant = CompanyFactory()
    atomic = AtomicSaga()

    result = atomic.saga.run(tenant=tenant, context={"n": 1}, idempotency_key="k1")

    run = SagaRun.objects.all_tenants().get()
    assert result.results == {
        "reserve": {"done": "reserve"},
        "notify": {"sent": 1},
        "settle": {"done": "settle"},
    }
    assert run.status == SagaStatus.COMPLETED
    assert [s[:2] for s in _steps(run)] == [
        (n, StepStatus.DONE) for n in ("reserve", "notify", "settle")
    ]
    assert _in_order(run)
    assert set(AuditLog.objects.all_tenants().values_list("action", flat=True)) == {
        "test.reserve",
        "test.settle",
    }

    # Replaying the key returns the first outcome and runs nothing.
    assert atomic.saga.run(tenant=tenant, context={"n": 1}, idempotency_key="k1") == result
    assert atomic.calls == ["reserve", "notify", "settle"]
    with pytest.raises(Conflict):
        atomic.saga.run(tenant=tenant, context={"n": 2}, idempotency_key="k1")


def test_a_failing_atomic_first_step_leaves_nothing_and_may_be_retried():
    tenant = CompanyFactory()
    atomic = AtomicSaga(fail_at="reserve")

    with pytest.raises(TransactionFailed) as failure:
        atomic.saga.run(tenant=tenant, context={}, idempotency_key="k1")

    assert failure.value.details["failed_step"] == "reserve"
    assert isinstance(failure.value.__cause__, IntegrationError)
    assert not SagaRun.objects.all_tenants().exists()
    assert not AuditLog.objects.all_tenants().exists()
    atomic.fail_at = ""
    atomic.saga.run(tenant=tenant, context={}, idempotency_key="k1")
    assert SagaRun.objects.all_tenants().get().status == SagaStatus.COMPLETED


def test_a_failing_later_atomic_step_rolls_its_writes_back_and_compensates_the_rest():
    tenant = CompanyFactory()
    atomic = AtomicSaga(fail_at="settle")

    with pytest.raises(TransactionFailed):
        atomic.saga.run(tenant=tenant, context={})

    run = SagaRun.objects.all_tenants().get()
    assert run.status == SagaStatus.COMPENSATED
    assert atomic.calls == ["reserve", "notify", "settle", "undo reserve"]
    assert [s[:2] for s in _steps(run)] == [
        ("reserve", StepStatus.COMPENSATED),
        ("notify", StepStatus.COMPENSATED),
        ("settle", StepStatus.FAILED),
    ]
    assert not AuditLog.objects.all_tenants().exists()


# ------------------------------------------------------------------------------ point of no return


class PivotSaga:
    """prepare (compensated) → commit (atomic, the pivot) → deliver → settle; each action
    appends its name and the attempt it ran in."""

    def __init__(self, *, fail_at: str = "") -> None:
        self.calls: list[tuple[str, int]] = []
        self.fail_at = fail_at

        def action(name: str):
            def run(ctx: SagaContext) -> dict:
                self.calls.append((name, ctx.attempt))
                if name == self.fail_at:
                    raise IntegrationError(f"{name} refused")
                return {"done": name}

            return run

        self.saga = Saga(
            f"test.{uuid.uuid4().hex[:12]}",
            [
                Step("prepare", action("prepare"), lambda ctx: self.calls.append(("undo", 0))),
                Step("commit", action("commit"), atomic=True, pivot=True),
                Step("deliver", action("deliver")),
                Step("settle", action("settle")),
            ],
        )


def test_a_pivot_must_be_atomic_and_the_steps_after_it_have_no_compensation():
    step = Step("one", action=lambda ctx: None)
    name = f"test.{uuid.uuid4().hex[:12]}"

    with pytest.raises(ValueError, match="one pivot step, an atomic one"):
        Saga(name, [Step("one", action=lambda ctx: None, pivot=True)])
    with pytest.raises(ValueError, match="never compensated"):
        Saga(
            name,
            [
                Step("one", action=lambda ctx: None, atomic=True, pivot=True),
                Step("two", action=lambda ctx: None, compensate=lambda ctx: None),
            ],
        )
    assert Saga(name, [step]).pivot is None


def test_a_step_failing_after_the_pivot_is_recorded_and_the_run_still_completes():
    pivot = PivotSaga(fail_at="deliver")

    result = pivot.saga.run(tenant=CompanyFactory(), context={})

    run = SagaRun.objects.all_tenants().get()
    assert pivot.calls == [("prepare", 1), ("commit", 1), ("deliver", 1), ("settle", 1)]
    assert result.results == {
        "prepare": {"done": "prepare"},
        "commit": {"done": "commit"},
        "deliver": {"failed": "deliver refused"},
        "settle": {"done": "settle"},
    }
    assert (run.status, _statuses(run)) == (
        SagaStatus.COMPLETED,
        ["done", "done", "failed", "done"],
    )
    assert run.steps[2]["error"] == "IntegrationError: deliver refused"


def test_a_step_failing_before_the_pivot_still_compensates():
    pivot = PivotSaga(fail_at="commit")

    with pytest.raises(TransactionFailed):
        pivot.saga.run(tenant=CompanyFactory(), context={})

    assert pivot.calls == [("prepare", 1), ("commit", 1), ("undo", 0)]
    assert SagaRun.objects.all_tenants().get().status == SagaStatus.COMPENSATED


def test_recovery_rolls_a_run_past_its_pivot_forward_and_compensates_nothing():
    pivot = PivotSaga()
    run = SagaRunFactory(
        name=pivot.saga.name,
        context={"data": {}, "results": {"prepare": {"done": "prepare"}}},
        steps=[
            step_state("prepare", StepStatus.DONE, {"done": "prepare"}),
            step_state("commit", StepStatus.DONE, {"done": "commit"}),
            step_state("deliver", StepStatus.RUNNING),
            step_state("settle"),
        ],
        current_step="deliver",
    )

    assert recover_stale_sagas() == [run.pk]

    run.refresh_from_db()
    assert pivot.calls == [("deliver", 2), ("settle", 2)]
    assert (run.status, run.attempts, run.current_step) == (SagaStatus.COMPLETED, 2, "settle")
    assert _statuses(run) == ["done", "done", "done", "done"]
    assert run.context["results"]["settle"] == {"done": "settle"}


def test_recovery_compensates_a_run_that_died_before_its_pivot():
    pivot = PivotSaga()
    run = SagaRunFactory(
        name=pivot.saga.name,
        steps=[
            step_state("prepare", StepStatus.DONE, {"done": "prepare"}),
            step_state("commit", StepStatus.RUNNING),
            step_state("deliver"),
            step_state("settle"),
        ],
    )

    assert recover_stale_sagas() == [run.pk]

    run.refresh_from_db()
    assert pivot.calls == [("undo", 0)]
    assert run.status == SagaStatus.COMPENSATED
