"""The cluster works through real Crossplane: install, apply, edit, revert, delete.

Crossplane v2.2.1 from its chart with the default Deployment package runtime; our
packages pushed to the registry beside the node and installed by the README's own block
(tests/e2e/crossplane.py). Then `kubectl apply` of examples/minimal.yaml and its Secret:
composed objects, XR Ready, SQL through the gateway; a spec edit rolls out; a composed
object edited by hand is reverted; `kubectl delete` in background and in foreground,
each with the order pods went away and what is left. Scenarios run in file order on one
XR. Figures go to tests/e2e/results/latest.json, with the watch events the XR cost
Crossplane's circuit breaker and which objects they came from.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from hack.e2e.cluster.poll import Timeout, poll
from hack.e2e.cluster.run import ClusterError
from tests.e2e import observed
from tests.e2e.crossplane import (
    CONFIGURATION,
    E2E_REGISTRY,
    FUNCTION,
    NS,
    Crossplane,
    tokens_needed,
)
from tests.e2e.kube import Kube
from tests.e2e.multigres import Demo
from tests.e2e.render import ROOT
from tests.e2e.watch import Recorder
from tests.e2e.xr import SECRET, clear

MINIMAL = ROOT / "examples" / "minimal.yaml"
XR, XR_NS = "demo", "default"
#: The long-running Multigres components, in the order foreground deletion must end them
#: before etcd (docs/operations.md#deleting-and-data-retention).
WORKLOADS = ("multipooler", "multiorch", "multigateway", "multiadmin")
COMPOSED_KINDS = [
    "statefulsets", "deployments", "jobs", "services", "poddisruptionbudgets",
    "serviceaccounts", "configmaps", "persistentvolumeclaims", "roles", "rolebindings",
    "usages.protection.crossplane.io",
]  # fmt: skip
COMPOSITE = f"crossplane.io/composite={XR}"
#: The snapshot the demo fixture takes while the XR comes up (tests/e2e/observed.py).
COMING_UP: list[dict[str, Any]] = []
DEFAULT_BURST = 100.0  # Crossplane v2.2.1 --circuit-breaker-burst default
DATA_PVCS = [f"pgdata-{XR}-zone1-pooler-{i}" for i in range(3)] + [
    f"data-{XR}-etcd-{i}" for i in range(3)
]


# --- fixtures ----------------------------------------------------------------------------


def xr(kube: Kube, name: str = XR) -> dict[str, Any] | None:
    return kube.maybe("xmultigres", name, XR_NS)


def conditions(obj: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    return {c["type"]: c for c in (obj or {}).get("status", {}).get("conditions", [])}


def xr_ready(kube: Kube) -> bool:
    return conditions(xr(kube)).get("Ready", {}).get("status") == "True"


def describe_xr(kube: Kube, demo: Demo) -> str:
    """The XR's conditions (ComponentsReady names what is not ready) first, then its pods."""
    obj = xr(kube, demo.name)
    conds = [
        f"  {c['type']}={c['status']} {c.get('reason', '')}: {c.get('message', '')}"
        for c in conditions(obj).values()
    ]
    return "\n".join(
        [
            f"=== XMultigres {XR_NS}/{demo.name}: phase {(obj or {}).get('status', {}).get('phase')}",
            *conds,
            f"  status.message: {(obj or {}).get('status', {}).get('message')}",
            demo.kube.describe_failure(XR_NS, demo.selector()),
        ]
    )


class Breaker:
    """Crossplane's breaker counters while the XR is being created, and whether it opened."""

    def __init__(self, cp: Crossplane) -> None:
        self.cp = cp
        self.t0 = time.monotonic()
        self.events0 = cp.breaker_events()
        self.opens0 = cp.breaker_opens()
        self.series: list[tuple[float, float]] = []
        self.responsive_false: list[str] = []

    def sample(self, kube: Kube) -> None:
        self.series.append((time.monotonic() - self.t0, self.cp.breaker_events() - self.events0))
        r = conditions(xr(kube)).get("Responsive")
        if r and r.get("status") == "False":
            self.responsive_false.append(f"{r.get('reason')}: {r.get('message')}")

    @property
    def opened(self) -> bool:
        return self.cp.breaker_opens() > self.opens0 or bool(self.responsive_false)


def apply_xr(kube: Kube) -> None:
    kube.kubectl("apply", "-f", str(SECRET), "-f", str(MINIMAL))


def wait_xr_ready(
    kube: Kube,
    demo: Demo,
    cp: Crossplane,
    breaker: Breaker | None,
    timeout: float,
    observe: Callable[[], None] | None = None,
) -> float:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if breaker is not None:
            breaker.sample(kube)
        if observe is not None:
            observe()
        if xr_ready(kube):
            return time.monotonic() - t0
        time.sleep(1)
    raise AssertionError(
        f"timed out after {timeout:.0f}s waiting for XMultigres {XR} Ready=True\n"
        f"{describe_xr(kube, demo)}\n{cp.describe()}"
    )


@pytest.fixture(scope="module")
def demo(kube: Kube, crossplane: Crossplane, results: dict[str, Any]) -> Iterator[Demo]:
    d = Demo(kube, MINIMAL, name=XR, ns=XR_NS)
    # What test_cluster.py or an earlier run may have left under the same names:
    # Crossplane must create everything itself.
    clear(kube, d)
    breaker = Breaker(crossplane)

    def coming_up() -> None:
        """Snapshot once, when the function first says Progressing with etcd ready."""
        st = (xr(kube) or {}).get("status") or {}
        if not COMING_UP and st.get("phase") == "Progressing" and st.get("etcd", {}).get("ready"):
            COMING_UP.extend(observed.snapshot(kube, XR_NS, COMPOSED_KINDS, COMPOSITE))

    with Recorder(kube, XR_NS, COMPOSED_KINDS, COMPOSITE) as rec:
        start = time.time()
        apply_xr(kube)
        ready = wait_xr_ready(kube, d, crossplane, breaker, timeout=900, observe=coming_up)
        churn = rec.churn(since=start)
    results["apply_to_ready_s"] = round(ready, 1)
    needed = tokens_needed(breaker.series)
    results["circuit_breaker_events_to_ready"] = breaker.series[-1][1] if breaker.series else 0
    results["circuit_breaker_tokens_needed"] = round(needed, 1)
    results["circuit_breaker_default_burst_would_open"] = needed > DEFAULT_BURST
    results["circuit_breaker_opened_to_ready"] = breaker.opened
    results["composed_watch_updates_to_ready"] = churn["updates"]
    results["composed_watch_updates_by_kind"] = _by_kind(churn["by_object"])
    d.client()
    yield d
    # Over every scenario (edits, reverts, deletes, the re-created XR), not only creation.
    results["circuit_breaker_opened"] = breaker.opened
    # Leave the namespace as the next module would find it: no PVCs or CA Secret of ours.
    clear(kube, d)


def _by_kind(by_object: dict[str, int]) -> dict[str, int]:
    out: dict[str, int] = {}
    for key, n in by_object.items():
        kind = key.split("/")[0]
        out[kind] = out.get(kind, 0) + n
    return dict(sorted(out.items(), key=lambda kv: -kv[1]))


# --- install -----------------------------------------------------------------------------


def test_function_runs_as_a_deployment_with_its_own_mtls(
    kube: Kube, crossplane: Crossplane, results: dict[str, Any]
) -> None:
    # Only the Configuration was installed: Crossplane resolved its dependency to the
    # Function the Composition calls.
    assert crossplane.healthy("configuration.pkg.crossplane.io", CONFIGURATION)
    assert crossplane.healthy("function.pkg.crossplane.io", FUNCTION)
    fn = kube.get("function.pkg.crossplane.io", FUNCTION)
    assert fn["spec"]["package"] == "xpkg.crossplane.io/function-multigres:v0.1.0"

    def revisions() -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = kube.get("functionrevisions.pkg.crossplane.io")["items"]
        return items

    def one_active_healthy() -> bool:
        active = [r for r in revisions() if r["spec"].get("desiredState") == "Active"]
        conds = {c["type"]: c["status"] for c in (active[0].get("status") or {}).get(
            "conditions", [])} if len(active) == 1 else {}  # fmt: skip
        return conds.get("RuntimeHealthy") == "True"

    # Once seen with none Active just after the Function went Healthy (load 30):
    # the wait is bounded and timed, and its failure lists every revision's state.
    try:
        results["function_revision_active_s"] = round(
            kube.wait_for(
                "exactly one Active FunctionRevision, RuntimeHealthy", one_active_healthy, 120
            ),
            1,
        )
    except AssertionError as e:
        state = [
            (r["metadata"]["name"], r["spec"].get("desiredState"),
             {c["type"]: c["status"] for c in (r.get("status") or {}).get("conditions", [])})
            for r in revisions()
        ]  # fmt: skip
        raise AssertionError(f"{e}\nrevisions: {state}\n{crossplane.describe()}") from None
    dep = crossplane.function_deployment()
    pod = dep["spec"]["template"]["spec"]
    container = pod["containers"][0]
    # The Deployment runtime pulls the package's embedded runtime image from where the
    # ImageConfig points (containerd, through its hosts.toml, over plain HTTP).
    assert container["image"] == f"{E2E_REGISTRY}/function-multigres:v0.1.0", container["image"]
    env = {e["name"]: e.get("value") for e in container.get("env", [])}
    assert env.get("TLS_SERVER_CERTS_DIR") == "/tls/server", env
    secrets = [v["secret"]["secretName"] for v in pod.get("volumes", []) if "secret" in v]
    assert secrets, pod.get("volumes")
    tls = kube.get("secret", secrets[0], ns=NS)
    assert {"tls.crt", "tls.key", "ca.crt"} <= set(tls.get("data", {})), sorted(tls.get("data", {}))
    logs = [""]

    def serving() -> list[dict[str, Any]]:
        # kubectl picks one pod of the Deployment; once (int12, load 7) it had printed
        # nothing yet, so the line is waited for (bounded), and its content asserted.
        # The whole log: the line is the first, and test_cluster.py's XR, composed by
        # this same function, has put hundreds of RunFunction lines after it (a CI run
        # with a bootstrap retry in that file: more than 200, and `--tail=200` missed it).
        logs[0] = kube.kubectl("logs", "-n", NS, f"deploy/{dep['metadata']['name']}", check=False)
        return [json.loads(line) for line in logs[0].splitlines() if '"serving"' in line]

    try:
        kube.wait_for("the function's serving log line", lambda: bool(serving()), 60, NS)
    except AssertionError as e:
        raise AssertionError(f"{e}\n{crossplane.describe()}") from None
    assert serving()[-1].get("tls") is True, logs[0][-2000:]


# --- the XR ------------------------------------------------------------------------------


def test_composed_objects_are_crossplanes(kube: Kube, demo: Demo) -> None:
    obj = xr(kube)
    assert obj is not None
    uid = obj["metadata"]["uid"]
    refs = obj["spec"]["crossplane"]["resourceRefs"]
    assert len(refs) >= 20, refs
    for ref in refs:
        group = ref["apiVersion"].rpartition("/")[0]
        o = kube.get(ref["kind"].lower() + (f".{group}" if group else ""), ref["name"], ns=XR_NS)
        owners = [r for r in o["metadata"].get("ownerReferences", []) if r.get("controller")]
        assert owners and owners[0]["uid"] == uid, (ref, owners)
        assert o["metadata"]["labels"].get("crossplane.io/composite") == XR, ref
    usages = [r for r in refs if r["kind"] == "Usage"]
    assert len(usages) == 4, usages
    for u in usages:
        u_obj = kube.get("usages.protection.crossplane.io", u["name"], ns=XR_NS)
        assert conditions(u_obj).get("Ready", {}).get("status") == "True", u_obj.get("status")
    etcd = kube.get("statefulset", f"{XR}-etcd", ns=XR_NS)
    assert etcd["metadata"]["labels"].get("crossplane.io/in-use") == "true"
    conds = conditions(obj)
    for typ in ("Synced", "Ready", "ComponentsReady", "TopologyRegistered", "PasswordSecretReady"):
        assert conds.get(typ, {}).get("status") == "True", (typ, conds.get(typ))
    assert obj["status"]["phase"] == "Healthy"


def test_recorded_observed_state_is_judged_as_crossplane_saw_it(
    kube: Kube, demo: Demo, results: dict[str, Any]
) -> None:
    """The real controllers' status, recorded, gets the answer Crossplane got: the
    function's readiness rules checked against real objects, not modelled ones."""
    healthy = observed.snapshot(kube, XR_NS, COMPOSED_KINDS, COMPOSITE)
    observed.write("healthy", healthy, "healthy")
    assert COMING_UP, "no snapshot: the XR never said Progressing with etcd ready"
    observed.write("coming-up", COMING_UP, "coming up (etcd ready, the rest not yet)")
    got = observed.judge(healthy)
    assert got.get("phase") == "Healthy", got.get("message")
    coming = observed.judge(COMING_UP)
    assert coming.get("phase") == "Progressing", coming.get("message")
    assert coming["etcd"]["ready"], coming["etcd"]
    results["observed_recorded"] = {"healthy": len(healthy), "coming_up": len(COMING_UP)}
    results["observed_coming_up_message"] = coming.get("message")


def test_sql_through_the_gateway(demo: Demo, results: dict[str, Any]) -> None:
    t0 = time.monotonic()

    def writes() -> bool:
        demo.sql("create table if not exists xp_kept (k text primary key, v int)")
        demo.sql("insert into xp_kept values ('before-delete', 1) on conflict (k) do nothing")
        return demo.sql("select v from xp_kept where k = 'before-delete'") == "1\n"

    demo.kube.wait_for("a committed write through the gateway", writes, 180, XR_NS, demo.selector())
    results["ready_to_first_write_s"] = round(time.monotonic() - t0, 1)


def test_spec_edit_rolls_out(kube: Kube, demo: Demo, results: dict[str, Any]) -> None:
    name = f"{XR}-zone1-multigateway"
    t0 = time.monotonic()
    kube.kubectl(
        "patch", "xmultigres", XR, "-n", XR_NS, "--type=merge",
        "-p", json.dumps({"spec": {"multigateway": {"replicas": 3}}}),
    )  # fmt: skip

    def rolled_out() -> bool:
        dep = kube.get("deployment", name, ns=XR_NS)
        st = dep.get("status", {})
        return dep["spec"].get("replicas") == 3 and st.get("availableReplicas") == 3

    kube.wait_for(f"{name} at 3 available replicas", rolled_out, 300, XR_NS, demo.selector())
    results["spec_edit_to_rollout_s"] = round(time.monotonic() - t0, 1)
    kube.wait_for("the XR Ready again", lambda: xr_ready(kube), 300, XR_NS, demo.selector())
    obj = xr(kube)
    assert obj is not None
    assert obj["status"]["cells"]["zone1"]["multigateway"]["replicas"] == 3


def test_hand_edit_is_reverted(kube: Kube, demo: Demo, results: dict[str, Any]) -> None:
    name = f"{XR}-zone1-multigateway"
    t0 = time.monotonic()
    kube.kubectl("scale", "deployment", name, "-n", XR_NS, "--replicas=1")
    kube.wait_for(
        f"Crossplane to put {name} back to 3 replicas",
        lambda: kube.get("deployment", name, ns=XR_NS)["spec"].get("replicas") == 3,
        120, XR_NS, demo.selector(),
    )  # fmt: skip
    results["hand_edit_reverted_s"] = round(time.monotonic() - t0, 1)
    cm = f"{XR}-pg-hba"
    t0 = time.monotonic()
    before = kube.get("configmap", cm, ns=XR_NS)["data"]
    kube.kubectl(
        "patch", "configmap", cm, "-n", XR_NS, "--type=merge",
        "-p", json.dumps({"data": {k: "# edited by hand\n" for k in before}}),
    )  # fmt: skip
    kube.wait_for(
        f"Crossplane to restore ConfigMap {cm}",
        lambda: kube.get("configmap", cm, ns=XR_NS)["data"] == before,
        120, XR_NS, demo.selector(),
    )  # fmt: skip
    results["hand_edit_configmap_reverted_s"] = round(time.monotonic() - t0, 1)


# --- deletion ----------------------------------------------------------------------------


def delete_and_record(kube: Kube, demo: Demo, cascade: str, timeout: float = 600) -> dict[str, Any]:
    """`kubectl delete` the XR; when every pod and composed object is gone, say in which
    order each component's pods ended (seconds after the delete) and what is left."""
    kinds = ["pods", "statefulsets", "deployments"]
    with Recorder(kube, XR_NS, kinds, f"app.kubernetes.io/instance={XR}") as rec:
        time.sleep(2)  # the watches' initial listing
        t0 = time.time()
        kube.kubectl(
            "delete", "xmultigres", XR, "-n", XR_NS, f"--cascade={cascade}", "--wait=true",
            f"--timeout={timeout:.0f}s", timeout=timeout + 20,
        )  # fmt: skip
        xr_gone = time.time() - t0

        def all_gone() -> bool:
            pods = [
                p for p in kube.pods(XR_NS, demo.selector())
                if p["metadata"]["labels"].get("app.kubernetes.io/component") in (*WORKLOADS, "etcd")
            ]  # fmt: skip
            left = kube.kubectl(
                "get", ",".join(COMPOSED_KINDS), "-n", XR_NS,
                "-l", f"crossplane.io/composite={XR}", "-o", "name",
            ).split()  # fmt: skip
            return not pods and not left

        kube.wait_for(f"every pod and composed object of {XR} gone", all_gone, timeout, XR_NS)
        done = time.time() - t0
        events = rec.snapshot(since=t0)
    gone: dict[str, float] = {}
    ending: dict[str, float] = {}
    objects: dict[str, float] = {}
    for e in events:
        comp = (e.obj.get("metadata", {}).get("labels") or {}).get("app.kubernetes.io/component")
        if e.kind == "Pod" and comp in (*WORKLOADS, "etcd"):
            if e.type == "DELETED":
                gone[comp] = max(gone.get(comp, 0.0), e.at - t0)
            elif e.obj["metadata"].get("deletionTimestamp") and comp not in ending:
                ending[comp] = e.at - t0
        elif e.type == "DELETED":
            objects[e.key] = round(e.at - t0, 1)
    assert "etcd" in gone and "etcd" in ending, f"no etcd pod deletion seen: {sorted(gone)}"
    others = [t for c, t in gone.items() if c != "etcd"]
    pvcs = sorted(
        n for p in kube.get("pvc", ns=XR_NS)["items"]
        if f"-{XR}-" in (n := p["metadata"]["name"]) or n.startswith(f"{XR}-")
    )  # fmt: skip
    secrets = sorted(
        s["metadata"]["name"] for s in kube.get("secrets", ns=XR_NS)["items"]
        if s["metadata"]["name"].startswith(f"{XR}-")
    )  # fmt: skip
    return {
        "xr_gone_s": round(xr_gone, 1),
        "all_gone_s": round(done, 1),
        "pods_gone_order": [
            [c, round(t, 1)] for c, t in sorted(gone.items(), key=lambda kv: kv[1])
        ],
        "pods_ending_from": {
            c: round(t, 1) for c, t in sorted(ending.items(), key=lambda kv: kv[1])
        },
        "workload_objects_gone": dict(sorted(objects.items(), key=lambda kv: kv[1])),
        # etcd last: its pods began to end only after every other workload pod was gone,
        # so nothing shutting down lost the topology. (Its pods merely being the last to
        # disappear is weaker: they may have been terminating alongside the others.)
        "etcd_last": ending["etcd"] >= max(others, default=0.0),
        "etcd_pods_gone_last": gone["etcd"] >= max(others, default=0.0),
        "remaining_pvcs": pvcs,
        "remaining_secrets": secrets,
    }


def test_background_delete(kube: Kube, demo: Demo, results: dict[str, Any]) -> None:
    rec = delete_and_record(kube, demo, "background")
    results["background_delete"] = rec
    results["background_delete_etcd_last"] = rec["etcd_last"]
    # Data is kept: the StatefulSets' claims (Retain), not the composed backup claim.
    assert set(DATA_PVCS) <= set(rec["remaining_pvcs"]), rec["remaining_pvcs"]
    assert f"{XR}-backups" not in rec["remaining_pvcs"]
    assert f"{XR}-pgbackrest-ca" in rec["remaining_secrets"]  # made by a Job, not composed


def test_recreated_xr_reuses_the_data(
    kube: Kube, crossplane: Crossplane, demo: Demo, results: dict[str, Any]
) -> None:
    # The same name again, at once: reconciled without waiting out a breaker cooldown, on
    # the retained claims, and the row written before the delete is still there.
    t0 = time.monotonic()
    apply_xr(kube)
    wait_xr_ready(kube, demo, crossplane, None, timeout=900)
    results["recreate_to_ready_s"] = round(time.monotonic() - t0, 1)
    try:
        # check=True: psql's error (no primary, no such table) is the wait's "last error".
        kube.wait_for(
            "the row written before the delete, through the gateway",
            lambda: demo.sql("select v from xp_kept where k = 'before-delete'") == "1\n",
            240,
        )
    except AssertionError as e:
        raise AssertionError(f"{e}\n{demo.explain('xp_kept')}") from None
    results["recreate_rows_kept"] = True
    # How often the gateways' liveness probe ("a primary it routes to") restarted one:
    # > 0 when a gateway found a pooler's old address (docs/operations.md#failover-timing).
    results["recreate_gateway_restarts"] = sum(
        c["restartCount"]
        for p in kube.pods(XR_NS, demo.selector("multigateway"))
        for c in p["status"].get("containerStatuses", [])
    )


def test_foreground_delete(kube: Kube, demo: Demo, results: dict[str, Any]) -> None:
    rec = delete_and_record(kube, demo, "foreground")
    results["foreground_delete"] = rec
    results["foreground_delete_etcd_last"] = rec["etcd_last"]
    assert set(DATA_PVCS) <= set(rec["remaining_pvcs"]), rec["remaining_pvcs"]
    assert f"{XR}-backups" not in rec["remaining_pvcs"]
    # What the Usages are for: in foreground every workload's pods end before etcd's.
    assert rec["etcd_last"], rec["pods_gone_order"]


# --- the ReadWriteOnce backup warning ------------------------------------------------------


def test_rwo_backup_on_one_node_starts_without_a_warning(
    kube: Kube, crossplane: Crossplane, results: dict[str, Any]
) -> None:
    # Real Crossplane saw the ReadWriteOnce-backup Warning 17 times during an ordinary
    # single-node start; it is for when the volume is what keeps a pooler from starting.
    name = "rwo"
    doc = {
        "apiVersion": "multigres.com/v1alpha1",
        "kind": "XMultigres",
        "metadata": {"name": name, "namespace": XR_NS},
        "spec": {
            "postgres": {"passwordSecretRef": {"name": "demo-pg"}},
            "backup": {"storage": {"accessModes": ["ReadWriteOnce"]}},
        },
    }
    rwo = Demo(kube, MINIMAL, name=name, ns=XR_NS)
    kube.kubectl("apply", "-f", str(SECRET))
    kube.kubectl("apply", "-f", "-", input=json.dumps(doc))
    try:
        t0 = time.monotonic()

        def ready() -> bool:
            return conditions(xr(kube, name)).get("Ready", {}).get("status") == "True"

        try:
            poll(f"XMultigres {name} Ready", ready, 900, 1.0, (ClusterError,))
        except Timeout as e:
            raise AssertionError(
                f"{e}\n{describe_xr(kube, rwo)}\n{crossplane.describe()}"
            ) from None
        results["rwo_apply_to_ready_s"] = round(time.monotonic() - t0, 1)
        obj = kube.maybe("xmultigres", name, XR_NS)
        shared = conditions(obj).get("BackupVolumeShared", {})
        assert (shared.get("status"), shared.get("reason")) == ("False", "NotReadWriteMany"), shared
        events = kube.get("events", ns=XR_NS)["items"]
        warned = [
            e["message"]
            for e in events
            if e["involvedObject"].get("name") == name
            and e["type"] == "Warning"
            and "backup volume" in e.get("message", "")
        ]
        results["rwo_backup_warnings_single_node"] = len(warned)
        assert not warned, warned
    finally:
        kube.kubectl("delete", "xmultigres", name, "-n", XR_NS, "--ignore-not-found",
                     "--cascade=foreground", "--timeout=300s", timeout=320)  # fmt: skip
        kube.kubectl("delete", "pvc", "-n", XR_NS, "-l", f"app.kubernetes.io/instance={name}",
                     "--ignore-not-found", "--timeout=120s", timeout=140)  # fmt: skip
        kube.kubectl("delete", "secret", "-n", XR_NS, f"{name}-pgbackrest-ca", "--ignore-not-found")
