"""The e2e tier: a real single-node Kubernetes (hack/e2e/cluster) for the whole session.

The session brings the cluster up (or, with FMG_E2E_REUSE=1, uses one `make cluster-up`
started) and tears it down at the end, then checks that the host holds no process,
namespace, mount, interface or cgroup of the run: a difference fails the session.
FMG_E2E_KEEP=1 leaves it running for debugging (`hack/e2e/kubectl ...`).

Every scenario records its figures in `results`, written to tests/e2e/results/latest.json.
"""

from __future__ import annotations

import json
import os
import platform
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hack.e2e.cluster.node import host_state
from hack.e2e.cluster.run import Cluster
from tests.e2e import xr
from tests.e2e.crossplane import Crossplane
from tests.e2e.kube import Kube

RESULTS = Path(__file__).parent / "results" / "latest.json"
_config: pytest.Config | None = None


def pytest_configure(config: pytest.Config) -> None:
    global _config
    _config = config


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """A failing scenario's report as soon as it fails, not only in pytest's summary at
    the end of the session: a run stopped before its end (CI's time limit, a machine's
    session ending) still shows why, with the logs the scenario printed."""
    if not report.failed or _config is None:
        return
    tr = _config.pluginmanager.get_plugin("terminalreporter")
    if tr is None:
        return
    tr.write_line("")
    tr.write_sep("!", f"{report.nodeid} failed ({report.when}), at once")
    tr.write_line(report.longreprtext)
    for name, text in report.sections:
        tr.write_sep("-", name)
        tr.write_line(text)
    tr.write_sep("!", f"end of {report.nodeid}")


@pytest.fixture(scope="session")
def results() -> Iterator[dict[str, Any]]:
    out: dict[str, Any] = {}
    yield out
    if not out:
        return
    RESULTS.parent.mkdir(exist_ok=True)
    prev = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    merged = {**prev, **out}
    merged["machine"] = {
        "cpus": os.cpu_count(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "date": time.strftime("%Y-%m-%d", time.gmtime()),
    }
    RESULTS.write_text(json.dumps(merged, indent=2, sort_keys=True) + "\n")


@pytest.fixture(scope="session")
def cluster() -> Iterator[Cluster]:
    c = Cluster()
    reuse = os.environ.get("FMG_E2E_REUSE") == "1" and c.node.holder() is not None
    keep = os.environ.get("FMG_E2E_KEEP") == "1"
    before = None
    if not reuse:
        if c.lay.run.exists():
            c.down()  # what a crashed earlier run left
        before = host_state(c.lay)
        c.up()
    yield c
    if keep or reuse:
        return
    c.down()
    after = host_state(c.lay)
    assert after == before, f"the run left traces on the host:\nbefore={before}\nafter={after}"


@pytest.fixture(scope="session")
def kube(cluster: Cluster) -> Kube:
    return Kube(cluster)


@pytest.fixture(scope="session")
def crossplane(kube: Kube, results: dict[str, Any]) -> Crossplane:
    """Real Crossplane with our packages, installed once: test_cluster.py and
    test_crossplane.py drive their XRs through it (tests/e2e/xr.py)."""
    return xr.install(kube, results)
