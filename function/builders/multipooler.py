"""multipooler: per cell a StatefulSet of Postgres instances (pgctld + multipooler).

Each pod runs `postgres` (pgctld supervising Postgres, pgctld image) and
`multipooler` (multigres image), after the `pgbackrest-cert` init container made the
pod's pgBackRest certificate (pgbackrest.py). The pooler registers its pod IP in the
topology: a re-created pod gets a new IP, so its record changes and gateways and
orchestrators dial the new pod at once, where a DNS name stays the same and their gRPC
channels kept dialing the old address for ~20 s (docs/operations.md#failover-timing).
The headless Service still gives each pod a DNS name (in its certificate, and for
people).
"""

from __future__ import annotations

from function.builders import backupguard, pgbackrest, pgconfig
from function.builders import common as k
from function.builders.common import Obj
from function.builders.shared import PG_HBA_KEY, backup_claim_name, pg_hba_name
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

# Ready when this instance can take part in a write: it is the primary, or a standby that
# streams from one. With no primary, or no streaming standby, the StatefulSet is not
# ready, so the XR is not Healthy while the cluster cannot commit (upstream's own /ready
# of pgctld and multipooler ignores Postgres; docs/architecture.md says why this probe).
#: Ready = this instance takes part in a shard that can commit: a standby streaming from
#: its primary, or a primary with a standby streaming from it. Every durability policy
#: needs a standby's acknowledgement to commit, and a lone "primary" is what a stalled
#: bootstrap shows: measured on the real node, pooler-0 (initialized, never appointed:
#: multiorch's pre-vote failed for 27 s, `recruits ... disagree on content`) was ready for
#: 26 s, then restored as a standby. The flap cost Ready changes of the StatefulSet, the
#: PDB and the XR (watch events against Crossplane's circuit breaker) and a false Ready.
READY_SQL = (
    "SELECT CASE WHEN pg_is_in_recovery() "
    "THEN EXISTS (SELECT 1 FROM pg_stat_wal_receiver WHERE status = 'streaming') "
    "ELSE EXISTS (SELECT 1 FROM pg_stat_replication WHERE state = 'streaming') END"
)
READY_SCRIPT = (
    'PGPASSWORD="$(cat "$POSTGRES_PASSWORD_FILE")" PGCONNECT_TIMEOUT=2 '
    f"psql -XAtqw -h {PATHS['pg_socket_dir']} -p {PORTS['pgctld']['postgres']} "
    f'-U "$POSTGRES_USER" -d postgres -c "{READY_SQL}" | grep -qx t'
)


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
        pgbackrest.cert_mount(),
    ]
    paths = {"pg-run": PATHS["pg_run"], "tmp": PATHS["tmp"]}
    return mounts + [{"name": n, "mountPath": paths[n]} for n in (*extra, "tmp")]


def _postgres_probes() -> Obj:
    """pgctld's own /ready ignores Postgres; readiness here is READY_SQL, so a rolling
    update waits for each instance to serve again before the next."""
    probes = k.http_probes("pgctld-http", HEALTH["ready"], HEALTH["live"], 600)
    probes["readinessProbe"] = {
        "exec": {"command": ["/bin/sh", "-c", READY_SCRIPT]},
        "periodSeconds": 5,
        "failureThreshold": 2,
        "timeoutSeconds": 4,
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
            f"{PG['pg_hba_template']}={PATHS['pg_hba_template']}",
            f"{PG['pgbackrest_port']}={PORTS['pgbackrest']['tls']}",
            f"{PG['pgbackrest_cert_dir']}={PATHS['pgbackrest_cert_dir']}",
            f"{PG['pg_initdb_extra_conf']}={pgconfig.EXTRA_CONF}",
        ],
        "env": [
            *_pg_env(),
            {"name": PGCTLD_ENV["initdb_args"], "value": c.spec.postgres.initdb_args},
        ],
        "ports": [
            {"name": "pgctld-http", "containerPort": p["http"], "protocol": "TCP"},
            {"name": "pgctld-grpc", "containerPort": p["grpc"], "protocol": "TCP"},
            {"name": "postgres", "containerPort": p["postgres"], "protocol": "TCP"},
            {"name": "pgbackrest", "containerPort": PORTS["pgbackrest"]["tls"], "protocol": "TCP"},
        ],
        "resources": k.resources(res),
        "securityContext": k.container_security(),
        "volumeMounts": [
            *_mounts(c, "pg-run"),
            {"name": "pg-hba", "mountPath": PATHS["pg_hba_dir"], "readOnly": True},
            pgconfig.mount(),
        ],
        **_postgres_probes(),
    }


def _multipooler(c: Cluster, cell: str) -> Obj:
    p = PORTS["multipooler"]
    certs = pgbackrest.cert_paths()
    return {
        "name": "multipooler",
        "image": c.spec.images.multigres,
        "imagePullPolicy": c.spec.images.pull_policy,
        "command": [f"{PATHS['multigres_bin']}/multipooler"],
        "args": [
            *k.server_args(c, p, cell),
            f"{MP['database']}={DATABASE}",
            f"{MP['table_group']}={TABLE_GROUP}",
            f"{MP['shard']}={SHARD}",
            f"{MP['pooler_dir']}={PATHS['pooler_dir']}",
            f"{MP['socket_file']}={PATHS['pg_socket_dir']}/.s.PGSQL.{PORTS['pgctld']['postgres']}",
            f"{MP['pgctld_addr']}=localhost:{PORTS['pgctld']['grpc']}",
            f"{MP['pg_port']}={PORTS['pgctld']['postgres']}",
            f"{MP['pgbackrest_cert_file']}={certs['cert']}",
            f"{MP['pgbackrest_key_file']}={certs['key']}",
            f"{MP['pgbackrest_ca_file']}={certs['ca']}",
            f"{MP['pgbackrest_port']}={PORTS['pgbackrest']['tls']}",
        ],
        "env": [*k.pod_env(), *_pg_env()],
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
        {
            "name": "pg-hba",
            "configMap": {
                "name": pg_hba_name(c),
                "items": [{"key": PG_HBA_KEY, "path": PG_HBA_KEY}],
            },
        },
        pgconfig.volume(c),
        *pgbackrest.pod_volumes(c),
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
            "metadata": k.pod_metadata(c, COMPONENT, cell, pgconfig.restart_annotations(c)),
            "spec": k.pod_spec(
                c,
                UIDS["pgctld"],
                k.scheduling(c, mp.scheduling, COMPONENT, cell, zone),
                initContainers=[
                    pgbackrest.cert_init_container(c, statefulset_name(c, cell)),
                    pgconfig.include_init_container(c),
                ],
                containers=[
                    _pgctld(c),
                    _multipooler(c, cell),
                    pgconfig.reload_container(c),
                    backupguard.container(c),
                ],
                volumes=volumes,
                terminationGracePeriodSeconds=60,
            ),
        },
        "volumeClaimTemplates": [vct],
    }
    if not mp.autoscaling.enabled:
        body = {"replicas": mp.replicas_per_cell, **body}
    meta = k.metadata(c, statefulset_name(c, cell), COMPONENT, cell)
    meta["annotations"] = pgconfig.restart_annotations(c)  # what status compares (pgstatus.py)
    return {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": meta, "spec": body}


def headless_service(c: Cluster, cell: str) -> Obj:
    """Gives each pooler pod a DNS name (in its pgBackRest certificate)."""
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
                k.service_port("pgbackrest", PORTS["pgbackrest"]["tls"]),
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
