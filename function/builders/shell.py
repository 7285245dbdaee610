"""Containers that run the shell scripts shipped in builders/scripts/ (`bash -c`)."""

from __future__ import annotations

import functools
from pathlib import Path

from function.builders.common import Obj, container_security
from function.defaults.upstream import PATHS
from function.resolve import Cluster

SCRIPTS = Path(__file__).resolve().parent / "scripts"


@functools.cache
def script(name: str) -> str:
    """A shell script shipped in builders/scripts/, as a container's `bash -c` argument."""
    return (SCRIPTS / name).read_text()


def script_container(
    c: Cluster,
    name: str,
    image: str,
    text: str,
    env: list[Obj],
    memory: tuple[str, str],
    mounts: list[Obj] | None = None,
) -> Obj:
    """A small container running a shipped shell script (`bash -c`): memory (request, limit)."""
    out: Obj = {
        "name": name,
        "image": image,
        "imagePullPolicy": c.spec.images.pull_policy,
        "command": [PATHS["bash"], "-c", text],
        "env": env,
        "resources": {
            "requests": {"cpu": "10m", "memory": memory[0]},
            "limits": {"memory": memory[1]},
        },
        "securityContext": container_security(),
    }
    if mounts is not None:
        out["volumeMounts"] = mounts
    return out


def alive_probes(alive: str) -> Obj:
    """Startup and liveness probes for a sidecar loop that touches `alive` every turn: it
    is alive while the file is under a minute old (the probes serve nothing, so there is
    no readiness probe: one could only take the pod out of its Service)."""

    def probe(period: int, failures: int) -> Obj:
        return {
            "exec": {"command": ["/bin/sh", "-c", f'test -n "$(find {alive} -mmin -1)"']},
            "periodSeconds": period,
            "timeoutSeconds": 10,
            "failureThreshold": failures,
        }

    return {"startupProbe": probe(2, 60), "livenessProbe": probe(30, 5)}


def wait_for_etcd(c: Cluster) -> Obj:
    """An init container that returns once the topology store answers healthy."""
    host, port = c.topo_address.rsplit(":", 1)
    env = [{"name": "ETCD_HOST", "value": host}, {"name": "ETCD_PORT", "value": port}]
    return script_container(
        c,
        "wait-for-etcd",
        c.spec.images.multigres,
        script("wait-for-etcd.sh"),
        env,
        ("16Mi", "32Mi"),
    )


#: How long a gateway may see no primary before the kubelet restarts it: longer than a
#: failover or a first bootstrap takes (at most about 60 s measured), so only a gateway
#: stuck on a stale pooler address is restarted (gateway-sees-primary.sh says why).
GATEWAY_NO_PRIMARY_S = 90


def gateway_liveness(http_port: int) -> Obj:
    """multigateway's liveness probe: alive while its status page shows a primary."""
    period = 10
    return {
        "exec": {
            "command": [
                PATHS["bash"],
                "-c",
                script("gateway-sees-primary.sh"),
                "gateway-sees-primary",
                str(http_port),
            ]
        },
        "periodSeconds": period,
        "timeoutSeconds": 5,
        "failureThreshold": GATEWAY_NO_PRIMARY_S // period,
    }
