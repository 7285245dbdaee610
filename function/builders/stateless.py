"""multigateway and multiorch: one Deployment (and optional HPA) per cell.

The two differ only in their flags and ports, so one builder serves both; the
cluster-wide gateway Service lives here too.
"""

from __future__ import annotations

from typing import Literal

from function.api import Multigateway, Multiorch
from function.builders import common as k
from function.builders import shell
from function.builders.common import Obj
from function.defaults import spec as d
from function.defaults.upstream import (
    DATABASE,
    FLAGS,
    HEALTH,
    PATHS,
    PORTS,
    SHARD,
    TABLE_GROUP,
    UIDS,
)
from function.resolve import Cluster

Component = Literal["multigateway", "multiorch"]
COMMON = FLAGS["common"]


def deployment_name(c: Cluster, component: Component, cell: str) -> str:
    return k.fit(f"{c.name}-{cell}-{component}")


def gateway_service_name(c: Cluster) -> str:
    return k.fit(f"{c.name}-multigateway")


def grace_jitter(c: Cluster) -> str:
    """multiorch's grace-period jitter: the user's, else none for a lone orchestrator."""
    o = c.spec.multiorch
    if o.timing.grace_period_max_jitter is not None:
        return o.timing.grace_period_max_jitter
    alone = len(c.spec.cells) == 1 and o.replicas == 1 and not o.autoscaling.enabled
    return d.MULTIORCH_JITTER_ALONE if alone else d.MULTIORCH_JITTER_SEVERAL


def _args(c: Cluster, component: Component, cell: str) -> list[str]:
    ports = PORTS[component]
    args = [
        *k.server_args(c, ports, cell),
    ]
    if component == "multigateway":
        args.append(f"{FLAGS['multigateway']['pg_port']}={ports['postgres']}")
    else:
        mo, t = FLAGS["multiorch"], c.spec.multiorch.timing
        args += [
            f"{mo['watch_targets']}={DATABASE}/{TABLE_GROUP}/{SHARD}",
            f"{mo['grace_period_base']}={t.grace_period_base}",
            f"{mo['grace_period_max_jitter']}={grace_jitter(c)}",
            f"{mo['pooler_health_check_interval']}={t.pooler_health_check_interval}",
            f"{mo['recovery_cycle_interval']}={t.recovery_cycle_interval}",
        ]
    return args


def deployment(c: Cluster, component: Component, cell: str, zone: str | None) -> Obj:
    spec: Multigateway | Multiorch = getattr(c.spec, component)
    container: Obj = {
        "name": component,
        "image": c.spec.images.multigres,
        "imagePullPolicy": c.spec.images.pull_policy,
        "command": [f"{PATHS['multigres_bin']}/{component}"],
        "args": _args(c, component, cell),
        "env": k.pod_env(),
        "ports": k.container_ports(PORTS[component]),
        "resources": k.resources(spec.resources),
        "securityContext": k.container_security(),
        "volumeMounts": [{"name": "tmp", "mountPath": PATHS["tmp"]}],
        **k.http_probes("http", HEALTH["ready"], HEALTH["live"]),
    }
    # multigateway exits if it cannot register within 10 s (no flag), so it waits for etcd;
    # multiorch registers in the background with retries and needs no wait.
    init = {"initContainers": [shell.wait_for_etcd(c)]} if component == "multigateway" else {}
    if component == "multigateway":
        container["livenessProbe"] = shell.gateway_liveness(PORTS[component]["http"])
    body: Obj = {
        "selector": {"matchLabels": k.selector(c, component, cell)},
        "strategy": {
            "type": "RollingUpdate",
            "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1},
        },
        "template": {
            "metadata": k.pod_metadata(c, component, cell),
            "spec": k.pod_spec(
                c,
                UIDS["multigres"],
                k.scheduling(c, spec.scheduling, component, cell, zone),
                **init,
                containers=[container],
                volumes=[{"name": "tmp", "emptyDir": {}}],
                terminationGracePeriodSeconds=30,
            ),
        },
    }
    if not spec.autoscaling.enabled:  # the HPA owns replicas otherwise
        body = {"replicas": spec.replicas, **body}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": k.metadata(c, deployment_name(c, component, cell), component, cell),
        "spec": body,
    }


def gateway_service(c: Cluster) -> Obj:
    """One Service across every cell's gateways: the cluster's Postgres endpoint."""
    svc = c.spec.multigateway.service
    meta = k.metadata(c, gateway_service_name(c), "multigateway")
    if svc.annotations:
        meta["annotations"] = dict(svc.annotations)
    sel = {key: v for key, v in k.selector(c, "multigateway").items() if key != k.CELL_LABEL}
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": meta,
        "spec": {
            "type": svc.type,
            "selector": sel,
            "ports": [k.service_port("postgres", svc.port)],
        },
    }


def build(c: Cluster) -> dict[str, Obj]:
    out: dict[str, Obj] = {"multigateway-service": gateway_service(c)}
    for cell in c.spec.cells:
        for component in ("multigateway", "multiorch"):
            spec: Multigateway | Multiorch = getattr(c.spec, component)
            name = deployment_name(c, component, cell.name)
            out[f"{cell.name}-{component}-deployment"] = deployment(
                c, component, cell.name, cell.zone
            )
            if spec.autoscaling.enabled:
                out[f"{cell.name}-{component}-hpa"] = k.hpa(
                    c, name, "Deployment", component, cell.name, spec.autoscaling
                )
    return out
