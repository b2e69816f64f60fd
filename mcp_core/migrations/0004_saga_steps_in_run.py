"""A run's steps move from their own table into the run's row (`SagaRun.steps`), so every
state change of a run is one single-row write. Existing runs keep their step history."""

from typing import Any

from django.db import migrations, models


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def steps_into_runs(apps: Any, schema_editor: Any) -> None:
    SagaRun = apps.get_model("mcp_core", "SagaRun")
    SagaStep = apps.get_model("mcp_core", "SagaStep")
    for run in SagaRun.objects.iterator():
        run.steps = [
            {
                "name": step.name,
                "status": step.status,
                "result": step.result,
                "error": step.error,
                "started_at": _iso(step.started_at),
                "finished_at": _iso(step.finished_at),
            }
            for step in SagaStep.objects.filter(run_id=run.pk).order_by("index")
        ]
        run.save(update_fields=["steps"])


def runs_into_steps(apps: Any, schema_editor: Any) -> None:
    SagaRun = apps.get_model("mcp_core", "SagaRun")
    SagaStep = apps.get_model("mcp_core", "SagaStep")
    for run in SagaRun.objects.iterator():
        SagaStep.objects.bulk_create(
            SagaStep(
                tenant_id=run.tenant_id,
                run_id=run.pk,
                index=index,
                name=step["name"],
                status=step["status"],
                result=step.get("result"),
                error=step.get("error", ""),
                started_at=step.get("started_at"),
                finished_at=step.get("finished_at"),
            )
            for index, step in enumerate(run.steps)
        )


class Migration(migrations.Migration):
    dependencies = [
        ("mcp_core", "0003_outbox_saga_lean_indexes"),
    ]

    operations = [
        migrations.AddField(
            model_name="sagarun",
            name="steps",
            field=models.JSONField(blank=True, default=list),
        ),
        migrations.RunPython(steps_into_runs, runs_into_steps),
        migrations.DeleteModel(
            name="SagaStep",
        ),
    ]
