"""Session fixtures of the API-server tier: a real etcd + kube-apiserver on loopback.

Every test under tests/apiserver/ is marked `apiserver` (`make test-apiserver` selects
them with `-m apiserver`). The binaries come from hack/apiserver/install.sh, which
builds them on first use (minutes) and reuses the cache afterwards.

Environment:
  MULTIGRES_APISERVER=skip   skip this tier explicitly (the only way it skips);
  MULTIGRES_APISERVER_KEEP=1 keep the control plane's temp dir (logs, certs, kubeconfig).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from apiserver_harness import ControlPlane, Kube, install  # noqa: E402


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects by marker
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.apiserver)


@pytest.fixture(scope="session")
def control_plane(request: pytest.FixtureRequest) -> Iterator[ControlPlane]:
    if os.environ.get("MULTIGRES_APISERVER", "").lower() == "skip":
        pytest.skip("API-server tier disabled by MULTIGRES_APISERVER=skip")
    capman = request.config.pluginmanager.getplugin("capturemanager")
    # Show the build's progress lines live, even under pytest's output capture.
    with capman.global_and_fixture_disabled() if capman else contextlib.nullcontext():
        print("\n>> API-server tier: hack/apiserver/install.sh", file=sys.stderr, flush=True)
        bindir = install()
    keep = os.environ.get("MULTIGRES_APISERVER_KEEP") == "1"
    with ControlPlane(bindir, keep_dir=keep) as cp:
        with capman.global_and_fixture_disabled() if capman else contextlib.nullcontext():
            print(
                f">> API server {cp.server} ready in {cp.started_in:.1f}s"
                + (f"; kubeconfig {cp.kubeconfig}" if keep else ""),
                file=sys.stderr,
                flush=True,
            )
        yield cp


@pytest.fixture(scope="session")
def kube(control_plane: ControlPlane) -> Kube:
    return control_plane.kube


_ns_counter = itertools.count(1)


@pytest.fixture
def new_namespace(kube: Kube, request: pytest.FixtureRequest) -> Callable[[], str]:
    """Create a fresh Pod-Security-restricted namespace (with a `default` ServiceAccount)."""

    def make() -> str:
        base = "".join(ch if ch.isalnum() else "-" for ch in request.node.name.lower())
        name = f"t{next(_ns_counter)}-{base}"[:63].rstrip("-")
        kube.create_namespace(name)
        return name

    return make


@pytest.fixture
def namespace(new_namespace: Callable[[], str]) -> str:
    return new_namespace()
