"""multiadmin: the cluster's admin API (Deployment + Service), for the `multigres` CLI.

`multigres getpoolers --admin-server {xr}-multiadmin.{ns}.svc:18070` (and `backup`)
talk to its gRPC port; it reads everything else from the global topology. One replica
serves every cell, as in upstream's demo and operator.
"""

from __future__ import annotations

from function.api import Resources
from function.builders import common as k
from function.builders.common import Obj
from function.defaults.spec import RESOURCES
from function.defaults.upstream import FLAGS, HEALTH, MULTIADMIN_SERVICE, PATHS, PORTS, UIDS
from function.resolve import Cluster

COMPONENT = "multiadmin"
COMMON = FLAGS["common"]


def name(c: Cluster) -> str:
    return k.fit(f"{c.name}-multiadmin")


def _container(c: Cluster) -> Obj:
    p = PORTS["multiadmin"]
    return {
        "name": COMPONENT,
        "image": c.spec.images.multigres,
        "imagePullPolicy": c.spec.images.pull_policy,
        "command": [f"{PATHS['multigres_bin']}/multiadmin"],
        "args": [
            f"{COMMON['http_port']}={p['http']}",
            f"{COMMON['grpc_port']}={p['grpc']}",
            f"{COMMON['topo_addresses']}={c.topo_address}",
            f"{COMMON['topo_root']}={c.topo_root}",
            f"{COMMON['service_map']}={MULTIADMIN_SERVICE}",
            f"{COMMON['log_level']}={c.spec.log_level}",
        ],
        "env": k.pod_env(),
        "ports": k.container_ports(p),
        "resources": k.resources(Resources.model_validate(RESOURCES[COMPONENT])),
        "securityContext": k.container_security(),
        "volumeMounts": [{"name": "tmp", "mountPath": PATHS["tmp"]}],
        **k.http_probes("http", HEALTH["ready"], HEALTH["live"]),
    }


def deployment(c: Cluster) -> Obj:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": k.metadata(c, name(c), COMPONENT),
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": k.selector(c, COMPONENT)},
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1},
            },
            "template": {
                "metadata": k.pod_metadata(c, COMPONENT),
                "spec": k.pod_spec(
                    c,
                    UIDS["multigres"],
                    k.scheduling(c, None, COMPONENT),
                    containers=[_container(c)],
                    volumes=[{"name": "tmp", "emptyDir": {}}],
                    terminationGracePeriodSeconds=30,
                ),
            },
        },
    }


def service(c: Cluster) -> Obj:
    p = PORTS["multiadmin"]
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": k.metadata(c, name(c), COMPONENT),
        "spec": {
            "type": "ClusterIP",
            "selector": k.selector(c, COMPONENT),
            "ports": [k.service_port("http", p["http"]), k.service_port("grpc", p["grpc"])],
        },
    }


def build(c: Cluster) -> dict[str, Obj]:
    return {"multiadmin-deployment": deployment(c), "multiadmin-service": service(c)}
