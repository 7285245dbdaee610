"""Checks every composed object set must pass, used by several test modules."""

from __future__ import annotations

from typing import Any

from function.builders.common import LIMIT_DNS_LABEL, LIMIT_STATEFULSET

Obj = dict[str, Any]
IMMUTABLE_LABELS = {
    "app.kubernetes.io/name",
    "app.kubernetes.io/instance",
    "app.kubernetes.io/component",
    "multigres.com/cell",
}
WORKLOADS = ("Deployment", "StatefulSet", "Job")


def pod_templates(objs: dict[str, Obj]) -> list[tuple[str, Obj]]:
    return [(k, o["spec"]["template"]) for k, o in objs.items() if o["kind"] in WORKLOADS]


def check_services_select_workloads(objs: dict[str, Obj]) -> None:
    templates = pod_templates(objs)
    for key, svc in objs.items():
        if svc["kind"] != "Service":
            continue
        sel = svc["spec"]["selector"]
        matches = [t for _, t in templates if sel.items() <= t["metadata"]["labels"].items()]
        assert matches, f"{key}: selector {sel} matches no composed pod template"
        for port in svc["spec"]["ports"]:
            target = port["targetPort"]
            for t in matches:
                names = {
                    p["name"]: p["containerPort"]
                    for c in t["spec"]["containers"]
                    for p in c.get("ports", [])
                }
                assert target in names, f"{key}: targetPort {target} not a named port in {names}"


def check_selectors(objs: dict[str, Obj]) -> None:
    for key, o in objs.items():
        if o["kind"] in ("Deployment", "StatefulSet"):
            sel = o["spec"]["selector"]["matchLabels"]
            assert set(sel) <= IMMUTABLE_LABELS, f"{key}: mutable label in selector {sel}"
            assert sel.items() <= o["spec"]["template"]["metadata"]["labels"].items(), key
        if o["kind"] == "PodDisruptionBudget":
            sel = o["spec"]["selector"]["matchLabels"]
            assert set(sel) <= IMMUTABLE_LABELS, key
            assert any(
                sel.items() <= t["metadata"]["labels"].items() for _, t in pod_templates(objs)
            ), f"{key}: PDB selects no composed pods"
        if o["kind"] == "HorizontalPodAutoscaler":
            ref = o["spec"]["scaleTargetRef"]
            targets = [
                x
                for x in objs.values()
                if x["kind"] == ref["kind"] and x["metadata"]["name"] == ref["name"]
            ]
            assert targets, f"{key}: HPA target {ref} is not composed"
            assert "replicas" not in targets[0]["spec"], f"{key}: HPA target sets spec.replicas"


def check_names(objs: dict[str, Obj]) -> None:
    import re

    dns1035 = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
    for key, o in objs.items():
        name = o["metadata"]["name"]
        assert len(name) <= LIMIT_DNS_LABEL, f"{key}: {name} longer than 63"
        assert dns1035.match(name), f"{key}: {name} is not a DNS-1035 label"
        if o["kind"] == "StatefulSet":
            assert len(name) <= LIMIT_STATEFULSET, f"{key}: StatefulSet {name} longer than 52"
            assert len(f"{name}-999") <= LIMIT_DNS_LABEL
        for v in o["metadata"].get("labels", {}).values():
            assert len(v) <= 63, f"{key}: label value {v} too long"
    names = [(o["kind"], o["metadata"]["name"]) for o in objs.values()]
    assert len(names) == len(set(names)), "two objects share a kind and name"


def check_pod_security_restricted(objs: dict[str, Obj]) -> None:
    """The Pod Security Standard *restricted* profile, rule by rule."""
    for key, t in pod_templates(objs):
        spec = t["spec"]
        psc = spec.get("securityContext", {})
        assert not spec.get("hostNetwork") and not spec.get("hostPID") and not spec.get("hostIPC")
        for v in spec.get("volumes", []):
            allowed = {
                "configMap",
                "emptyDir",
                "persistentVolumeClaim",
                "secret",
                "projected",
                "downwardAPI",
            }
            assert set(v) - {"name"} <= allowed, f"{key}: volume type {v}"
        for c in spec["containers"] + spec.get("initContainers", []):
            sc = c.get("securityContext", {})
            where = f"{key}/{c['name']}"
            assert sc.get("allowPrivilegeEscalation") is False, where
            assert sc.get("capabilities", {}).get("drop") == ["ALL"], where
            assert not sc.get("capabilities", {}).get("add"), where
            non_root = sc.get("runAsNonRoot", psc.get("runAsNonRoot"))
            assert non_root is True, where
            assert sc.get("runAsUser", psc.get("runAsUser", 1)) != 0, where
            seccomp = sc.get("seccompProfile", psc.get("seccompProfile", {})).get("type")
            assert seccomp in ("RuntimeDefault", "Localhost"), where
            assert not sc.get("privileged"), where
            for p in c.get("ports", []):
                assert "hostPort" not in p, where


#: Helpers that serve nothing: a readiness probe could only take their pod out of
#: readiness (seen on the e2e node at load 37: the reload sidecar's exec probe timed out
#: and the pooler pod went NotReady). They keep startup and liveness probes.
NOT_SERVING = {"postgres-config-reload", "backup-stanza-guard"}


def check_probes_and_resources(objs: dict[str, Obj]) -> None:
    for key, o in objs.items():
        if o["kind"] not in ("Deployment", "StatefulSet"):
            continue
        for c in o["spec"]["template"]["spec"]["containers"]:
            for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
                if probe == "readinessProbe" and c["name"] in NOT_SERVING:
                    assert probe not in c, f"{key}/{c['name']} serves nothing: no {probe}"
                    continue
                assert probe in c, f"{key}/{c['name']} lacks {probe}"
            assert c["resources"].get("requests"), f"{key}/{c['name']} has no requests"


TOPO_ROOT = "/multigres/global"
SERVERS = ("multigateway", "multiorch", "multipooler")


def _flags(container: Obj) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for arg in container.get("args", []):
        flag, _, value = arg.partition("=")
        out.setdefault(flag, []).append(value)
    return out


def check_process_wiring(objs: dict[str, Obj], namespace: str) -> None:
    """Every Multigres process, one by one: its topology address, root and cell.

    Written from design §3 ("every Multigres process gets ...") and docs/architecture.md
    (every process registers its pod IP as --hostname), not from the flag table, so a
    flag dropped or renamed in one builder, or a typo in the table, fails here.
    """
    etcd_svcs = [
        o
        for o in objs.values()
        if o["kind"] == "Service"
        and o["metadata"]["labels"]["app.kubernetes.io/component"] == "etcd"
        and o["spec"].get("clusterIP") != "None"
    ]
    assert len(etcd_svcs) == 1
    svc = etcd_svcs[0]
    address = f"{svc['metadata']['name']}.{namespace}.svc:{svc['spec']['ports'][0]['port']}"
    headless = {
        o["metadata"]["name"]
        for o in objs.values()
        if o["kind"] == "Service" and o["spec"].get("clusterIP") == "None"
    }
    servers: dict[str, set[str]] = {}
    registrations = 0
    for key, o in objs.items():
        if o["kind"] not in WORKLOADS:
            continue
        t = o["spec"]["template"]
        cell = t["metadata"]["labels"]["multigres.com/cell"]
        for c in t["spec"]["containers"]:
            binary = c["command"][0].rsplit("/", 1)[-1] if c.get("command") else ""
            where = f"{key}/{c['name']}"
            f = _flags(c)
            assert all(len(v) == 1 for v in f.values()), f"{where}: a flag repeats: {f}"
            if binary == "multigres":
                assert c["args"][0] == "createclustermetadata", where
                assert f.get("--global-topo-address") == [address], f"{where}: {f}"
                assert f.get("--global-topo-root") == [TOPO_ROOT], f"{where}: {f}"
                registrations += 1
                continue
            if binary not in SERVERS:
                continue
            assert f.get("--topo-global-server-addresses") == [address], f"{where}: {f}"
            assert f.get("--topo-global-root") == [TOPO_ROOT], f"{where}: {f}"
            assert f.get("--cell") == [cell], f"{where}: --cell {f.get('--cell')} in cell {cell}"
            assert f.get("--service-id") == ["$(POD_NAME)"], f"{where}: {f}"
            assert f.get("--hostname") == ["$(POD_IP)"], f"{where}: {f.get('--hostname')}"
            servers.setdefault(cell, set()).add(binary)
            if binary == "multipooler":
                assert f.get("--database") == ["postgres"], where
                assert f.get("--table-group") == ["default"], where
                assert f.get("--shard") == ["0-inf"], where
                svc_name = o["spec"]["serviceName"]
                assert svc_name in headless, f"{where}: serviceName {svc_name} not headless"
            if binary == "multiorch":
                assert f.get("--watch-targets") == ["postgres/default/0-inf"], where
    assert registrations == 1, "exactly one topology registration Job"
    assert servers, "no Multigres server composed"
    for cell, seen in servers.items():
        assert seen == set(SERVERS), f"cell {cell} runs {sorted(seen)}"


def check_all(objs: dict[str, Obj], namespace: str) -> None:
    check_services_select_workloads(objs)
    check_selectors(objs)
    check_names(objs)
    check_pod_security_restricted(objs)
    check_probes_and_resources(objs)
    check_process_wiring(objs, namespace)
