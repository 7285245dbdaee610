"""The tier bites: the control plane rejects what a real cluster rejects.

Hand-written objects, independent of the function, so a failure here points at the
harness (binaries, flags, admission), not at the rendered output.
"""

from __future__ import annotations

import pytest
from apiserver_harness import ApiError, Kube, bare_pods

RESTRICTED_CONTAINER = {
    "name": "app",
    "image": "registry.k8s.io/pause:3.10",
    "securityContext": {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "runAsNonRoot": True,
        "runAsUser": 65532,
        "seccompProfile": {"type": "RuntimeDefault"},
    },
}


def _service(ns: str, port_name: str) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "probe", "namespace": ns},
        "spec": {"selector": {"app": "x"}, "ports": [{"name": port_name, "port": 80}]},
    }


def test_version_and_admission(kube: Kube) -> None:
    """The server is the pinned release and serves the APIs the output needs."""
    version = kube.request("GET", "/version").obj
    assert version["major"] == "1" and version["gitVersion"].startswith("v1.")
    for api_version, kind in [
        ("apps/v1", "StatefulSet"),
        ("apps/v1", "Deployment"),
        ("autoscaling/v2", "HorizontalPodAutoscaler"),
        ("policy/v1", "PodDisruptionBudget"),
        ("networking.k8s.io/v1", "NetworkPolicy"),
        ("batch/v1", "Job"),
        ("admissionregistration.k8s.io/v1", "ValidatingAdmissionPolicy"),
    ]:
        kube.resource_for(api_version, kind)


def test_bad_service_port_name_rejected(kube: Kube, namespace: str) -> None:
    """A Service with an invalid port name (not a DNS-1035 label) is refused (422)."""
    with pytest.raises(ApiError) as err:
        kube.apply(_service(namespace, "Bad_Port"))
    assert err.value.status == 422
    assert "spec.ports[0].name" in err.value.message
    kube.apply(_service(namespace, "http"))  # the same object with a good name is fine


def test_pod_security_restricted_enforced(kube: Kube, namespace: str) -> None:
    """A root, privilege-escalating pod is refused by PodSecurity in the test namespace,
    also as a dry run and also when it comes from a workload's pod template."""
    bad = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "root", "namespace": namespace},
        "spec": {"containers": [{"name": "app", "image": "registry.k8s.io/pause:3.10"}]},
    }
    with pytest.raises(ApiError) as err:
        kube.create(bad, dry_run=True)
    assert err.value.status == 403
    assert 'violates PodSecurity "restricted:latest"' in err.value.message

    deploy = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "root", "namespace": namespace},
        "spec": {
            "selector": {"matchLabels": {"app": "root"}},
            "template": {"metadata": {"labels": {"app": "root"}}, "spec": bad["spec"]},
        },
    }
    # Workloads themselves are only warned about (enforce judges pods) ...
    res = kube.apply(deploy, dry_run=True)
    assert any("PodSecurity" in w for w in res.warnings), res.warnings
    # ... so the tests create the pod a controller would create, which is refused.
    (pod,) = bare_pods(deploy)
    with pytest.raises(ApiError, match="violates PodSecurity"):
        kube.create(pod, dry_run=True)

    good = dict(bad, spec={"containers": [RESTRICTED_CONTAINER]})
    assert not kube.create(good, dry_run=True).warnings


def test_reapply_is_a_no_op(kube: Kube, namespace: str) -> None:
    """Applying an unchanged object keeps its resourceVersion; a change bumps it."""
    svc = _service(namespace, "http")
    first = kube.apply(svc).obj["metadata"]["resourceVersion"]
    assert kube.apply(svc).obj["metadata"]["resourceVersion"] == first
    svc["spec"]["ports"][0]["port"] = 81
    assert kube.apply(svc).obj["metadata"]["resourceVersion"] != first


def test_immutable_field_rejected(kube: Kube, namespace: str) -> None:
    """Changing a StatefulSet's volumeClaimTemplates is refused: the class of error the
    edit tests look for."""
    sts = {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": "db", "namespace": namespace},
        "spec": {
            "serviceName": "db",
            "selector": {"matchLabels": {"app": "db"}},
            "template": {
                "metadata": {"labels": {"app": "db"}},
                "spec": {
                    "containers": [
                        dict(
                            RESTRICTED_CONTAINER, volumeMounts=[{"name": "data", "mountPath": "/d"}]
                        )
                    ]
                },
            },
            "volumeClaimTemplates": [
                {
                    "metadata": {"name": "data"},
                    "spec": {
                        "accessModes": ["ReadWriteOnce"],
                        "resources": {"requests": {"storage": "1Gi"}},
                    },
                }
            ],
        },
    }
    kube.apply(sts)
    (pod,) = bare_pods(sts)
    kube.create(pod, dry_run=True)
    sts["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"] = "2Gi"
    with pytest.raises(ApiError) as err:
        kube.apply(sts)
    assert err.value.status == 422 and "field is immutable" in err.value.message
