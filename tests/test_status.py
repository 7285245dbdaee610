"""XR status and readiness, in-process and through the real `crossplane render`."""

from __future__ import annotations

import copy

import pytest
import yaml
from crossplane.function import resource
from crossplane.function.proto.v1 import run_function_pb2 as fnv1

from function.fn import desired_objects, run
from tests.helpers import EXAMPLES, load
from tests.test_render import docs, render
from tests.test_safety import req

HEALTHY = EXAMPLES / "observed" / "healthy.yaml"
COMING_UP = EXAMPLES / "observed" / "coming-up.yaml"


def observed(path):
    return {
        d["metadata"]["annotations"]["crossplane.io/composition-resource-name"]: d
        for d in yaml.safe_load_all(path.read_text())
        if d
    }


def status(rsp: fnv1.RunFunctionResponse) -> dict:
    return resource.struct_to_dict(rsp.desired.composite.resource)["status"]


def test_healthy_in_process() -> None:
    rsp = run(req(load(EXAMPLES / "minimal.yaml"), observed(HEALTHY)))
    assert all(r.ready == fnv1.READY_TRUE for r in rsp.desired.resources.values())
    s = status(rsp)
    assert s["phase"] == "Healthy"
    assert s["endpoints"]["postgres"] == "demo-multigateway.default.svc:5432"
    assert rsp.meta.ttl.seconds == 60


def test_coming_up_says_what_is_missing() -> None:
    rsp = run(req(load(EXAMPLES / "minimal.yaml"), observed(COMING_UP)))
    s = status(rsp)
    # examples/observed/coming-up.yaml is recorded on the e2e node when the function
    # first said Progressing with etcd ready: the poolers (slowest) are not all ready yet.
    assert s["phase"] == "Progressing"
    pooler = s["cells"]["zone1"]["multipooler"]
    assert pooler["replicas"] == 3.0 and pooler["ready"] is False, pooler
    assert s["etcd"]["ready"] is True
    ready = int(pooler["readyReplicas"])
    assert f"zone1-pooler-statefulset ({ready}/3 ready)" in s["message"], s["message"]
    assert rsp.meta.ttl.seconds == 10
    assert rsp.desired.resources["etcd-statefulset"].ready == fnv1.READY_TRUE
    assert rsp.desired.resources["zone1-pooler-statefulset"].ready == fnv1.READY_FALSE


def test_one_more_ready_pod_changes_status_not_conditions() -> None:
    # Crossplane writes the XR's status fields and its conditions in two updates, and
    # each is a watch event its circuit breaker counts: a pod becoming ready (the set of
    # unready resources unchanged) should cost one, not both.
    x = load(EXAMPLES / "minimal.yaml")
    before = observed(COMING_UP)
    after = copy.deepcopy(before)
    after["zone1-pooler-statefulset"]["status"]["readyReplicas"] = 2
    r1, r2 = run(req(x, before)), run(req(x, after))
    assert status(r1)["cells"] != status(r2)["cells"]
    assert [(c.type, c.status, c.reason, c.message) for c in r1.conditions] == [
        (c.type, c.status, c.reason, c.message) for c in r2.conditions
    ]


def test_degraded_when_something_ready_is_lost() -> None:
    x = load(EXAMPLES / "minimal.yaml")
    healthy = status(run(req(x, observed(HEALTHY))))
    x2 = copy.deepcopy(x)
    x2["status"] = healthy
    obs = observed(HEALTHY)
    obs["zone1-pooler-statefulset"]["status"]["readyReplicas"] = 1
    rsp = run(req(x2, obs))
    s = status(rsp)
    assert s["phase"] == "Degraded"
    assert "zone1/multipooler lost ready replicas" in s["message"]
    assert any(
        "Healthy -> Degraded" in r.message
        for r in rsp.results
        if r.severity == fnv1.SEVERITY_WARNING
    )


def test_degraded_on_stuck_rollout() -> None:
    obs = observed(HEALTHY)
    obs["zone1-multigateway-deployment"]["status"]["conditions"].append(
        {
            "type": "Progressing",
            "status": "False",
            "reason": "ProgressDeadlineExceeded",
            "message": "crash looping",
        }
    )
    obs["zone1-multigateway-deployment"]["status"]["availableReplicas"] = 0
    s = status(run(req(load(EXAMPLES / "minimal.yaml"), obs)))
    assert s["phase"] == "Degraded" and "crash looping" in s["message"]


def test_initializing_when_nothing_is_ready() -> None:
    assert status(run(req(load(EXAMPLES / "minimal.yaml"))))["phase"] == "Initializing"


@pytest.mark.render
def test_render_healthy() -> None:
    r = render(EXAMPLES / "minimal.yaml", "--observed", str(HEALTHY))
    assert r.returncode == 0, r.stderr
    out = docs(r.stdout)
    xr = out[0]
    ready = next(c for c in xr["status"]["conditions"] if c["type"] == "Ready")
    assert ready["status"] == "True", ready
    assert xr["status"]["phase"] == "Healthy"
    assert xr["status"]["endpoints"]["postgres"] == "demo-multigateway.default.svc:5432"
    composed = [d for d in out[1:] if d["kind"] != "Result"]
    assert len(composed) == len(desired_objects(load(EXAMPLES / "minimal.yaml")))


@pytest.mark.render
def test_render_coming_up() -> None:
    r = render(EXAMPLES / "minimal.yaml", "--observed", str(COMING_UP))
    assert r.returncode == 0, r.stderr
    xr = docs(r.stdout)[0]
    ready = next(c for c in xr["status"]["conditions"] if c["type"] == "Ready")
    assert ready["status"] == "False"
    assert xr["status"]["phase"] == "Progressing"
    comp = next(c for c in xr["status"]["conditions"] if c["type"] == "ComponentsReady")
    # The condition names what is not ready; the counts (which change with every pod and
    # would cost a second XR write each time) are in status.message only.
    assert comp["status"] == "False" and "zone1-pooler-statefulset" in comp["message"]
    assert "/3 ready" not in comp["message"]
    assert "zone1-pooler-statefulset (" in xr["status"]["message"]
    assert "/3 ready)" in xr["status"]["message"]


def _healthy_then(mutate, **spec_changes):
    """Status of a second reconcile after a healthy one, with observed state mutated."""
    x = load(EXAMPLES / "minimal.yaml")
    x["metadata"]["generation"] = 1
    x["status"] = status(run(req(x, observed(HEALTHY))))
    assert x["status"]["phase"] == "Healthy"
    obs = observed(HEALTHY)
    mutate(obs)
    x["spec"].update(spec_changes)
    if spec_changes:
        x["metadata"]["generation"] = 2
    return x, obs


def test_degraded_stays_until_recovered() -> None:
    def lose_etcd(obs):
        obs["etcd-statefulset"]["status"]["readyReplicas"] = 2

    x, obs = _healthy_then(lose_etcd)
    first = status(run(req(x, obs)))
    assert first["phase"] == "Degraded"
    x["status"] = first
    second = status(run(req(x, obs)))
    assert second["phase"] == "Degraded", "Degraded must not clear while still not ready"
    assert "etcd-statefulset" in second["message"]
    x["status"] = second
    assert status(run(req(x, observed(HEALTHY))))["phase"] == "Healthy"


def test_a_spec_change_is_progress_not_damage() -> None:
    x, obs = _healthy_then(lambda o: None, multipooler={"replicasPerCell": 5})
    rsp = run(req(x, obs))
    s = status(rsp)
    assert s["phase"] == "Progressing", s["message"]
    assert s["cells"]["zone1"]["multipooler"]["replicas"] == 5
    # readiness is judged against what we ask for now, not the observed spec
    assert rsp.desired.resources["zone1-pooler-statefulset"].ready == fnv1.READY_FALSE
    assert not [r for r in rsp.results if r.severity == fnv1.SEVERITY_WARNING]
