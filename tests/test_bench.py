"""The benchmark harness runs end to end on a tiny budget (numbers come from `make bench`).

Not a timed test: it checks that bench/run.py starts ours, the floor and the peers
(function-pythonic when hack/install-pythonic.sh has installed it, function-go-templating
when bin/function-go-templating has been built) as real processes, drives them over gRPC
in every scenario and writes the result fields and the plot; that every request is
tagged as Crossplane tags it; and that the pythonic peer composes the same objects as ours.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from crossplane.function import resource
from crossplane.function.proto.v1 import run_function_pb2 as fnv1

from bench import servers, workload
from function import fn as fnmod
from function.cache import BuildInput
from function.fn import desired_objects, run

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def smoke(tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("bench")
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py"), "--mode", "smoke", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=400,  # about 40 s; much more when the machine is shared with big builds
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert (out / "smoke.png").stat().st_size > 10_000
    result: dict = json.loads((out / "smoke.json").read_text())
    return result


def test_smoke_reports_the_fields(smoke: dict) -> None:
    ref = smoke["reference"]
    for field in ("ratio_p50_vs_floor", "p50_ms", "p99_ms", "rps", "peak_rss_mib"):
        assert isinstance(ref[field], int | float), field
    assert "ratio_p50_vs_peer" in ref
    for fn in ("ours", "floor"):
        for c in ("c1", "c8"):
            run_ = ref["functions"][fn][c]
            assert run_["n"] >= 10 and run_["p50_ms"] > 0 and run_["server_cpu_ms_per_req"] >= 0
    assert ref["functions"]["ours"]["c1"]["response_bytes"] > 10_000  # 32 objects
    assert smoke["scaling"]["build_ms"] and smoke["sweep"]["ours"]["p50_ms"]
    assert set(smoke["goals"]) >= {
        "reference_p50_vs_floor",
        "peak_rss_mib",
        "steady_p50_vs_floor",
        "observed_change_p50_vs_floor",
        "cold_reference_p50_vs_floor",
        "fleet_peak_rss_mib",
    }
    for scenario in ("steady", "observed_change", "cold"):
        sc = ref[scenario]
        for field in ("p50_ms", "ratio_p50_vs_floor", "cpu_ms_per_req", "ratio_p50_c8_vs_floor"):
            assert isinstance(sc[field], int | float), (scenario, field)
        assert "ratio_p50_vs_pythonic" in sc and "ratio_p50_vs_floor_rsp" in sc
    for scenario in ("observed_change", "cold"):  # a new request on every call
        for c in ("c1", "c8"):
            r = ref["functions"]["ours"][scenario][c]
            assert r["distinct_requests"] >= r["n"], (scenario, c)
    fleet = smoke["fleet"]
    assert fleet["xrs"] == 20 and fleet["ours"]["c1"]["distinct_requests"] == 20
    for field in ("cpu_ms_per_req", "peak_rss_mib", "p50_ms", "floor_p50_ms"):
        assert isinstance(fleet[field], int | float), field


def test_smoke_peer_or_reason(smoke: dict) -> None:
    if servers.peer_missing_reason("pythonic") is not None:
        assert smoke["peer_skipped"] and "pythonic" not in smoke["functions"]
        pytest.skip(f"function-pythonic not installed: {smoke['peer_skipped']}")
    eq = smoke["equivalence"]["reference"]
    assert eq["peer_fatal"] == []
    assert eq["identities_equal"], (eq["only_ours"], eq["only_peer"])
    assert (
        eq["ours_count"] == eq["peer_count"] == len(desired_objects(workload.size_xr("reference")))
    )
    assert eq["kinds_ours"] == eq["kinds_peer"]
    assert eq["content_differences"] == 0, eq["content_difference_examples"]
    assert eq["ready_differences"] == []
    ref = smoke["reference"]
    assert ref["ratio_p50_vs_peer"] is not None and ref["ratio_p50_vs_pythonic"] is not None
    for scenario in ("steady", "observed_change", "cold"):
        assert ref[scenario]["ratio_p50_vs_pythonic"] is not None, scenario


def test_pythonic_composes_what_we_compose(tmp_path: Path) -> None:
    """function-pythonic with bench/peers/pythonic/composition.yaml composes exactly our
    objects for the small and the reference XR: keys, kinds, names, content, readiness."""
    from bench import equivalence

    if (reason := servers.peer_missing_reason("pythonic")) is not None:
        pytest.skip(reason)
    with servers.serve_many(["ours", "pythonic"], tmp_path) as srv:
        for size in ("small", "reference"):
            count = len(desired_objects(workload.size_xr(size)))  # what ours composes today
            reqs = workload.build_requests(size)
            eq = equivalence.compare(
                equivalence.call(srv["ours"].address, reqs["ours"]),
                equivalence.call(srv["pythonic"].address, reqs["pythonic"]),
            )
            assert eq["peer_fatal"] == [], size
            assert eq["ours_count"] == eq["peer_count"] == count, size
            assert eq["identities_equal"], (size, eq["only_ours"], eq["only_peer"])
            assert eq["content_differences"] == 0, (size, eq["content_difference_examples"])
            assert eq["ready_differences"] == [], size


def test_peer_composition_matches_template() -> None:
    check = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "peers" / "sync.py"), "--check"],
        capture_output=True,
        text=True,
    )
    assert check.returncode == 0, check.stderr
    assert workload.peer_input("go-templating")["kind"] == "GoTemplate"
    assert workload.peer_input("pythonic")["kind"] == "Composite"


def test_reference_request_is_the_issue_shape() -> None:
    xr = workload.size_xr("reference")
    spec = xr["spec"]
    assert len(spec["cells"]) == 3 and spec["etcd"]["replicas"] == 3
    assert spec["multigateway"]["replicas"] == 2 and spec["multipooler"]["replicasPerCell"] == 2
    assert spec["multigateway"]["autoscaling"]["enabled"] is True
    assert len(workload.size_xr("large")["spec"]["cells"]) == 20
    assert "cells" not in workload.size_xr("small")["spec"]
    req = fnv1.RunFunctionRequest.FromString(workload.build_requests("reference")["ours"])
    assert (
        len(req.observed.resources) == 44
    )  # 32 before issue 15 (TLS, multiadmin, Usages), 43 before issue 12 (postgres-config ConfigMap)
    status = resource.struct_to_dict(run(req).desired.composite.resource)["status"]
    assert status["phase"] == "Healthy", status["message"]  # a healthy observed state


def test_every_request_is_tagged_as_crossplane_tags_it() -> None:
    """Steady, observed-change (as bench/client.py assembles them), fleet: meta.tag is
    Crossplane's Tag of the request without the resources fetched after tagging."""
    from bench.client import Fresh

    steady = workload.build_requests("small")
    reqs = [fnv1.RunFunctionRequest.FromString(b) for b in steady.values()]
    body, fetched = workload.scenario_template("small", "observed_change", "ours")
    fresh = Fresh(body, fetched, workload.PLACEHOLDER.encode(), 0)
    reqs += [fnv1.RunFunctionRequest.FromString(fresh.next()) for _ in range(3)]
    reqs += [fnv1.RunFunctionRequest.FromString(b) for b in workload.fleet_requests(3)]
    for r in reqs:
        assert len(r.meta.tag) == 64 and r.meta.tag == workload.crossplane_tag(r)
    assert len({r.meta.tag for r in reqs[-6:]}) == 6
    assert len(reqs[-4].required_resources) == 1  # the Secret, not part of the tag


def test_build_cache_merges_like_struct_update() -> None:
    """A desired resource from an earlier pipeline step is merged, not replaced, on a
    build-cache hit exactly as on a miss."""
    req = fnv1.RunFunctionRequest.FromString(workload.build_requests("small")["ours"])
    req.desired.resources["serviceaccount"].resource.update(
        {"metadata": {"annotations": {"x": "y"}}, "extra": True}
    )
    fnmod.CACHE.clear()
    cold = run(req).SerializeToString(deterministic=True)
    warm = run(req).SerializeToString(deterministic=True)
    assert fnmod.CACHE.get(BuildInput.of(req).key()) is not None
    assert warm == cold
