"""The real `crossplane render` (crank, Development runtime) against the running function."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests import goldens
from tests.helpers import (
    CROSSPLANE,
    EXAMPLES,
    INVALID_EXAMPLES,
    ROOT,
    VALID_EXAMPLES,
    expectations,
    ints,
)

pytestmark = pytest.mark.render


def render(example: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    if not CROSSPLANE.exists():
        pytest.fail(f"{CROSSPLANE} missing: run `make crossplane`")
    return subprocess.run(
        [sys.executable, str(ROOT / "hack" / "render.py"), "--example", str(example), *extra],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def docs(out: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(out) if d]


@pytest.mark.parametrize("path", VALID_EXAMPLES, ids=lambda p: p.name)
def test_render_valid_example(path: Path) -> None:
    r = render(path)
    assert r.returncode == 0, r.stderr
    out = docs(r.stdout)
    kinds = Counter(d["kind"] for d in out)
    for kind in ("StatefulSet", "Deployment", "Service", "PodDisruptionBudget", "Job"):
        assert kinds[kind] >= 1, f"{kind} missing from render of {path.name}: {kinds}"
    xr = out[0]
    assert xr["kind"] == "XMultigres"
    assert xr["status"]["endpoints"]["postgres"].endswith(":5432")
    composed = [d for d in out[1:] if d["kind"] != "Result"]
    for d in composed:
        ann = d["metadata"]["annotations"]
        assert ann["crossplane.io/composition-resource-name"], d


def test_render_multi_cell_has_hpas_and_three_cells() -> None:
    r = render(EXAMPLES / "multi-cell.yaml")
    assert r.returncode == 0, r.stderr
    out = docs(r.stdout)
    hpas = [d for d in out if d["kind"] == "HorizontalPodAutoscaler"]
    assert len(hpas) == 3
    for cell in ("zone-a", "zone-b", "zone-c"):
        names = {d["metadata"]["name"] for d in out if d["kind"] != "Result"}
        assert {
            f"orders-{cell}-multigateway",
            f"orders-{cell}-multiorch",
            f"orders-{cell}-pooler",
        } <= names
    lb = next(
        d for d in out if d["kind"] == "Service" and d["metadata"]["name"] == "orders-multigateway"
    )
    assert lb["spec"]["type"] == "LoadBalancer"


@pytest.mark.parametrize("path", INVALID_EXAMPLES, ids=lambda p: p.name)
def test_render_invalid_example_is_fatal(path: Path) -> None:
    """Crossplane's real behaviour on a Fatal result: an error, and no desired objects."""
    r = render(path, "--no-xrd")
    field = expectations(path)["expect-field"]
    assert r.returncode != 0
    assert "returned a fatal result" in r.stderr
    assert f"invalid XMultigres: {field}:" in r.stderr, r.stderr
    assert not docs(r.stdout), "a Fatal result must compose nothing"


GOLDEN = [c for c in goldens.cases() if not c.name.startswith("invalid-")]


def _ours(d: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """A rendered composed object without what Crossplane adds to it, and its key."""
    meta = d["metadata"]
    key = meta["annotations"].pop("crossplane.io/composition-resource-name")
    if not meta["annotations"]:
        del meta["annotations"]
    meta["labels"].pop("crossplane.io/composite")
    meta.pop("namespace")
    meta.pop("ownerReferences")
    return key, d


@pytest.mark.parametrize("case", GOLDEN, ids=[c.name for c in GOLDEN])
def test_render_matches_golden(case: goldens.Case) -> None:
    """The real `crossplane render` (XRD defaults applied, requirements answered) composes
    exactly the golden file's objects and status: the golden files are what Crossplane
    itself gets, not only what the fast tier asks for."""
    extra = ["--observed", str(case.observed)] if case.observed else []
    r = render(case.xr, *extra)
    assert r.returncode == 0, r.stderr
    out = docs(r.stdout)
    got = dict(_ours(d) for d in out[1:] if d["kind"] != "Result")
    golden = json.loads(goldens.path(case).read_text())
    want = {k: ints(v["resource"]) for k, v in golden["desired"]["resources"].items()}
    assert sorted(got) == sorted(want)
    for key in want:
        assert got[key] == want[key], key
    status = {k: v for k, v in out[0]["status"].items() if k != "conditions"}
    assert status == ints(golden["desired"]["composite"]["resource"]["status"])


def test_changed_registration_is_a_new_job_under_crossplane(tmp_path: Path) -> None:
    """Crossplane keeps the name of a composed resource it observes under the same key, so
    the topology Job's key carries its template hash: adding a cell to a running cluster
    must give a Job of a new name (a new template) rather than an edit of the observed Job,
    whose pod template Kubernetes refuses to change (docs/operations.md#topology-job-template)."""
    observed = EXAMPLES / "observed" / "healthy.yaml"
    old = next(d for d in docs(observed.read_text()) if "-topo-" in d["metadata"]["name"])
    xr = yaml.safe_load((EXAMPLES / "minimal.yaml").read_text())
    xr["spec"]["cells"] = [{"name": "zone1"}, {"name": "zone2"}]
    path = tmp_path / "xr.yaml"
    path.write_text(yaml.safe_dump(xr))
    r = render(path, "--observed", str(observed))
    assert r.returncode == 0, r.stderr
    jobs = [
        d for d in docs(r.stdout) if d.get("kind") == "Job" and "-topo-" in d["metadata"]["name"]
    ]
    assert len(jobs) == 1, [j["metadata"]["name"] for j in jobs]
    key, job = _ours(jobs[0])
    assert job["metadata"]["name"] != old["metadata"]["name"], "the observed Job would be edited"
    assert key == "topology-job-" + job["metadata"]["name"].rsplit("-", 1)[1]
    assert "--cells=zone1,zone2" in job["spec"]["template"]["spec"]["containers"][0]["args"]
