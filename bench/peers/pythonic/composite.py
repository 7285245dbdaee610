"""XMultigres composed by function-pythonic (crossplane-function-pythonic 0.6.3).

The benchmark's peer: the objects, names and fields function-multigres composes for the
benchmark's XRs, computed from the XR (a loop over its cells, defaults for what the XR
leaves out), as a platform team would write it for function-pythonic. Like the
go-templating peer it does less than ours: no validation, no XR status, no events, no
immutable-field guard, no cert-manager CA, no user scheduling, labels or pull secrets.
function-pythonic judges readiness itself for Deployments, StatefulSets, Jobs, claims,
Services, HPAs, ServiceAccounts, ConfigMaps, Roles and RoleBindings; it has no rule for
PodDisruptionBudgets, Usages or NetworkPolicies, so those are ready once they exist, as
ours says.

bench/peers/pythonic/composition.yaml embeds this file (python bench/peers/sync.py) with
ASSETS filled in; the function execs it and uses its BaseComposite subclass.
"""

import hashlib
import json

from crossplane.pythonic import BaseComposite

MG_IMAGE = "ghcr.io/multigres/multigres:sha-66d2310"
PG_IMAGE = "ghcr.io/multigres/pgctld:sha-66d2310"
ETCD_IMAGE = "gcr.io/etcd-development/etcd:v3.6.7"
UID = 65532
PG_UID = 999
#: Kinds function-pythonic's automatic readiness does not judge: ready once observed.
EXIST_READY = ("PodDisruptionBudget", "Usage", "NetworkPolicy")
#: What a platform team ships beside the Composition: the init containers' shell scripts
#: and the pg_hba template pgctld renders (function/builders/scripts/ and
#: function/defaults/pg_hba.py). sync.py inlines them here in the Composition it writes.
ASSETS = {}  # inlined by bench/peers/sync.py
TMP = [{"name": "tmp", "mountPath": "/tmp"}]
#: pgBackRest TLS: the CA Secret's mount, the per-pod certificate directory and its files.
CA_DIR = "/etc/pgbackrest-ca"
CERT_DIR = "/certs/pgbackrest"
CERT_FILES = {"ca": "ca.crt", "cert": "pgbackrest.crt", "key": "pgbackrest.key"}
#: Ready = this instance takes part in a shard that can commit (ours: multipooler.py).
READY_SQL = (
    "SELECT CASE WHEN pg_is_in_recovery() "
    "THEN EXISTS (SELECT 1 FROM pg_stat_wal_receiver WHERE status = 'streaming') "
    "ELSE EXISTS (SELECT 1 FROM pg_stat_replication WHERE state = 'streaming') END"
)
READY_SCRIPT = (
    'PGPASSWORD="$(cat "$POSTGRES_PASSWORD_FILE")" PGCONNECT_TIMEOUT=2 '
    "psql -XAtqw -h /var/lib/pooler/pg_sockets -p 5432 "
    f'-U "$POSTGRES_USER" -d postgres -c "{READY_SQL}" | grep -qx t'
)


def dig(d, *path, default=None):
    for p in path:
        if not isinstance(d, dict) or p not in d:
            return default
        d = d[p]
    return d


def sel(name, component, cell=None):
    return {
        "app.kubernetes.io/name": "multigres",
        "app.kubernetes.io/instance": name,
        "app.kubernetes.io/component": component,
        "multigres.com/cell": cell or "multigres-global",
    }


def labels(name, component, cell=None):
    return {
        **sel(name, component, cell),
        "app.kubernetes.io/part-of": "multigres",
        "app.kubernetes.io/managed-by": "function-multigres",
    }


def meta(objname, name, component, cell=None, annotations=None):
    m = {"name": objname, "labels": labels(name, component, cell)}
    if annotations:
        m["annotations"] = dict(annotations)
    return m


def podsec(uid):
    return {
        "runAsNonRoot": True,
        "runAsUser": uid,
        "runAsGroup": uid,
        "fsGroup": uid,
        "fsGroupChangePolicy": "OnRootMismatch",
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def csec():
    return {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def probes(port, ready, live, startup):
    return {
        "startupProbe": {
            "httpGet": {"path": live, "port": port},
            "periodSeconds": 5,
            "failureThreshold": startup // 5,
            "timeoutSeconds": 3,
        },
        "readinessProbe": {
            "httpGet": {"path": ready, "port": port},
            "periodSeconds": 5,
            "failureThreshold": 3,
            "timeoutSeconds": 3,
        },
        "livenessProbe": {
            "httpGet": {"path": live, "port": port},
            "periodSeconds": 10,
            "failureThreshold": 6,
            "timeoutSeconds": 5,
        },
    }


def pgprobes():
    out = probes("pgctld-http", "/ready", "/live", 600)
    out["readinessProbe"] = {
        "exec": {"command": ["/bin/sh", "-c", READY_SCRIPT]},
        "periodSeconds": 5,
        "failureThreshold": 2,
        "timeoutSeconds": 4,
    }
    return out


def podspec(name, component, uid, cell=None, zone=None, **fields):
    out = {
        "serviceAccountName": name,
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "securityContext": podsec(uid),
    }
    if zone:
        out["nodeSelector"] = {"topology.kubernetes.io/zone": zone}
    out["affinity"] = {
        "podAntiAffinity": {
            "preferredDuringSchedulingIgnoredDuringExecution": [
                {
                    "weight": 100,
                    "podAffinityTerm": {
                        "topologyKey": "kubernetes.io/hostname",
                        "labelSelector": {"matchLabels": sel(name, component, cell)},
                    },
                }
            ]
        }
    }
    out.update(fields)
    return out


def field_env(var, path):
    return {"name": var, "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": path}}}


def podenv(ip=True):
    out = [field_env("POD_NAME", "metadata.name"), field_env("POD_NAMESPACE", "metadata.namespace")]
    if ip:
        out.append(field_env("POD_IP", "status.podIP"))
    return out


def pgenv():
    return [
        {"name": "PGDATA", "value": "/var/lib/pooler/pg_data"},
        {"name": "POSTGRES_USER", "value": "postgres"},
        {"name": "POSTGRES_PASSWORD_FILE", "value": "/etc/postgres-password/password"},
    ]


def poolermounts(backup_path, pg_run):
    out = [
        {"name": "pgdata", "mountPath": "/var/lib/pooler"},
        {"name": "password", "mountPath": "/etc/postgres-password", "readOnly": True},
        {"name": "backups", "mountPath": backup_path},
        {"name": "pgbackrest-certs", "mountPath": CERT_DIR, "readOnly": True},
    ]
    if pg_run:
        out.append({"name": "pg-run", "mountPath": "/var/run/postgresql"})
    return out + TMP


def script_container(name, image, pull, script, env, memory, mounts=None):
    """A small container running one of ASSETS' shell scripts: memory (request, limit)."""
    out = {
        "name": name,
        "image": image,
        "imagePullPolicy": pull,
        "command": ["/bin/bash", "-c", ASSETS[script]],
        "env": env,
        "resources": {
            "requests": {"cpu": "10m", "memory": memory[0]},
            "limits": {"memory": memory[1]},
        },
        "securityContext": csec(),
    }
    if mounts is not None:
        out["volumeMounts"] = mounts
    return out


def ports(**named):
    return [{"name": n, "containerPort": p, "protocol": "TCP"} for n, p in named.items()]


def svcport(name, port):
    return {"name": name, "port": port, "targetPort": name, "protocol": "TCP"}


def tmp_volume():
    return {"name": "tmp", "emptyDir": {}}


def hpa(objname, name, component, cell, target, auto):
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": meta(objname, name, component, cell),
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": target, "name": objname},
            "minReplicas": auto.get("minReplicas", 1),
            "maxReplicas": auto.get("maxReplicas", 4),
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {
                            "type": "Utilization",
                            "averageUtilization": auto.get("targetCPUUtilizationPercentage", 80),
                        },
                    },
                }
            ],
        },
    }


def pdb(objname, name, component, cell, max_unavailable):
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": meta(objname, name, component, cell),
        "spec": {
            "maxUnavailable": max_unavailable,
            "selector": {"matchLabels": sel(name, component, cell)},
        },
    }


def usage(objname, name, etcd, by_kind, by_name):
    """etcd is deleted only after `by_name` (a Crossplane Usage)."""
    return {
        "apiVersion": "protection.crossplane.io/v1beta1",
        "kind": "Usage",
        "metadata": meta(objname, name, "usage"),
        "spec": {
            "of": {"apiVersion": "apps/v1", "kind": "StatefulSet", "resourceRef": {"name": etcd}},
            "by": {"apiVersion": "apps/v1", "kind": by_kind, "resourceRef": {"name": by_name}},
            "reason": "etcd holds the topology the Multigres processes need while they shut down",
            "replayDeletion": True,
        },
    }


def claim_spec(access_modes, size, storage_class):
    out = {"accessModes": list(access_modes), "resources": {"requests": {"storage": size}}}
    if storage_class:
        out["storageClassName"] = storage_class
    return out


#: spec.postgres.parameters reach Postgres as one live-included file (ours: pgconfig.py).
PGCONF_DIR = "/etc/postgres-config"
PGCONF = f"{PGCONF_DIR}/postgresql.conf"
RESTART_HASH = "multigres.com/postgres-restart-hash"
RELOAD_HASH = "multigres.com/postgres-reload-hash"
RELOAD_ALIVE = "/tmp/postgres-config-reload.alive"
UNITS = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "k": 10**3, "M": 10**6, "G": 10**9}


def qty(q):
    """A Kubernetes quantity in base units (only the suffixes an XR uses here)."""
    q = str(q)
    if q.endswith("m"):
        return int(q[:-1]) / 1000
    for suf in ("Ki", "Mi", "Gi", "Ti", "k", "M", "G"):
        if q.endswith(suf):
            return int(q[: -len(suf)]) * UNITS[suf]
    return float(q)


def size_text(b):
    kb = max(b // 1024, 0)
    if kb and kb % (1024 * 1024) == 0:
        return f"{kb // (1024 * 1024)}GB"
    if kb and kb % 1024 == 0:
        return f"{kb // 1024}MB"
    return f"{kb}kB"


def pg_sizing(res, storage):
    """Postgres parameters from the postgres container's resources, by our rules (PGTune's
    25% / 75% / 1/16, work_mem over 3 x 120 connections, max_wal_size 25% of the volume,
    parallel workers from 4 cores). No clamping to the server's bounds: the benchmark's
    XRs are well inside them."""
    limit = (res.get("limits") or {}).get("memory")
    memory = int(qty(limit)) if limit is not None else 512 * 2**20
    cpu = (res.get("limits") or {}).get("cpu") or (res.get("requests") or {}).get("cpu")
    cores = int(qty(cpu)) if cpu is not None else 0
    mb = lambda b: b // 2**20 * 2**20  # noqa: E731
    out, per_gather = {"max_connections": "120"}, 1
    if cores >= 4:
        per_gather = min(-(-cores // 2), 4)
        out["max_worker_processes"] = str(max(6, cores))
        out["max_parallel_workers"] = str(cores)
        out["max_parallel_workers_per_gather"] = str(per_gather)
        out["max_parallel_maintenance_workers"] = str(per_gather)
    shared = mb(memory // 4)
    out["shared_buffers"] = size_text(shared)
    out["effective_cache_size"] = size_text(mb(memory * 3 // 4))
    out["maintenance_work_mem"] = size_text(min(memory // 16, 2 * 2**30))
    out["work_mem"] = size_text(max((memory - shared) // 360 // per_gather, 64 * 1024))
    out["max_wal_size"] = size_text(min(max(mb(int(qty(storage)) // 4), 64 * 2**20), 4 * 2**30))
    if limit is None:
        basis = (
            "the postgres container has no memory limit: Postgres is sized as for 512Mi "
            "(conservative); set spec.multipooler.resources.postgres.limits.memory to size it"
        )
    else:
        cpu_note = f", {cores} cores" if cores >= 4 else ""
        basis = f"sized from limits.memory {limit}{cpu_note} and storage {storage}"
    return out, basis


def pg_config(s):
    """The effective parameters (the XR's over the sized ones), the file, its two hashes.
    Which parameters need a restart: ASSETS["postmaster-parameters"], one name a line,
    from the pinned server's table (ours: function/defaults/pg_parameters.json)."""
    spec = s["spec"]
    mp = spec.get("multipooler") or {}
    res = (mp.get("resources") or {}).get("postgres") or {"limits": {"memory": "512Mi"}}
    storage = dig(mp, "storage", "size", default="10Gi")
    user = dig(spec, "postgres", "parameters", default={}) or {}
    sized, basis = pg_sizing(res, storage)
    params = dict(sorted({**sized, **user}.items()))
    restart_names = set(ASSETS["postmaster-parameters"].split())
    lines = [
        "# Generated by function-multigres from the XMultigres "
        "(spec.postgres.parameters, Composition input, sizing). Do not edit.",
        f"# {basis}",
    ]
    for n, v in params.items():
        quoted = "'" + v.replace("\\", "\\\\").replace("'", "''") + "'"
        origin = "set" if n in user else "sized"
        lines.append(f"{n} = {quoted}  # {origin}, {'restart' if n in restart_names else 'reload'}")

    def digest(names):
        text = "\n".join(f"{n}={params[n]}" for n in sorted(names))
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    restart = [n for n in params if n in restart_names]
    reload = [n for n in params if n not in restart_names]
    return "\n".join(lines) + "\n", digest(restart), digest(reload)


def short_hash(value):
    blob = json.dumps(value, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(blob).hexdigest()[:8]


def settings(xr):
    """What the builders read from the XR, with our defaults for what it leaves out."""
    spec = xr.get("spec") or {}
    name, ns = xr["metadata"]["name"], xr["metadata"]["namespace"]
    img = spec.get("images") or {}
    return {
        "spec": spec,
        "name": name,
        "ns": ns,
        "mg_image": img.get("multigres", MG_IMAGE),
        "pg_image": img.get("pgctld", PG_IMAGE),
        "etcd_image": img.get("etcd", ETCD_IMAGE),
        "pull": img.get("pullPolicy", "IfNotPresent"),
        "cells": spec.get("cells") or [{"name": "zone1"}],
        "log_level": spec.get("logLevel", "info"),
        "etcd_host": f"{name}-etcd.{ns}.svc",
        "topo": f"{name}-etcd.{ns}.svc:2379",
        "backup_path": dig(spec, "backup", "path", default="/backups"),
        "claim": dig(spec, "backup", "existingClaim", default="") or f"{name}-backups",
        "retention": {
            "whenDeleted": dig(spec, "pvcRetention", "whenDeleted", default="Retain"),
            "whenScaled": dig(spec, "pvcRetention", "whenScaled", default="Retain"),
        },
        "ca_secret": f"{name}-pgbackrest-ca",
    }


def server_args(s, http, grpc, cell):
    """The flags every Multigres server gets: ports, topology, cell, identity."""
    return [
        f"--http-port={http}",
        f"--grpc-port={grpc}",
        f"--topo-global-server-addresses={s['topo']}",
        "--topo-global-root=/multigres/global",
        f"--cell={cell}",
        "--hostname=$(POD_IP)",
        "--service-id=$(POD_NAME)",
        f"--log-level={s['log_level']}",
    ]


def wait_for_etcd(s):
    env = [{"name": "ETCD_HOST", "value": s["etcd_host"]}, {"name": "ETCD_PORT", "value": "2379"}]
    return script_container(
        "wait-for-etcd", s["mg_image"], s["pull"], "wait-for-etcd.sh", env, ("16Mi", "32Mi")
    )


def shared(s):
    name, spec = s["name"], s["spec"]
    out = {
        "serviceaccount": {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": meta(name, name, "serviceaccount"),
            "automountServiceAccountToken": False,
        },
        "pg-hba-configmap": {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": meta(f"{name}-pg-hba", name, "pg-hba"),
            "data": {"pg_hba_template.conf": ASSETS["pg_hba_template.conf"]},
        },
    }
    conf, restart_hash, reload_hash = pg_config(s)
    out["postgres-config-configmap"] = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": meta(
            f"{name}-postgres-config",
            name,
            "postgres-config",
            annotations={RESTART_HASH: restart_hash, RELOAD_HASH: reload_hash},
        ),
        "data": {"postgresql.conf": conf},
    }
    if not dig(spec, "backup", "existingClaim", default=""):
        out["backup-pvc"] = {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": meta(s["claim"], name, "backup"),
            "spec": claim_spec(
                dig(spec, "backup", "storage", "accessModes", default=["ReadWriteMany"]),
                dig(spec, "backup", "storage", "size", default="10Gi"),
                dig(spec, "backup", "storage", "storageClassName", default=""),
            ),
        }
    return out


def etcd(s):
    name, ns, spec = s["name"], s["ns"], s["spec"]
    replicas = int(dig(spec, "etcd", "replicas", default=3))
    sts, headless = f"{name}-etcd", f"{name}-etcd-headless"
    members = ",".join(
        f"{sts}-{i}=http://{sts}-{i}.{headless}.{ns}.svc:2380" for i in range(replicas)
    )
    own = f"$(POD_NAME).{headless}.$(POD_NAMESPACE).svc"
    env = podenv(ip=False)
    for k, v in (
        ("ETCD_NAME", "$(POD_NAME)"),
        ("ETCD_DATA_DIR", "/var/lib/etcd/data"),
        ("ETCD_LISTEN_CLIENT_URLS", "http://[::]:2379"),
        ("ETCD_LISTEN_PEER_URLS", "http://[::]:2380"),
        ("ETCD_LISTEN_METRICS_URLS", "http://[::]:2381"),
        ("ETCD_ADVERTISE_CLIENT_URLS", f"http://{own}:2379"),
        ("ETCD_INITIAL_ADVERTISE_PEER_URLS", f"http://{own}:2380"),
        ("ETCD_INITIAL_CLUSTER", members),
        ("ETCD_INITIAL_CLUSTER_STATE", "new"),
        ("ETCD_INITIAL_CLUSTER_TOKEN", sts),
    ):
        env.append({"name": k, "value": v})
    container = {
        "name": "etcd",
        "image": s["etcd_image"],
        "imagePullPolicy": s["pull"],
        "command": ["/usr/local/bin/etcd"],
        "env": env,
        "ports": ports(client=2379, peer=2380, metrics=2381),
        "resources": dig(
            spec,
            "etcd",
            "resources",
            default={"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"memory": "512Mi"}},
        ),
        "securityContext": csec(),
        "volumeMounts": [{"name": "data", "mountPath": "/var/lib/etcd"}, *TMP],
        **probes("metrics", "/readyz", "/livez", 150),
    }
    pod = podspec(
        name,
        "etcd",
        UID,
        containers=[container],
        volumes=[tmp_volume()],
        terminationGracePeriodSeconds=30,
    )
    vct = {
        "metadata": {"name": "data", "labels": labels(name, "etcd")},
        "spec": claim_spec(
            ["ReadWriteOnce"],
            dig(spec, "etcd", "storage", "size", default="1Gi"),
            dig(spec, "etcd", "storage", "storageClassName", default=""),
        ),
    }
    etcd_ports = [svcport("client", 2379), svcport("peer", 2380)]
    return {
        "etcd-statefulset": {
            "apiVersion": "apps/v1",
            "kind": "StatefulSet",
            "metadata": meta(sts, name, "etcd"),
            "spec": {
                "replicas": replicas,
                "serviceName": headless,
                "podManagementPolicy": "Parallel",
                "updateStrategy": {"type": "RollingUpdate"},
                "selector": {"matchLabels": sel(name, "etcd")},
                "persistentVolumeClaimRetentionPolicy": dict(s["retention"]),
                "template": {"metadata": {"labels": labels(name, "etcd")}, "spec": pod},
                "volumeClaimTemplates": [vct],
            },
        },
        "etcd-headless-service": {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": meta(headless, name, "etcd"),
            "spec": {
                "clusterIP": "None",
                "publishNotReadyAddresses": True,
                "selector": sel(name, "etcd"),
                "ports": etcd_ports,
            },
        },
        "etcd-service": {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": meta(sts, name, "etcd"),
            "spec": {"type": "ClusterIP", "selector": sel(name, "etcd"), "ports": etcd_ports[:1]},
        },
        "etcd-pdb": pdb(sts, name, "etcd", None, max(1, (replicas - 1) // 2)),
    }


def topology(s):
    name, spec = s["name"], s["spec"]
    durability = dig(spec, "postgres", "durabilityPolicy", default="AT_LEAST_2")
    container = {
        "name": "createclustermetadata",
        "image": s["mg_image"],
        "imagePullPolicy": s["pull"],
        "command": ["/multigres/bin/multigres"],
        "args": [
            "createclustermetadata",
            f"--global-topo-address={s['topo']}",
            "--global-topo-root=/multigres/global",
            f"--cells={','.join(c['name'] for c in s['cells'])}",
            f"--durability-policy={durability}",
            f"--backup-location={s['backup_path']}",
        ],
        "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"memory": "128Mi"}},
        "securityContext": csec(),
        "volumeMounts": list(TMP),
    }
    pod = podspec(
        name,
        "topology",
        UID,
        initContainers=[wait_for_etcd(s)],
        containers=[container],
        volumes=[tmp_volume()],
        restartPolicy="OnFailure",
    )
    template = {"metadata": {"labels": labels(name, "topology")}, "spec": pod}
    h = short_hash(template)  # in the key too: a changed template is a new Job
    return {
        f"topology-job-{h}": {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": meta(f"{name}-topo-{h}", name, "topology"),
            "spec": {"backoffLimit": 30, "template": template},
        }
    }


def gateway_service(s):
    name = s["name"]
    svc = dig(s["spec"], "multigateway", "service", default={})
    return {
        "multigateway-service": {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": meta(
                f"{name}-multigateway", name, "multigateway", annotations=svc.get("annotations")
            ),
            "spec": {
                "type": svc.get("type", "ClusterIP"),
                "selector": {
                    "app.kubernetes.io/name": "multigres",
                    "app.kubernetes.io/instance": name,
                    "app.kubernetes.io/component": "multigateway",
                },
                "ports": [svcport("postgres", svc.get("port", 5432))],
            },
        }
    }


#: component -> (http, grpc, replicas, requests, memory limit)
STATELESS = {
    "multigateway": (15100, 15170, 2, {"cpu": "100m", "memory": "128Mi"}, "256Mi"),
    "multiorch": (15300, 15370, 1, {"cpu": "50m", "memory": "64Mi"}, "128Mi"),
}
#: multiorch timing flags and our defaults for them.
ORCH_TIMING = {
    "gracePeriodBase": ("--leader-failover-grace-period-base", "2s"),
    "gracePeriodMaxJitter": ("--leader-failover-grace-period-max-jitter", None),
    "poolerHealthCheckInterval": ("--pooler-health-check-interval", "2s"),
    "recoveryCycleInterval": ("--recovery-cycle-interval", "1s"),
}


def orch_jitter(s, cs):
    """No grace-period jitter for a lone orchestrator (nobody to race), 4s for several."""
    auto = (cs.get("autoscaling") or {}).get("enabled", False)
    alone = len(s["cells"]) == 1 and cs.get("replicas", 1) == 1 and not auto
    return "0s" if alone else "4s"


def stateless(s, cell, component):
    name, cn, zone = s["name"], cell["name"], cell.get("zone", "")
    http, grpc, default_replicas, req, limit = STATELESS[component]
    cs = s["spec"].get(component) or {}
    auto = cs.get("autoscaling") or {}
    objname = f"{name}-{cn}-{component}"
    args = server_args(s, http, grpc, cn)
    named = {"http": http, "grpc": grpc}
    if component == "multigateway":
        args.append("--pg-port=5432")
        named["postgres"] = 5432
    else:
        timing = cs.get("timing") or {}
        args.append("--watch-targets=postgres/default/0-inf")
        args += [
            f"{flag}={timing.get(k, orch_jitter(s, cs) if d is None else d)}"
            for k, (flag, d) in ORCH_TIMING.items()
        ]
    container = {
        "name": component,
        "image": s["mg_image"],
        "imagePullPolicy": s["pull"],
        "command": [f"/multigres/bin/{component}"],
        "args": args,
        "env": podenv(),
        "ports": ports(**named),
        "resources": cs.get("resources", {"requests": req, "limits": {"memory": limit}}),
        "securityContext": csec(),
        "volumeMounts": list(TMP),
        **probes("http", "/ready", "/live", 300),
    }
    init = {"initContainers": [wait_for_etcd(s)]} if component == "multigateway" else {}
    if component == "multigateway":  # alive while its status page shows a primary
        container["livenessProbe"] = {
            "exec": {
                "command": [
                    "/bin/bash",
                    "-c",
                    ASSETS["gateway-sees-primary.sh"],
                    "gateway-sees-primary",
                    "15100",
                ]
            },
            "periodSeconds": 10,
            "timeoutSeconds": 5,
            "failureThreshold": 9,
        }
    dspec = {}
    if not auto.get("enabled", False):
        dspec["replicas"] = cs.get("replicas", default_replicas)
    dspec["selector"] = {"matchLabels": sel(name, component, cn)}
    dspec["strategy"] = {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1},
    }
    dspec["template"] = {
        "metadata": {"labels": labels(name, component, cn)},
        "spec": podspec(
            name,
            component,
            UID,
            cn,
            zone,
            **init,
            containers=[container],
            volumes=[tmp_volume()],
            terminationGracePeriodSeconds=30,
        ),
    }
    out = {
        f"{cn}-{component}-deployment": {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": meta(objname, name, component, cn),
            "spec": dspec,
        }
    }
    if auto.get("enabled", False):
        out[f"{cn}-{component}-hpa"] = hpa(objname, name, component, cn, "Deployment", auto)
    return out


def pgbackrest_ca(s):
    """The Job that makes the pgBackRest CA Secret once, and the RBAC it needs."""
    name, component = s["name"], "pgbackrest-tls"
    account = f"{name}-pgbackrest-ca"
    env = [
        {"name": "SA_DIR", "value": "/var/run/secrets/kubernetes.io/serviceaccount"},
        {"name": "SECRET_NAME", "value": s["ca_secret"]},
        {"name": "SECRET_LABELS", "value": json.dumps(labels(name, component), sort_keys=True)},
        {"name": "CA_COMMON_NAME", "value": f"{name} pgBackRest CA"},
        {"name": "CA_DAYS", "value": "3650"},
        {"name": "HOME", "value": "/tmp"},
    ]
    container = script_container(
        "generate-ca", s["pg_image"], s["pull"], "pgbackrest-ca.sh", env, ("32Mi", "64Mi"), TMP
    )
    pod = podspec(
        name,
        component,
        PG_UID,
        containers=[container],
        volumes=[tmp_volume()],
        restartPolicy="OnFailure",
        serviceAccountName=account,
        automountServiceAccountToken=True,
    )
    template = {"metadata": {"labels": labels(name, component)}, "spec": pod}
    return {
        "pgbackrest-ca-serviceaccount": {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": meta(account, name, component),
            "automountServiceAccountToken": False,
        },
        "pgbackrest-ca-role": {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": meta(account, name, component),
            "rules": [
                {
                    "apiGroups": [""],
                    "resources": ["secrets"],
                    "resourceNames": [s["ca_secret"]],
                    "verbs": ["get"],
                },
                {"apiGroups": [""], "resources": ["secrets"], "verbs": ["create"]},
            ],
        },
        "pgbackrest-ca-rolebinding": {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": meta(account, name, component),
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": account},
            "subjects": [{"kind": "ServiceAccount", "name": account}],
        },
        "pgbackrest-ca-job": {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": meta(f"{account}-{short_hash(template)}", name, component),
            "spec": {"backoffLimit": 10, "template": template},
        },
    }


def cert_init(s, pooler):
    """Init container: this pod's pgBackRest certificate, signed with the CA Secret."""
    env = [
        *podenv(),
        {"name": "SUBDOMAIN", "value": pooler},
        {"name": "CA_DIR", "value": CA_DIR},
        {"name": "CERT_DIR", "value": CERT_DIR},
        {"name": "KEY_FILE", "value": CERT_FILES["key"]},
        {"name": "CERT_FILE", "value": CERT_FILES["cert"]},
        {"name": "CA_FILE", "value": CERT_FILES["ca"]},
        {"name": "CLIENT_CN", "value": "pgbackrest"},
        {"name": "LEAF_DAYS", "value": "3650"},
        {"name": "HOME", "value": "/tmp"},
    ]
    mounts = [
        {"name": "pgbackrest-ca", "mountPath": CA_DIR, "readOnly": True},
        {"name": "pgbackrest-certs", "mountPath": CERT_DIR},
        *TMP,
    ]
    return script_container(
        "pgbackrest-cert",
        s["pg_image"],
        s["pull"],
        "pgbackrest-cert.sh",
        env,
        ("16Mi", "64Mi"),
        mounts,
    )


def pooler_containers(s, cn, pooler):
    spec = s["spec"]
    mp = spec.get("multipooler") or {}
    res = mp.get("resources") or {}
    initdb = dig(spec, "postgres", "initdbArgs", default="")
    certs = {role: f"{CERT_DIR}/{f}" for role, f in CERT_FILES.items()}
    postgres = {
        "name": "postgres",
        "image": s["pg_image"],
        "imagePullPolicy": s["pull"],
        "command": ["/usr/local/bin/pgctld"],
        "args": [
            "server",
            "--pooler-dir=/var/lib/pooler",
            "--grpc-port=15470",
            "--http-port=15400",
            "--pg-port=5432",
            "--pg-listen-addresses=*",
            f"--log-level={s['log_level']}",
            "--pg-hba-template=/etc/pgctld/pg_hba_template.conf",
            "--pgbackrest-port=8432",
            f"--pgbackrest-cert-dir={CERT_DIR}",
            f"--pg-initdb-extra-conf={PGCONF}",
        ],
        "env": [*pgenv(), {"name": "POSTGRES_INITDB_ARGS", "value": initdb}],
        "ports": ports(
            **{"pgctld-http": 15400, "pgctld-grpc": 15470}, postgres=5432, pgbackrest=8432
        ),
        "resources": res.get(
            "postgres",
            {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"memory": "512Mi"}},
        ),
        "securityContext": csec(),
        "volumeMounts": [
            *poolermounts(s["backup_path"], True),
            {"name": "pg-hba", "mountPath": "/etc/pgctld", "readOnly": True},
            {"name": "postgres-config", "mountPath": PGCONF_DIR, "readOnly": True},
        ],
        **pgprobes(),
    }
    multipooler = {
        "name": "multipooler",
        "image": s["mg_image"],
        "imagePullPolicy": s["pull"],
        "command": ["/multigres/bin/multipooler"],
        "args": [
            *server_args(s, 15200, 15270, cn),
            "--database=postgres",
            "--table-group=default",
            "--shard=0-inf",
            "--pooler-dir=/var/lib/pooler",
            "--socket-file=/var/lib/pooler/pg_sockets/.s.PGSQL.5432",
            "--pgctld-addr=localhost:15470",
            "--pg-port=5432",
            f"--pgbackrest-cert-file={certs['cert']}",
            f"--pgbackrest-key-file={certs['key']}",
            f"--pgbackrest-ca-file={certs['ca']}",
            "--pgbackrest-port=8432",
        ],
        "env": [*podenv(), *pgenv()],
        "ports": ports(http=15200, grpc=15270),
        "resources": res.get(
            "multipooler",
            {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "256Mi"}},
        ),
        "securityContext": csec(),
        "volumeMounts": poolermounts(s["backup_path"], False),
        **probes("http", "/ready", "/live", 600),
    }
    return [postgres, multipooler, pgconf_reload(s), stanza_guard(s)]


def pgconf_env():
    return [
        {"name": "PGDATA", "value": "/var/lib/pooler/pg_data"},
        {"name": "EXTRA_CONF", "value": PGCONF},
    ]


def pgconf_include(s):
    """Adds the include line to a data directory initialised without it."""
    mounts = [{"name": "pgdata", "mountPath": "/var/lib/pooler"}]
    return script_container(
        "postgres-config-include", s["pg_image"], s["pull"], "postgres-config-include.sh",
        pgconf_env(), ("16Mi", "32Mi"), mounts,
    )  # fmt: skip


def pgconf_reload(s):
    """Reloads Postgres when the kubelet has rewritten the mounted file."""
    env = [
        *pgconf_env(),
        {"name": "SOCKET_DIR", "value": "/var/lib/pooler/pg_sockets"},
        {"name": "PGPORT", "value": "5432"},
        {"name": "POSTGRES_USER", "value": "postgres"},
        {"name": "POSTGRES_PASSWORD_FILE", "value": "/etc/postgres-password/password"},
        {"name": "INTERVAL", "value": "5"},
        {"name": "ALIVE", "value": RELOAD_ALIVE},
        {"name": "HOME", "value": "/tmp"},
    ]
    mounts = [
        {"name": "pgdata", "mountPath": "/var/lib/pooler"},
        {"name": "password", "mountPath": "/etc/postgres-password", "readOnly": True},
        {"name": "postgres-config", "mountPath": PGCONF_DIR, "readOnly": True},
        *TMP,
    ]
    out = script_container(
        "postgres-config-reload", s["pg_image"], s["pull"], "postgres-config-reload.sh",
        env, ("16Mi", "64Mi"), mounts,
    )  # fmt: skip
    return {**out, **alive_probes(RELOAD_ALIVE)}


def alive_probes(path):
    """A sidecar loop is alive while the file it touches each turn is under a minute old."""

    def probe(period, failures):
        return {
            "exec": {"command": ["/bin/sh", "-c", f'test -n "$(find {path} -mmin -1)"']},
            "periodSeconds": period,
            "timeoutSeconds": 10,
            "failureThreshold": failures,
        }

    return {"startupProbe": probe(2, 60), "livenessProbe": probe(30, 5)}


def stanza_guard(s):
    """Moves aside a stanza a failed first backup left, which no retry could get past."""
    alive = "/tmp/backup-stanza-guard.alive"
    env = [
        {"name": "REPO", "value": s["backup_path"]},
        {"name": "STANZA", "value": "multigres"},
        {"name": "PGDATA", "value": "/var/lib/pooler/pg_data"},
        {"name": "GRACE", "value": "90"},
        {"name": "INTERVAL", "value": "10"},
        {"name": "ALIVE", "value": alive},
    ]
    mounts = [
        {"name": "pgdata", "mountPath": "/var/lib/pooler", "readOnly": True},
        {"name": "backups", "mountPath": s["backup_path"]},
        *TMP,
    ]
    out = script_container(
        "backup-stanza-guard", s["pg_image"], s["pull"], "backup-stanza-guard.sh",
        env, ("16Mi", "32Mi"), mounts,
    )  # fmt: skip
    return {**out, **alive_probes(alive)}


def pooler(s, cell):
    name, spec, cn, zone = s["name"], s["spec"], cell["name"], cell.get("zone", "")
    mp = spec.get("multipooler") or {}
    mp_auto = mp.get("autoscaling") or {}
    objname = f"{name}-{cn}-pooler"
    volumes = [
        {
            "name": "password",
            "secret": {
                "secretName": dig(spec, "postgres", "passwordSecretRef", "name", default=""),
                "items": [
                    {
                        "key": dig(
                            spec, "postgres", "passwordSecretRef", "key", default="password"
                        ),
                        "path": "password",
                    }
                ],
                "defaultMode": 288,
            },
        },
        {"name": "backups", "persistentVolumeClaim": {"claimName": s["claim"]}},
        {
            "name": "pg-hba",
            "configMap": {
                "name": f"{name}-pg-hba",
                "items": [{"key": "pg_hba_template.conf", "path": "pg_hba_template.conf"}],
            },
        },
        {
            "name": "postgres-config",
            "configMap": {
                "name": f"{name}-postgres-config",
                "items": [{"key": "postgresql.conf", "path": "postgresql.conf"}],
            },
        },
        {"name": "pgbackrest-ca", "secret": {"secretName": s["ca_secret"], "defaultMode": 288}},
        {"name": "pgbackrest-certs", "emptyDir": {"medium": "Memory", "sizeLimit": "1Mi"}},
        {"name": "pg-run", "emptyDir": {}},
        tmp_volume(),
    ]
    # The restart parameters' hash rolls the pods; the StatefulSet carries it for status.
    hashed = {RESTART_HASH: pg_config(s)[1]}
    sspec = {}
    if not mp_auto.get("enabled", False):
        sspec["replicas"] = mp.get("replicasPerCell", 3)
    sspec.update(
        {
            "serviceName": objname,
            "podManagementPolicy": "Parallel",
            "updateStrategy": {"type": "RollingUpdate"},
            "selector": {"matchLabels": sel(name, "multipooler", cn)},
            "persistentVolumeClaimRetentionPolicy": dict(s["retention"]),
            "template": {
                "metadata": {"labels": labels(name, "multipooler", cn), "annotations": hashed},
                "spec": podspec(
                    name,
                    "multipooler",
                    PG_UID,
                    cn,
                    zone,
                    initContainers=[cert_init(s, objname), pgconf_include(s)],
                    containers=pooler_containers(s, cn, objname),
                    volumes=volumes,
                    terminationGracePeriodSeconds=60,
                ),
            },
            "volumeClaimTemplates": [
                {
                    "metadata": {"name": "pgdata", "labels": labels(name, "multipooler", cn)},
                    "spec": claim_spec(
                        ["ReadWriteOnce"],
                        dig(mp, "storage", "size", default="10Gi"),
                        dig(mp, "storage", "storageClassName", default=""),
                    ),
                }
            ],
        }
    )
    out = {
        f"{cn}-pooler-statefulset": {
            "apiVersion": "apps/v1",
            "kind": "StatefulSet",
            "metadata": meta(objname, name, "multipooler", cn, hashed),
            "spec": sspec,
        },
        f"{cn}-pooler-service": {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": meta(objname, name, "multipooler", cn),
            "spec": {
                "clusterIP": "None",
                "publishNotReadyAddresses": True,
                "selector": sel(name, "multipooler", cn),
                "ports": [
                    svcport("http", 15200),
                    svcport("grpc", 15270),
                    svcport("postgres", 5432),
                    svcport("pgbackrest", 8432),
                ],
            },
        },
        f"{cn}-pooler-pdb": pdb(objname, name, "multipooler", cn, 1),
    }
    if mp_auto.get("enabled", False):
        out[f"{cn}-pooler-hpa"] = hpa(objname, name, "multipooler", cn, "StatefulSet", mp_auto)
    return out


def multiadmin(s):
    name = s["name"]
    objname = f"{name}-multiadmin"
    container = {
        "name": "multiadmin",
        "image": s["mg_image"],
        "imagePullPolicy": s["pull"],
        "command": ["/multigres/bin/multiadmin"],
        "args": [
            "--http-port=18000",
            "--grpc-port=18070",
            f"--topo-global-server-addresses={s['topo']}",
            "--topo-global-root=/multigres/global",
            "--service-map=grpc-multiadmin",
            f"--log-level={s['log_level']}",
        ],
        "env": podenv(),
        "ports": ports(http=18000, grpc=18070),
        "resources": {
            "requests": {"cpu": "100m", "memory": "128Mi"},
            "limits": {"memory": "256Mi"},
        },
        "securityContext": csec(),
        "volumeMounts": list(TMP),
        **probes("http", "/ready", "/live", 300),
    }
    return {
        "multiadmin-deployment": {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": meta(objname, name, "multiadmin"),
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": sel(name, "multiadmin")},
                "strategy": {
                    "type": "RollingUpdate",
                    "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1},
                },
                "template": {
                    "metadata": {"labels": labels(name, "multiadmin")},
                    "spec": podspec(
                        name,
                        "multiadmin",
                        UID,
                        containers=[container],
                        volumes=[tmp_volume()],
                        terminationGracePeriodSeconds=30,
                    ),
                },
            },
        },
        "multiadmin-service": {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": meta(objname, name, "multiadmin"),
            "spec": {
                "type": "ClusterIP",
                "selector": sel(name, "multiadmin"),
                "ports": [svcport("http", 18000), svcport("grpc", 18070)],
            },
        },
    }


def usages(s):
    """etcd outlives every long-running Multigres workload (Crossplane Usages)."""
    name = s["name"]
    etcd = f"{name}-etcd"
    out = {
        "multiadmin-usage": usage(
            f"{name}-admin-uses-etcd", name, etcd, "Deployment", f"{name}-multiadmin"
        )
    }
    for cell in s["cells"]:
        cn = cell["name"]
        for key, short, kind, by in (
            ("pooler", "pooler", "StatefulSet", f"{name}-{cn}-pooler"),
            ("multiorch", "orch", "Deployment", f"{name}-{cn}-multiorch"),
            ("multigateway", "gw", "Deployment", f"{name}-{cn}-multigateway"),
        ):
            out[f"{cn}-{key}-usage"] = usage(f"{name}-{cn}-{short}-uses-etcd", name, etcd, kind, by)
    return out


def network_policies(s):
    name = s["name"]
    instance = {"app.kubernetes.io/instance": name}
    gateway = {**instance, "app.kubernetes.io/component": "multigateway"}

    def policy(suffix, pods, ingress):
        return {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": meta(f"{name}-{suffix}", name, "networkpolicy"),
            "spec": {
                "podSelector": {"matchLabels": pods},
                "policyTypes": ["Ingress"],
                "ingress": ingress,
            },
        }

    return {
        "networkpolicy-internal": policy(
            "internal",
            dict(instance),
            [{"from": [{"podSelector": {"matchLabels": dict(instance)}}]}],
        ),
        "networkpolicy-gateway": policy(
            "gateway", gateway, [{"ports": [{"protocol": "TCP", "port": 5432}]}]
        ),
    }


def objects(xr):
    """Composition resource name -> manifest, for one XMultigres: a loop over its cells."""
    s = settings(xr)
    spec = s["spec"]
    out = {**shared(s), **etcd(s), **topology(s), **gateway_service(s), **multiadmin(s)}
    out.update(pgbackrest_ca(s))
    for cell in s["cells"]:
        for component in STATELESS:
            out.update(stateless(s, cell, component))
        out.update(pooler(s, cell))
    if dig(spec, "networkPolicy", "enabled", default=False):
        out.update(network_policies(s))
    if dig(spec, "usages", "enabled", default=True):
        out.update(usages(s))
    return out


class MultigresComposite(BaseComposite):
    def compose(self):
        xr = {
            "metadata": {
                "name": str(self.metadata.name),
                "namespace": str(self.metadata.namespace),
            },
            "spec": json.loads(format(self.spec, "jsonc")),
        }
        for key, obj in objects(xr).items():
            r = self.resources[key](obj["apiVersion"], obj["kind"])
            for field, value in obj.items():
                if field not in ("apiVersion", "kind"):
                    r.desired[field] = value
            if obj["kind"] in EXIST_READY:
                r.ready = bool(r.observed)
