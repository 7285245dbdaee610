"""Issue 15's data-plane rules, one table row each: pg_hba, pgBackRest TLS, multiadmin,
start-up order, failover timing, readiness that means "can commit", backup volume."""

from __future__ import annotations

from typing import Any

import pytest
from crossplane.function.proto.v1 import run_function_pb2 as fnv1

from function import readiness
from function.api import SpecError
from function.builders import build, pgbackrest, topology
from function.capability import capability
from function.defaults.upstream import PGBACKREST_CERT_FILES
from function.fn import run
from function.resolve import resolve_xr
from tests.helpers import xr
from tests.test_safety import cond, observed_from, req, warnings

Obj = dict[str, Any]


def objs(**spec: Any) -> dict[str, Obj]:
    return build(resolve_xr(xr(**spec)))


def pod(o: Obj) -> Obj:
    spec: Obj = o["spec"]["template"]["spec"]
    return spec


def ctr(o: Obj, name: str) -> Obj:
    return next(
        c for c in pod(o)["containers"] + pod(o).get("initContainers", []) if c["name"] == name
    )


def args(o: Obj, name: str) -> list[str]:
    return list(ctr(o, name).get("args", []))


def mounts(o: Obj, name: str) -> dict[str, Obj]:
    return {m["name"]: m for m in ctr(o, name).get("volumeMounts", [])}


def volumes(o: Obj) -> dict[str, Obj]:
    return {v["name"]: v for v in pod(o)["volumes"]}


STS = "zone1-pooler-statefulset"
CERT = {"apiVersion": "cert-manager.io/v1", "kind": "Certificate"}


def probe_script(o: dict[str, Obj]) -> str:
    return str(ctr(o[STS], "postgres")["readinessProbe"]["exec"]["command"][-1])


HBA_LINES = [
    ("host", "replication", "all", "0.0.0.0/0", "scram-sha-256"),
    ("host", "replication", "all", "::0/0", "scram-sha-256"),
    ("local", "all", "all", "scram-sha-256"),
]


def hba(o: dict[str, Obj]) -> list[tuple[str, ...]]:
    text = next(iter(o["pg-hba-configmap"]["data"].values()))
    return [tuple(line.split()) for line in text.splitlines() if line and not line.startswith("#")]


CASES: list[tuple[str, dict[str, Any], Any]] = [
    # a) pg_hba
    ("pg_hba: standbys replicate over the pod network with scram", {},
     lambda o: all(line in hba(o) for line in HBA_LINES)),
    ("pg_hba: no trust, no other method, no Go template braces", {},
     lambda o: {r[-1] for r in hba(o)} == {"scram-sha-256"}
     and "{{" not in str(o["pg-hba-configmap"]["data"])),
    ("pg_hba: pgctld gets --pg-hba-template at the mounted key", {},
     lambda o: "--pg-hba-template=/etc/pgctld/pg_hba_template.conf" in args(o[STS], "postgres")
     and mounts(o[STS], "postgres")["pg-hba"] == {"name": "pg-hba", "mountPath": "/etc/pgctld", "readOnly": True}
     and volumes(o[STS])["pg-hba"]["configMap"]["name"] == o["pg-hba-configmap"]["metadata"]["name"]
     and "pg_hba_template.conf" in o["pg-hba-configmap"]["data"]),
    # b) three instances by default
    ("three Postgres instances per cell by default", {},
     lambda o: o[STS]["spec"]["replicas"] == 3),
    # c) pgBackRest TLS
    ("pgctld runs the pgBackRest TLS server from the cert dir", {},
     lambda o: {"--pgbackrest-port=8432", "--pgbackrest-cert-dir=/certs/pgbackrest"}
     <= set(args(o[STS], "postgres"))),
    ("multipooler's client files are the ones pgctld reads, on the same port", {},
     lambda o: {f"--pgbackrest-{r}-file=/certs/pgbackrest/{PGBACKREST_CERT_FILES[k]}"
                for r, k in (("cert", "cert"), ("key", "key"), ("ca", "ca"))}
     | {"--pgbackrest-port=8432"} <= set(args(o[STS], "multipooler"))),
    ("both containers read the per-pod certs read-only; only the init container writes them", {},
     lambda o: mounts(o[STS], "postgres")["pgbackrest-certs"].get("readOnly") is True
     and mounts(o[STS], "multipooler")["pgbackrest-certs"].get("readOnly") is True
     and "readOnly" not in mounts(o[STS], "pgbackrest-cert")["pgbackrest-certs"]),
    ("the CA key is mounted only into the cert init container", {},
     lambda o: "pgbackrest-ca" in mounts(o[STS], "pgbackrest-cert")
     and all("pgbackrest-ca" not in mounts(o[STS], c) for c in ("postgres", "multipooler"))),
    ("pooler pods mount the Secret the Job creates", {},
     lambda o: volumes(o[STS])["pgbackrest-ca"]["secret"]["secretName"]
     == next(e["value"] for e in ctr(o["pgbackrest-ca-job"], "generate-ca")["env"]
             if e["name"] == "SECRET_NAME")
     and "optional" not in volumes(o[STS])["pgbackrest-ca"]["secret"]),
    ("the Job runs as its own ServiceAccount with a token; the rest mount none", {},
     lambda o: pod(o["pgbackrest-ca-job"])["serviceAccountName"] == "demo-pgbackrest-ca"
     and pod(o["pgbackrest-ca-job"])["automountServiceAccountToken"] is True
     and all(pod(x)["automountServiceAccountToken"] is False for k, x in o.items()
             if x["kind"] in ("Deployment", "StatefulSet") or k.startswith("topology-job-"))),
    ("the Role reads only the CA Secret and may create Secrets; the binding grants it", {},
     lambda o: o["pgbackrest-ca-role"]["rules"] == [
         {"apiGroups": [""], "resources": ["secrets"], "resourceNames": ["demo-pgbackrest-ca"], "verbs": ["get"]},
         {"apiGroups": [""], "resources": ["secrets"], "verbs": ["create"]}]
     and o["pgbackrest-ca-rolebinding"]["roleRef"]["name"] == o["pgbackrest-ca-role"]["metadata"]["name"]
     and o["pgbackrest-ca-rolebinding"]["subjects"] == [{"kind": "ServiceAccount", "name": "demo-pgbackrest-ca"}]),
    ("the Job uses the image that has openssl and creates only (never PUT/PATCH)", {},
     lambda o: ctr(o["pgbackrest-ca-job"], "generate-ca")["image"].startswith("ghcr.io/multigres/pgctld")
     and "req POST" in pgbackrest.CA_JOB_SCRIPT and "PUT" not in pgbackrest.CA_JOB_SCRIPT
     and "PATCH" not in pgbackrest.CA_JOB_SCRIPT and "200) echo" in pgbackrest.CA_JOB_SCRIPT),
    ("the per-pod certificate names the pod IP, its DNS name and CN pgbackrest", {},
     lambda o: "IP:%s,DNS:%s" in pgbackrest.POD_CERT_SCRIPT
     and {"CLIENT_CN": "pgbackrest", "SUBDOMAIN": "demo-zone1-pooler"}.items()
     <= {e["name"]: e.get("value") for e in ctr(o[STS], "pgbackrest-cert")["env"]}.items()),
    ("cert-manager: an issuer makes a CA Certificate instead of the Job", {
        "backup": {"pgbackrestTLS": {"issuerRef": {"name": "selfsigned", "kind": "ClusterIssuer"}}}},
     lambda o: "pgbackrest-ca-job" not in o and "pgbackrest-ca-role" not in o
     and o["pgbackrest-ca-certificate"]["spec"]["isCA"] is True
     and o["pgbackrest-ca-certificate"]["spec"]["issuerRef"]["kind"] == "ClusterIssuer"
     and volumes(o[STS])["pgbackrest-ca"]["secret"]["secretName"]
     == o["pgbackrest-ca-certificate"]["spec"]["secretName"] == "demo-pgbackrest-ca-cm"),
    # d) multiadmin
    ("multiadmin: flags from the pinned source", {},
     lambda o: args(o["multiadmin-deployment"], "multiadmin") == [
         "--http-port=18000", "--grpc-port=18070",
         "--topo-global-server-addresses=demo-etcd.default.svc:2379",
         "--topo-global-root=/multigres/global", "--service-map=grpc-multiadmin",
         "--log-level=info"]),
    ("multiadmin: a Service on its http and grpc ports", {},
     lambda o: [(p["name"], p["port"]) for p in o["multiadmin-service"]["spec"]["ports"]]
     == [("http", 18000), ("grpc", 18070)]),
    # e) start-up order
    ("multigateway and the topology Job wait for etcd; multiorch does not need to", {},
     lambda o: [c["name"] for c in pod(o["zone1-multigateway-deployment"])["initContainers"]] == ["wait-for-etcd"]
     and [c["name"] for c in pod(o[topology.key(o)])["initContainers"]] == ["wait-for-etcd"]
     and "initContainers" not in pod(o["zone1-multiorch-deployment"])),
    ("wait-for-etcd dials the etcd client Service", {},
     lambda o: {e["name"]: e["value"] for e in ctr(o["zone1-multigateway-deployment"], "wait-for-etcd")["env"]}
     == {"ETCD_HOST": "demo-etcd.default.svc", "ETCD_PORT": "2379"}),
    # g) failover timing
    ("multiorch timing flags, defaults (one orchestrator: no jitter)", {},
     lambda o: {"--leader-failover-grace-period-base=2s",
                "--leader-failover-grace-period-max-jitter=0s",
                "--pooler-health-check-interval=2s", "--recovery-cycle-interval=1s"}
     <= set(args(o["zone1-multiorch-deployment"], "multiorch"))),
    ("multiorch jitter: several cells' orchestrators race, so 4s",
     {"cells": [{"name": "zone1"}, {"name": "zone2"}]},
     lambda o: all("--leader-failover-grace-period-max-jitter=4s"
                   in args(o[f"{c}-multiorch-deployment"], "multiorch") for c in ("zone1", "zone2"))),
    ("multiorch jitter: two replicas in one cell race too", {"multiorch": {"replicas": 2}},
     lambda o: "--leader-failover-grace-period-max-jitter=4s"
     in args(o["zone1-multiorch-deployment"], "multiorch")),
    ("multiorch jitter: autoscaling may add orchestrators",
     {"multiorch": {"autoscaling": {"enabled": True, "minReplicas": 1, "maxReplicas": 2}}},
     lambda o: "--leader-failover-grace-period-max-jitter=4s"
     in args(o["zone1-multiorch-deployment"], "multiorch")),
    ("multiorch jitter: the user's value wins, even alone",
     {"multiorch": {"timing": {"gracePeriodMaxJitter": "3s"}}},
     lambda o: "--leader-failover-grace-period-max-jitter=3s"
     in args(o["zone1-multiorch-deployment"], "multiorch")),
    ("multiorch timing flags, from the spec", {
        "multiorch": {"timing": {"gracePeriodBase": "500ms", "gracePeriodMaxJitter": "1m30s"}}},
     lambda o: {"--leader-failover-grace-period-base=500ms",
                "--leader-failover-grace-period-max-jitter=1m30s"}
     <= set(args(o["zone1-multiorch-deployment"], "multiorch"))),
    # h) readiness means the instance can take part in a commit
    ("Postgres readiness: a primary a standby streams from, or a standby that streams", {},
     lambda o: "pg_is_in_recovery()" in probe_script(o)
     and "pg_stat_wal_receiver WHERE status = 'streaming'" in probe_script(o)
     and "pg_stat_replication WHERE state = 'streaming'" in probe_script(o)
     and "$POSTGRES_PASSWORD_FILE" in probe_script(o)),
    # f) backup volume
    ("the backup volume is ReadWriteMany by default", {},
     lambda o: o["backup-pvc"]["spec"]["accessModes"] == ["ReadWriteMany"]),
]  # fmt: skip


@pytest.mark.parametrize(
    ("spec", "check"), [(s, c) for _, s, c in CASES], ids=[n for n, _, _ in CASES]
)
def test_rule(spec: dict[str, Any], check: Any) -> None:
    assert check(objs(**spec))


FAILOVER: list[tuple[dict[str, Any], str]] = [
    ({}, "True"),
    ({"multipooler": {"replicasPerCell": 2}}, "False"),
    ({"multipooler": {"replicasPerCell": 1}, "cells": [{"name": "a"}, {"name": "b"}, {"name": "c"}]}, "True"),
    ({"multipooler": {"replicasPerCell": 1}, "cells": [{"name": "a"}, {"name": "b"}],
      "postgres": {"passwordSecretRef": {"name": "p"}, "durabilityPolicy": "MULTI_CELL_AT_LEAST_2"}}, "False"),
    ({"multipooler": {"replicasPerCell": 2}, "cells": [{"name": "a"}, {"name": "b"}],
      "postgres": {"passwordSecretRef": {"name": "p"}, "durabilityPolicy": "MULTI_CELL_AT_LEAST_2"}}, "True"),
    ({"multipooler": {"autoscaling": {"enabled": True, "minReplicas": 2}}}, "False"),
]  # fmt: skip


@pytest.mark.parametrize(("spec", "want"), FAILOVER, ids=[str(s) for s, _ in FAILOVER])
def test_failover_capable(spec: dict[str, Any], want: str) -> None:
    conds, warns = capability(resolve_xr(xr(**spec)), {})
    c = next(c for c in conds if c.typ == "FailoverCapable")
    assert c.status == want, c.message
    assert bool(warns) == (want == "False")


def test_two_instances_warn_on_the_xr() -> None:
    rsp = run(req(xr(multipooler={"replicasPerCell": 2})))
    c = cond(rsp, "FailoverCapable")
    assert c.status == fnv1.STATUS_CONDITION_FALSE and c.reason == "TooFewInstances"
    assert any("cannot fail over" in m for m in warnings(rsp))
    assert not any("cannot fail over" in m for m in warnings(run(req(xr()))))


BACKUP: list[tuple[dict[str, Any], str | None, str, str]] = [
    ({}, "Bound", "True", "ReadWriteMany"),
    ({}, "Pending", "False", "ClaimNotBound"),
    ({}, None, "Unknown", "NotObserved"),
    ({"backup": {"storage": {"accessModes": ["ReadWriteOnce"]}}}, "Bound", "False", "NotReadWriteMany"),
    ({"backup": {"existingClaim": "mine"}}, None, "Unknown", "ExistingClaim"),
]  # fmt: skip


@pytest.mark.parametrize(("spec", "phase", "status", "reason"), BACKUP)
def test_backup_volume_condition(
    spec: dict[str, Any], phase: str | None, status: str, reason: str
) -> None:
    c = resolve_xr(xr(**spec))
    observed = observed_from(xr(**spec))
    if phase is None:
        observed.pop("backup-pvc", None)
    else:
        observed["backup-pvc"]["status"] = {"phase": phase}
    got = next(x for x in capability(c, observed)[0] if x.typ == "BackupVolumeShared")
    assert (got.status, got.reason) == (status, reason), got.message


@pytest.mark.parametrize("bad", ["2", "2 s", "-1s", "1h", "soon"])
def test_timing_must_be_a_duration(bad: str) -> None:
    with pytest.raises(SpecError) as e:
        resolve_xr(xr(multiorch={"timing": {"gracePeriodBase": bad}}))
    assert e.value.field == "spec.multiorch.timing.gracePeriodBase"


def test_certificate_readiness() -> None:
    ok = {"status": {"conditions": [{"type": "Ready", "status": "True"}]}}
    pending = {
        "status": {"conditions": [{"type": "Ready", "status": "False", "reason": "Issuing"}]}
    }
    assert readiness.verdict(CERT, ok) == (True, "")
    assert readiness.verdict(CERT, pending)[0] is False
    assert "Issuing" in readiness.verdict(CERT, pending)[1]
