"""deploy/: each overlay renders with kustomize and every manifest validates against the
Kubernetes schemas bundled with kubernetes-validate (strict: no unknown fields), offline."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent.parent
OVERLAYS = sorted(path.name for path in (ROOT / "deploy/overlays").iterdir())
KUBERNETES_VERSION = "1.33.0"

pytestmark = pytest.mark.kubectl


def render(overlay: str) -> dict[tuple[str, str], dict]:
    kubectl = shutil.which("kubectl")
    assert kubectl is not None
    rendered = subprocess.run(  # noqa: S603 — kubectl, our own overlay
        [kubectl, "kustomize", str(ROOT / "deploy/overlays" / overlay)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    documents = [doc for doc in yaml.safe_load_all(rendered) if doc]
    return {(doc["kind"], doc["metadata"]["name"]): doc for doc in documents}


@pytest.fixture(scope="module", params=OVERLAYS)
def manifests(request) -> dict[tuple[str, str], dict]:
    return render(request.param)


def test_there_are_overlays_for_staging_and_production():
    assert OVERLAYS == ["production", "staging"]


def test_every_rendered_manifest_is_valid_kubernetes(manifests):
    for document in manifests.values():
        kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)


def test_the_topology_is_web_realtime_worker_beat_and_a_migrate_job(manifests):
    assert set(manifests) == {
        ("ConfigMap", "askproai-config"),
        ("Secret", "askproai-secrets"),
        ("Job", "askproai-migrate"),
        ("Deployment", "askproai-web"),
        ("Service", "askproai-web"),
        ("HorizontalPodAutoscaler", "askproai-web"),
        ("PodDisruptionBudget", "askproai-web"),
        ("Deployment", "askproai-realtime"),
        ("Service", "askproai-realtime"),
        ("HorizontalPodAutoscaler", "askproai-realtime"),
        ("PodDisruptionBudget", "askproai-realtime"),
        ("Ingress", "askproai"),
        ("Deployment", "askproai-worker"),
        ("HorizontalPodAutoscaler", "askproai-worker"),
        ("PodDisruptionBudget", "askproai-worker"),
        ("Deployment", "askproai-beat"),
    }


def test_beat_runs_exactly_once(manifests):
    beat = manifests[("Deployment", "askproai-beat")]["spec"]
    assert beat["replicas"] == 1
    assert beat["strategy"] == {"type": "Recreate"}
    assert not any(kind == "HorizontalPodAutoscaler" and "beat" in name for kind, name in manifests)


def test_readiness_checks_the_database_and_liveness_only_the_process(manifests):
    for name in ("askproai-web", "askproai-realtime"):
        [server] = manifests[("Deployment", name)]["spec"]["template"]["spec"]["containers"]
        assert server["readinessProbe"]["httpGet"]["path"] == "/mcp/health"
        assert server["livenessProbe"]["httpGet"]["path"] == "/livez"
        assert server["startupProbe"]["httpGet"]["path"] == "/livez"


def test_autoscaling_and_disruption_budgets_target_their_own_deployment(manifests):
    for name in ("askproai-web", "askproai-realtime", "askproai-worker"):
        deployment = manifests[("Deployment", name)]
        hpa = manifests[("HorizontalPodAutoscaler", name)]["spec"]
        pdb = manifests[("PodDisruptionBudget", name)]["spec"]
        target = {"apiVersion": "apps/v1", "kind": "Deployment", "name": name}
        assert hpa["scaleTargetRef"] == target
        assert hpa["minReplicas"] <= hpa["maxReplicas"]
        pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert pdb["selector"]["matchLabels"].items() <= pod_labels.items()
        assert deployment["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()


def test_every_process_is_configured_from_the_configmap_and_secret_only(manifests):
    for kind, name in manifests:
        if kind not in {"Deployment", "Job"}:
            continue
        pod = manifests[(kind, name)]["spec"]["template"]["spec"]
        for container in pod["containers"]:
            assert container["envFrom"] == [
                {"configMapRef": {"name": "askproai-config"}},
                {"secretRef": {"name": "askproai-secrets"}},
            ]
            own = {entry["name"] for entry in container.get("env", [])}
            assert own <= {"PROMETHEUS_MULTIPROC_DIR"}
    config = manifests[("ConfigMap", "askproai-config")]["data"]
    assert config["DJANGO_ENV"] == "production"
    assert config["DATABASE_PREPARED_STATEMENTS"] == "false"
    secret_keys = set(manifests[("Secret", "askproai-secrets")]["stringData"])
    assert {"SECRET_KEY", "DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL"} <= secret_keys


def test_the_web_command_is_the_procfiles(manifests):
    procfile = (ROOT / "Procfile").read_text()
    [web] = manifests[("Deployment", "askproai-web")]["spec"]["template"]["spec"]["containers"]
    assert "-c python:askproai.gunicorn_conf" in web["command"][-1]
    assert "-c python:askproai.gunicorn_conf" in procfile


def test_the_realtime_command_is_the_procfiles(manifests):
    procfile = dict(
        line.split(": ", 1) for line in (ROOT / "Procfile").read_text().splitlines() if line
    )
    [realtime] = manifests[("Deployment", "askproai-realtime")]["spec"]["template"]["spec"][
        "containers"
    ]
    for option in ("askproai.asgi:application", "--ws websockets-sansio", "--proxy-headers",
                   "--timeout-graceful-shutdown 20"):  # fmt: skip
        assert option in realtime["command"][-1]
        assert option in procfile["realtime"]


def test_the_ingress_sends_websockets_and_graphql_to_realtime_and_the_rest_to_web(manifests):
    [rule] = manifests[("Ingress", "askproai")]["spec"]["rules"]
    routes = {
        (path["path"], path["pathType"]): path["backend"]["service"]["name"]
        for path in rule["http"]["paths"]
    }
    assert routes == {
        ("/ws/", "Prefix"): "askproai-realtime",
        ("/graphql", "Exact"): "askproai-realtime",
        ("/", "Prefix"): "askproai-web",
    }
    services = {name for kind, name in manifests if kind == "Service"}
    assert set(routes.values()) <= services
    config = manifests[("ConfigMap", "askproai-config")]["data"]
    assert rule["host"] in config["ALLOWED_HOSTS"].split(",")
