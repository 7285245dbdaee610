"""The node works as a user's would: restricted pods, Service DNS, dynamic PVCs, liveness.

One namespace with Pod Security `restricted` enforced; a web server with the security
context our manifests use, a PVC from the default StorageClass, a Service; a client pod
that resolves and calls it; and a pod whose liveness probe is made to fail.
"""

from __future__ import annotations

from typing import Any

import pytest

from function.defaults.upstream import IMAGES as IMAGES_UPSTREAM
from hack.e2e.cluster.addons import IMAGES, RESTRICTED
from tests.e2e.kube import Kube

NS = "e2e-smoke"


def pod(name: str, command: str, **extra: Any) -> dict[str, Any]:
    container = {
        "name": "main",
        "image": IMAGES["busybox"],
        "imagePullPolicy": "IfNotPresent",
        "command": ["sh", "-c", command],
        "securityContext": RESTRICTED,
        **extra.pop("container", {}),
    }
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": NS, "labels": {"app": name}},
        "spec": {
            "securityContext": {"fsGroup": 65532},
            "terminationGracePeriodSeconds": 1,
            "containers": [container],
            **extra,
        },
    }


@pytest.fixture(scope="module")
def smoke(kube: Kube) -> Kube:
    web = pod(
        "web",
        "mkdir -p /www && echo hello-from-web > /www/index.html && date > /data/written && exec httpd -f -p 8080 -h /www",
        container={
            "ports": [{"containerPort": 8080}],
            "readinessProbe": {"httpGet": {"path": "/", "port": 8080}, "periodSeconds": 1},
            "volumeMounts": [
                {"name": "www", "mountPath": "/www"},
                {"name": "data", "mountPath": "/data"},
            ],
        },
        volumes=[
            {"name": "www", "emptyDir": {}},
            {"name": "data", "persistentVolumeClaim": {"claimName": "data"}},
        ],
    )
    kube.fresh_namespace(NS)
    kube.apply(
        [
            {
                "apiVersion": "v1",
                "kind": "PersistentVolumeClaim",
                "metadata": {"name": "data", "namespace": NS},
                "spec": {
                    "accessModes": ["ReadWriteOnce"],
                    "resources": {"requests": {"storage": "16Mi"}},
                },
            },
            web,
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": "web", "namespace": NS},
                "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "targetPort": 8080}]},
            },
        ]
    )
    return kube


def test_restricted_pod_with_pvc_becomes_ready(smoke: Kube) -> None:
    smoke.wait_pods_ready(NS, "app=web", 1, timeout=120)
    pvc = smoke.get("pvc", "data", NS)
    assert pvc["status"]["phase"] == "Bound"
    assert pvc["spec"]["storageClassName"] == "local-path", (
        "the default StorageClass was not applied"
    )
    assert smoke.exec(NS, "web", "cat", "/data/written").strip(), (
        "the pod could not write its volume"
    )
    uid = smoke.exec(NS, "web", "id", "-u").strip()
    assert uid == "65532"


def test_service_name_resolves_and_answers(smoke: Kube) -> None:
    smoke.wait_pods_ready(NS, "app=web", 1, timeout=120)
    # The Postgres image as the client: glibc's resolver (what real clients use; the
    # static busybox cannot load NSS) and bash's /dev/tcp for the request.
    client = pod("client", "exec sleep 3600", container={"image": IMAGES_UPSTREAM["pgctld"]})
    smoke.apply([client])
    smoke.wait_pods_ready(NS, "app=client", 1, timeout=60)
    cluster_ip = smoke.get("service", "web", NS)["spec"]["clusterIP"]
    for name in (f"web.{NS}.svc.cluster.local", "web"):  # the FQDN and the search path
        resolved = smoke.exec(NS, "client", "getent", "hosts", name)
        assert resolved.split()[0] == cluster_ip, resolved
        get = f'exec 3<>/dev/tcp/{name}/80; printf "GET / HTTP/1.0\\r\\nHost: web\\r\\n\\r\\n" >&3; cat <&3'
        body = smoke.exec(NS, "client", "bash", "-c", get, timeout=20)
        assert body.rstrip().endswith("hello-from-web"), body


def test_liveness_failure_restarts_the_container(smoke: Kube) -> None:
    probe = {"exec": {"command": ["cat", "/tmp/alive"]}, "periodSeconds": 1, "failureThreshold": 2}
    smoke.apply(
        [
            pod(
                "liveness",
                "touch /tmp/alive && exec sleep 3600",
                container={
                    "livenessProbe": probe,
                    "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
                },
                volumes=[{"name": "tmp", "emptyDir": {}}],
            )
        ]
    )
    smoke.wait_pods_ready(NS, "app=liveness", 1, timeout=60)
    smoke.exec(NS, "liveness", "rm", "/tmp/alive")

    def restarted() -> bool:
        statuses = smoke.get("pod", "liveness", NS)["status"]["containerStatuses"]
        return bool(statuses[0]["restartCount"] >= 1)

    smoke.wait_for("the liveness probe to restart the container", restarted, 60, NS, "app=liveness")
    events = smoke.kubectl(
        "get", "events", "-n", NS, "--field-selector=involvedObject.name=liveness"
    )
    assert "Liveness probe failed" in events or "Unhealthy" in events, events
