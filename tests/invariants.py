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


def check_probes_and_resources(objs: dict[str, Obj]) -> None:
    for key, o in objs.items():
        if o["kind"] not in ("Deployment", "StatefulSet"):
            continue
        for c in o["spec"]["template"]["spec"]["containers"]:
            for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
                assert probe in c, f"{key}/{c['name']} lacks {probe}"
            assert c["resources"].get("requests"), f"{key}/{c['name']} has no requests"


def check_topology_addresses(objs: dict[str, Obj], namespace: str) -> None:
    etcd_svcs = [
        o
        for o in objs.values()
        if o["kind"] == "Service"
        and o["metadata"]["labels"]["app.kubernetes.io/component"] == "etcd"
        and o["spec"].get("clusterIP") != "None"
    ]
    assert len(etcd_svcs) == 1
    svc = etcd_svcs[0]
    expected = f"{svc['metadata']['name']}.{namespace}.svc:{svc['spec']['ports'][0]['port']}"
    seen = 0
    for key, t in pod_templates(objs):
        for c in t["spec"]["containers"]:
            for arg in c.get("args", []):
                if arg.startswith(("--topo-global-server-addresses=", "--global-topo-address=")):
                    assert arg.split("=", 1)[1] == expected, f"{key}: {arg}"
                    seen += 1
    assert seen >= 3


def check_all(objs: dict[str, Obj], namespace: str) -> None:
    check_services_select_workloads(objs)
    check_selectors(objs)
    check_names(objs)
    check_pod_security_restricted(objs)
    check_probes_and_resources(objs)
    check_topology_addresses(objs, namespace)
