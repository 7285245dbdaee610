"""examples/runtime-config.yaml stays consistent with the CLI and with Kubernetes schemas."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import kubernetes_validate
import yaml

from function.main import cli

PATH = Path(__file__).resolve().parent.parent / "examples" / "runtime-config.yaml"


def _config() -> dict[str, Any]:
    docs = list(yaml.safe_load_all(PATH.read_text()))
    assert len(docs) == 1  # other tooling loads examples/*.yaml one object per file
    doc: dict[str, Any] = docs[0]
    return doc


def _container(doc: dict[str, Any]) -> dict[str, Any]:
    containers = doc["spec"]["deploymentTemplate"]["spec"]["template"]["spec"]["containers"]
    assert containers[0]["name"] == "package-runtime"  # the name Crossplane merges into
    c: dict[str, Any] = containers[0]
    return c


def test_runtime_config_shape() -> None:
    doc = _config()
    assert (doc["apiVersion"], doc["kind"]) == (
        "pkg.crossplane.io/v1beta1",
        "DeploymentRuntimeConfig",
    )
    spec = doc["spec"]["deploymentTemplate"]["spec"]
    assert spec["replicas"] == 2
    assert "selector" in spec and "template" in spec  # required by the CRD schema
    pod = spec["template"]["spec"]
    c = _container(doc)
    assert {"name": "metrics", "containerPort": 8080, "protocol": "TCP"} in c["ports"]
    assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "metrics"}
    assert c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "metrics"}
    assert c["resources"]["requests"] and c["resources"]["limits"]["memory"]
    sc = c["securityContext"]
    assert sc["allowPrivilegeEscalation"] is False and sc["capabilities"]["drop"] == ["ALL"]
    assert sc["runAsNonRoot"] is True and sc["readOnlyRootFilesystem"] is True
    assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
    grace = next(a for a in c["args"] if a.startswith("--grace-period="))
    assert pod["terminationGracePeriodSeconds"] > float(grace.split("=", 1)[1])


def test_runtime_config_args_are_accepted_by_the_cli() -> None:
    args = [*_container(_config())["args"], "--insecure"]
    ctx = cli.make_context("function", args)
    assert ctx.params["metrics_address"] == ":8080"


def test_runtime_config_deployment_spec_is_valid_kubernetes() -> None:
    spec = copy.deepcopy(_config()["spec"]["deploymentTemplate"]["spec"])
    # Crossplane fills these in; give them values so the strict schema can check the rest.
    spec["selector"] = {"matchLabels": {"app": "x"}}
    spec["template"]["metadata"]["labels"]["app"] = "x"
    spec["template"]["spec"]["containers"][0]["image"] = "function-multigres:test"
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "function-multigres"},
        "spec": spec,
    }
    kubernetes_validate.validate(deployment, "1.33", strict=True)
