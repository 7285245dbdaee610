"""multipooler: per cell a StatefulSet of Postgres instances (pgctld + multipooler).

Each pod runs `postgres` (pgctld supervising Postgres, pgctld image) and
`multipooler` (multigres image). The pod's stable DNS name through the headless
Service is what the pooler registers in the topology, so gateways and orchestrators
can dial it.
"""

from __future__ import annotations

from function.builders import common as k
from function.builders.common import Obj
from function.builders.shared import backup_claim_name
from function.defaults.upstream import (
    DATABASE,
    FLAGS,
    HEALTH,
    PATHS,
    PGCTLD_ENV,
    PORTS,
    SHARD,
    TABLE_GROUP,
    UIDS,
)
from function.resolve import Cluster

COMPONENT = "multipooler"
COMMON = FLAGS["common"]
PG = FLAGS["pgctld"]
MP = FLAGS["multipooler"]


def statefulset_name(c: Cluster, cell: str) -> str:
    return k.fit(f"{c.name}-{cell}-pooler", k.LIMIT_STATEFULSET)


def _pg_env() -> list[Obj]:
    """Postgres identity: both containers need PGDATA and the password (upstream requires it)."""
    return [
        {"name": PGCTLD_ENV["pgdata"], "value": PATHS["pg_data"]},
        {"name": PGCTLD_ENV["user"], "value": "postgres"},
        {"name": PGCTLD_ENV["password_file"], "value": PATHS["password_file"]},
    ]


def _mounts(c: Cluster, *extra: str) -> list[Obj]:
    """The pod's volumes as both containers mount them; `extra` adds emptyDirs by name."""
    mounts: list[Obj] = [
        {"name": "pgdata", "mountPath": PATHS["pooler_dir"]},
        {"name": "password", "mountPath": PATHS["password_dir"], "readOnly": True},
        {"name": "backups", "mountPath": c.spec.backup.path},
    ]
    paths = {"pg-run": PATHS["pg_run"], "tmp": PATHS["tmp"]}
    return mounts + [{"name": n, "mountPath": paths[n]} for n in (*extra, "tmp")]


def _postgres_probes() -> Obj:
    """pgctld's own /ready ignores Postgres; readiness here is Postgres accepting
    connections, so a rolling update waits for each instance before the next."""
    probes = k.http_probes("pgctld-http", HEALTH["ready"], HEALTH["live"], 600)
    probes["readinessProbe"] = {
        "exec": {
            "command": [
                "pg_isready",
                "-q",
                "-h",
                PATHS["pg_socket_dir"],
                "-p",
                str(PORTS["pgctld"]["postgres"]),
            ]
        },
        "periodSeconds": 5,
        "failureThreshold": 3,
        "timeoutSeconds": 3,
    }
    return probes


def _pgctld(c: Cluster) -> Obj:
    p = PORTS["pgctld"]
    res = c.spec.multipooler.resources.postgres
    return {
        "name": "postgres",
        "image": c.spec.images.pgctld,
        "imagePullPolicy": c.spec.images.pull_policy,
        "command": [PATHS["pgctld_bin"]],
        "args": [
            "server",
            f"{PG['pooler_dir']}={PATHS['pooler_dir']}",
            f"{PG['grpc_port']}={p['grpc']}",
            f"{PG['http_port']}={p['http']}",
            f"{PG['pg_port']}={p['postgres']}",
            f"{PG['pg_listen_addresses']}=*",
            f"{PG['log_level']}={c.spec.log_level}",
        ],
        "env": [
            *_pg_env(),
            {"name": PGCTLD_ENV["initdb_args"], "value": c.spec.postgres.initdb_args},
        ],
        "ports": [
            {"name": "pgctld-http", "containerPort": p["http"], "protocol": "TCP"},
            {"name": "pgctld-grpc", "containerPort": p["grpc"], "protocol": "TCP"},
            {"name": "postgres", "containerPort": p["postgres"], "protocol": "TCP"},
        ],
        "resources": k.resources(res),
        "securityContext": k.container_security(),
        "volumeMounts": _mounts(c, "pg-run"),
        **_postgres_probes(),
    }


def _multipooler(c: Cluster, cell: str) -> Obj:
    p = PORTS["multipooler"]
    sts = statefulset_name(c, cell)
    return {
        "name": "multipooler",
        "image": c.spec.images.multigres,
        "imagePullPolicy": c.spec.images.pull_policy,
        "command": [f"{PATHS['multigres_bin']}/multipooler"],
        "args": [
            f"{COMMON['http_port']}={p['http']}",
            f"{COMMON['grpc_port']}={p['grpc']}",
            f"{COMMON['topo_addresses']}={c.topo_address}",
            f"{COMMON['topo_root']}={c.topo_root}",
            f"{COMMON['cell']}={cell}",
            f"{COMMON['hostname']}=$(POD_NAME).{sts}.$(POD_NAMESPACE).svc",
            f"{COMMON['service_id']}=$(POD_NAME)",
            f"{COMMON['log_level']}={c.spec.log_level}",
            f"{MP['database']}={DATABASE}",
            f"{MP['table_group']}={TABLE_GROUP}",
            f"{MP['shard']}={SHARD}",
            f"{MP['pooler_dir']}={PATHS['pooler_dir']}",
            f"{MP['socket_file']}={PATHS['pg_socket_dir']}/.s.PGSQL.{PORTS['pgctld']['postgres']}",
            f"{MP['pgctld_addr']}=localhost:{PORTS['pgctld']['grpc']}",
            f"{MP['pg_port']}={PORTS['pgctld']['postgres']}",
        ],
        "env": [
            k.env_field("POD_NAME", "metadata.name"),
            k.env_field("POD_NAMESPACE", "metadata.namespace"),
            *_pg_env(),
        ],
        "ports": k.container_ports(p),
        "resources": k.resources(c.spec.multipooler.resources.multipooler),
        "securityContext": k.container_security(),
        "volumeMounts": _mounts(c),
        **k.http_probes("http", HEALTH["ready"], HEALTH["live"], 600),
    }


def statefulset(c: Cluster, cell: str, zone: str | None) -> Obj:
    mp = c.spec.multipooler
    ref = c.spec.postgres.password_secret_ref
    vct: Obj = {
        "metadata": {"name": "pgdata", "labels": k.labels(c, COMPONENT, cell)},
        "spec": {
            "accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": mp.storage.size}},
        },
    }
    if mp.storage.storage_class_name:
        vct["spec"]["storageClassName"] = mp.storage.storage_class_name
    volumes = [
        {
            "name": "password",
            "secret": {
                "secretName": ref.name,
                "items": [{"key": ref.key, "path": "password"}],
                "defaultMode": 0o440,
            },
        },
        {"name": "backups", "persistentVolumeClaim": {"claimName": backup_claim_name(c)}},
        {"name": "pg-run", "emptyDir": {}},
        {"name": "tmp", "emptyDir": {}},
    ]
    body: Obj = {
        "serviceName": statefulset_name(c, cell),
        "podManagementPolicy": "Parallel",
        "updateStrategy": {"type": "RollingUpdate"},
        "selector": {"matchLabels": k.selector(c, COMPONENT, cell)},
        "persistentVolumeClaimRetentionPolicy": {
            "whenDeleted": c.spec.pvc_retention.when_deleted,
            "whenScaled": c.spec.pvc_retention.when_scaled,
        },
        "template": {
            "metadata": k.pod_metadata(c, COMPONENT, cell),
            "spec": k.pod_spec(
                c,
                UIDS["pgctld"],
                k.scheduling(c, mp.scheduling, COMPONENT, cell, zone),
                containers=[_pgctld(c), _multipooler(c, cell)],
                volumes=volumes,
                terminationGracePeriodSeconds=60,
            ),
        },
        "volumeClaimTemplates": [vct],
    }
    if not mp.autoscaling.enabled:
        body = {"replicas": mp.replicas_per_cell, **body}
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": k.metadata(c, statefulset_name(c, cell), COMPONENT, cell),
        "spec": body,
    }


def headless_service(c: Cluster, cell: str) -> Obj:
    """Gives each pooler pod the stable DNS name it registers in the topology."""
    mp, pg = PORTS["multipooler"], PORTS["pgctld"]
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": k.metadata(c, statefulset_name(c, cell), COMPONENT, cell),
        "spec": {
            "clusterIP": "None",
            "publishNotReadyAddresses": True,
            "selector": k.selector(c, COMPONENT, cell),
            "ports": [
                k.service_port("http", mp["http"]),
                k.service_port("grpc", mp["grpc"]),
                k.service_port("postgres", pg["postgres"]),
            ],
        },
    }


def build(c: Cluster) -> dict[str, Obj]:
    out: dict[str, Obj] = {}
    mp = c.spec.multipooler
    for cell in c.spec.cells:
        name = statefulset_name(c, cell.name)
        out[f"{cell.name}-pooler-statefulset"] = statefulset(c, cell.name, cell.zone)
        out[f"{cell.name}-pooler-service"] = headless_service(c, cell.name)
        out[f"{cell.name}-pooler-pdb"] = k.pdb(c, name, COMPONENT, cell.name, maxUnavailable=1)
        if mp.autoscaling.enabled:
            out[f"{cell.name}-pooler-hpa"] = k.hpa(
                c, name, "StatefulSet", COMPONENT, cell.name, mp.autoscaling
            )
    return out
