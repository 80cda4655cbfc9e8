"""deploy/kubernetes: valid against the Kubernetes schemas (offline), and consistent with the service."""

from __future__ import annotations

from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from service.ops.server import SHUTDOWN_WRITE_S
from service.settings import ServiceSettings

MANIFESTS = Path(__file__).resolve().parents[2] / "deploy" / "kubernetes"
VERSIONS = ["1.30.0", "1.34.0"]  # the oldest with lifecycle.preStop.sleep enabled by default, and a recent one


def documents() -> list[dict]:
    return [doc for path in sorted(MANIFESTS.glob("*.yaml")) for doc in yaml.safe_load_all(path.read_text()) if doc]


def by_kind(kind: str) -> dict:
    [found] = [doc for doc in documents() if doc["kind"] == kind]
    return found


@pytest.mark.parametrize("version", VERSIONS)
def test_every_manifest_is_valid_against_the_kubernetes_schemas(version):
    docs = documents()
    assert {doc["kind"] for doc in docs} == {"Deployment", "Service", "HorizontalPodAutoscaler"}
    for doc in docs:
        kubernetes_validate.validate(doc, version, strict=True)


def test_the_validator_rejects_a_broken_manifest():
    broken = by_kind("Deployment")
    broken["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGet"]["port"] = {"name": "http"}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, VERSIONS[-1], strict=True)


def test_the_deployment_probes_drains_and_runs_as_non_root():
    spec = by_kind("Deployment")["spec"]["template"]["spec"]
    [container] = spec["containers"]
    environment = {item["name"]: item.get("value") for item in container["env"]}
    settings = ServiceSettings(_env_file=None, request_timeout_s=float(environment["TRANSLATOR_REQUEST_TIMEOUT_S"]),
                               drain_timeout_s=float(environment["TRANSLATOR_DRAIN_TIMEOUT_S"]))
    assert settings.drain_limit_s >= settings.request_timeout_s
    pre_stop = container["lifecycle"]["preStop"]["sleep"]["seconds"]
    assert spec["terminationGracePeriodSeconds"] > pre_stop + settings.drain_limit_s + SHUTDOWN_WRITE_S
    assert container["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert container["livenessProbe"]["httpGet"]["path"] == "/health"
    assert spec["securityContext"]["runAsNonRoot"] is True and spec["securityContext"]["runAsUser"] != 0
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert set(container["resources"]) == {"requests", "limits"}


def test_the_service_and_autoscaler_point_at_the_deployment():
    deployment, service, autoscaler = by_kind("Deployment"), by_kind("Service"), by_kind("HorizontalPodAutoscaler")
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= labels.items()
    assert autoscaler["spec"]["scaleTargetRef"]["name"] == deployment["metadata"]["name"]
    assert autoscaler["spec"]["minReplicas"] >= 2
