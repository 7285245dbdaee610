"""The benchmark harness runs end to end on a tiny budget (numbers come from `make bench`).

Not a timed test: it checks that bench/run.py starts ours and the floor (and the peer,
when bin/function-go-templating has been built) as real processes, drives them over
gRPC and writes the result fields and the plot; and that the peer composes the same
objects as ours.
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
from function.fn import run

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def smoke(tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("bench")
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py"), "--mode", "smoke", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
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
    assert set(smoke["goals"]) >= {"reference_p50_vs_floor", "peak_rss_mib"}


def test_smoke_peer_or_reason(smoke: dict) -> None:
    if servers.peer_missing_reason() is not None:
        assert smoke["peer_skipped"] and "peer" not in smoke["functions"]
        pytest.skip(f"peer not built: {smoke['peer_skipped']}")
    eq = smoke["equivalence"]["reference"]
    assert eq["peer_fatal"] == []
    assert eq["identities_equal"], (eq["only_ours"], eq["only_peer"])
    assert eq["ours_count"] == eq["peer_count"] == 32
    assert eq["kinds_ours"] == eq["kinds_peer"]
    assert eq["content_differences"] == 0, eq["content_difference_examples"]
    assert smoke["reference"]["ratio_p50_vs_peer"] is not None


def test_peer_composition_matches_template() -> None:
    check = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "peers" / "sync.py"), "--check"],
        capture_output=True,
        text=True,
    )
    assert check.returncode == 0, check.stderr
    assert workload.peer_input()["kind"] == "GoTemplate"


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
