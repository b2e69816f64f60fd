"""deploy/monitoring: the alert rules pass promtool's unit tests, the dashboard and the rules
name only series `/metrics` serves, and `/metrics` adds up every gunicorn worker."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.factories import ApiKeyFactory, CompanyFactory
from tests.mcp_core.test_rate_limit_workers import _call
from tests.serving import ROOT, gunicorn

MONITORING = ROOT / "deploy/monitoring"
SERIES = re.compile(r"\b(mcp_[a-z_]+|askproai:[a-z0-9_:]+)")


@pytest.mark.promtool
def test_the_alert_rules_pass_their_promtool_unit_tests():
    promtool = shutil.which("promtool")
    assert promtool is not None
    checked = subprocess.run(  # noqa: S603 — Debian's promtool on our own rule files
        [promtool, "test", "rules", "alerts.test.yaml"],
        cwd=MONITORING,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS" in checked.stdout


def _rules() -> list[dict]:
    return yaml.safe_load((MONITORING / "alerts.yaml").read_text())["groups"][0]["rules"]


def test_the_alerts_cover_what_operations_watch():
    alerts = {rule["alert"] for rule in _rules() if "alert" in rule}
    assert alerts == {
        "AskProAIOperationSlow",
        "AskProAIErrorRate",
        "AskProAIBreakerOpen",
        "AskProAIOutboxBacklog",
        "AskProAIOutboxDeadLetters",
        "AskProAISagasStale",
        "AskProAIRequestsShed",
    }


@pytest.mark.django_db
def test_dashboard_and_rules_name_only_served_series(client):
    _, token = ApiKeyFactory.create_with_plaintext(tenant=CompanyFactory(), role="owner")
    client.post(
        "/api/v2/mcp/execute",
        json.dumps({"service": "tenant", "operation": "validateTenantAccess"}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    served = {
        sample.name
        for family in text_string_to_metric_families(client.get("/metrics").content.decode())
        for sample in family.samples
    }
    recorded = {rule["record"] for rule in _rules() if "record" in rule}
    dashboard = json.loads((MONITORING / "dashboard.json").read_text())
    exprs = [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    exprs += [rule["expr"] for rule in _rules()]

    named = {name for expr in exprs for name in SERIES.findall(expr)}
    assert named - served - recorded == set()
    assert {"mcp_outbox_pending", "mcp_outbox_overdue", "mcp_sagas_stale"} <= named


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_metrics_add_up_every_gunicorn_worker(tmp_path: Path):
    _, token = ApiKeyFactory.create_with_plaintext(tenant=CompanyFactory(), role="owner")
    env = {"PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    (tmp_path / "gauge_livesum_1.db").write_bytes(b"left by an earlier server")
    statuses: list[int] = []
    with gunicorn(workers=3, extra_env=env) as base, ThreadPoolExecutor(max_workers=6) as pool:
        # On a busy machine the worker that booted first may take a whole round: rounds of 30
        # go on until a second worker has counted (at most ten).
        for _ in range(10):
            answers = pool.map(lambda _: _call(base, token), range(30))
            statuses += [status for status, _, _ in answers]
            if len(list(tmp_path.glob("counter_*.db"))) >= 2:
                break
        scrapes = [_scrape(base) for _ in range(6)]  # answered by whichever worker is free
        workers_seen = {path.name for path in tmp_path.glob("counter_*.db")}

    assert statuses == [200] * len(statuses)
    key = ("mcp_requests_total", "tenant", "validateTenantAccess", "success")
    assert {scrape[key] for scrape in scrapes} == {float(len(statuses))}
    assert len(workers_seen) >= 2  # the requests really were spread over several processes
    assert {scrape[("mcp_outbox_pending", "", "", "")] for scrape in scrapes} == {0.0}


def _scrape(base: str) -> dict[tuple[str, str, str, str], float]:
    with urllib.request.urlopen(f"{base}/metrics", timeout=10) as response:  # noqa: S310
        text = response.read().decode()
    return {
        (
            sample.name,
            sample.labels.get("service", ""),
            sample.labels.get("operation", ""),
            sample.labels.get("status", ""),
        ): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }
