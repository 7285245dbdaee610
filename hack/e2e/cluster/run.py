"""Bring the node up and down: the steps in order, each timed and each wait bounded.

`Cluster.up()` is idempotent: it first removes what an earlier (possibly crashed) run
left, then starts etcd, the API server, the controller manager, the scheduler, the OCI
registry beside the node (layout.REGISTRY), containerd (told to pull from that registry
over plain HTTP, and given the images: ours and Crossplane's), the kubelet and
kube-proxy, and applies the add-ons. A wait that times out raises with the logs that explain it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from . import addons, config, pki
from .layout import NODE_NAME, REGISTRY, Layout
from .node import Node
from .poll import Timeout, poll


class ClusterError(RuntimeError):
    pass


def say(msg: str) -> None:
    print(f">> e2e: {msg}", file=sys.stderr, flush=True)


class Cluster:
    def __init__(self, lay: Layout | None = None) -> None:
        self.lay = lay or Layout.default()
        self.node = Node(self.lay)
        self.timings: dict[str, float] = {}

    # --- access ----------------------------------------------------------------------------
    @property
    def holder(self) -> int:
        h = self.node.holder()
        if h is None:
            raise ClusterError(
                f"no e2e cluster is running (run directory {self.lay.run}); run `make cluster-up`"
            )
        return h

    def in_node(self, *argv: str) -> list[str]:
        """argv run in the node's network namespace (where 127.0.0.1 and the node IP are)."""
        return [*self.node.enter(self.holder, net_only=True), *argv]

    def kubectl(
        self, *args: str, input: str | None = None, check: bool = True, timeout: float = 120
    ) -> str:
        cmd = self.in_node(
            str(self.lay.k8s_bin / "kubectl"), f"--kubeconfig={self.lay.kubeconfig}", *args
        )
        try:
            r = subprocess.run(cmd, input=input, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired as e:
            raise ClusterError(f"kubectl {' '.join(args)} did not finish in {timeout:.0f}s") from e
        if check and r.returncode:
            raise ClusterError(
                f"kubectl {' '.join(args)} failed ({r.returncode}): {r.stderr.strip()}"
            )
        return r.stdout

    def log_tail(self, name: str, lines: int = 40) -> str:
        path = self.lay.logs / f"{name}.log"
        if not path.exists():
            return f"--- {name}: no log ---"
        text = path.read_text(errors="replace").splitlines()[-lines:]
        return f"--- {path} (last {len(text)} lines) ---\n" + "\n".join(text)

    def wait(
        self, what: str, ok: Callable[[], bool], timeout: float, logs: tuple[str, ...] = ()
    ) -> float:
        def alive() -> None:
            for name in logs:
                if not self.node.alive(name):
                    raise ClusterError(
                        f"{name} exited while waiting for {what}\n{self.log_tail(name)}"
                    )

        expected = (ClusterError, subprocess.SubprocessError, OSError, ValueError)
        try:
            return poll(what, ok, timeout, 0.5, expected, alive)
        except Timeout as e:
            detail = "\n".join(self.log_tail(n) for n in logs)
            raise ClusterError(f"{e}\n{detail}") from None

    def step(self, name: str, fn: Callable[[], object]) -> None:
        t0 = time.monotonic()
        say(f"{name} ...")
        fn()
        self.timings[name] = round(time.monotonic() - t0, 1)
        say(f"{name}: {self.timings[name]}s")

    # --- up ----------------------------------------------------------------------------------
    def check_installed(self) -> None:
        need = [
            self.lay.k8s_bin / b
            for b in ("etcd", "kube-apiserver", "kubelet", "kubectl", "kube-proxy")
        ]
        need += [self.lay.tools / "pause" / "pause", self.lay.images_index]
        need.append(self.lay.crossplane_index)
        if self.lay.crossplane_index.exists():
            cp = json.loads(self.lay.crossplane_index.read_text())
            need += [Path(cp["registry"]), Path(cp.get("image", {}).get("tar", "no image"))]
        missing = [str(p) for p in need if not p.exists()]
        if missing:
            raise ClusterError(f"not installed: {', '.join(missing)}; run hack/e2e/install.sh")

    def images(self) -> list[dict[str, str]]:
        """What containerd is given: the e2e images and Crossplane core's."""
        cp = json.loads(self.lay.crossplane_index.read_text())
        return [*json.loads(self.lay.images_index.read_text()), cp["image"]]

    def up(self) -> None:
        t0 = time.monotonic()
        self.check_installed()
        if self.lay.run.exists():
            self.step("clean up an earlier run", self.node.destroy)
        self.lay.run.mkdir(parents=True)
        self.step("certificates and tokens", lambda: pki.make(self.lay))
        try:
            self.step("node namespaces", self._namespaces)
            self.step("etcd and kube-apiserver", self._control_plane)
            self.step("controllers, scheduler, registry, containerd", self._controllers)
            self.step("images into containerd", self._images)
            self.step("kubelet, kube-proxy, node Ready", self._node)
            self.step("add-ons: CoreDNS, local-path StorageClass", self._addons)
        except BaseException:
            say(f"cluster-up failed; logs in {self.lay.logs} (kept until cluster-down)")
            raise
        self.timings["total"] = round(time.monotonic() - t0, 1)
        (self.lay.p("timings.json")).write_text(json.dumps(self.timings, indent=2))
        say(f"cluster up in {self.timings['total']}s; kubectl: hack/e2e/kubectl get nodes")

    def _namespaces(self) -> None:
        holder = self.node.create()
        self.node.setup(holder)

    def _control_plane(self) -> None:
        h = self.holder
        self.node.start(h, *config.etcd(self.lay))
        self.wait(
            "etcd /health",
            lambda: (
                b'"true"'
                in subprocess.run(
                    self.in_node("curl", "-sf", "http://127.0.0.1:2381/health"), capture_output=True
                ).stdout
            ),
            60,
            ("etcd",),
        )
        self.node.start(h, *config.apiserver(self.lay))
        self.wait(
            "kube-apiserver /readyz",
            lambda: self.kubectl("get", "--raw=/readyz", timeout=10) == "ok",
            120,
            ("kube-apiserver",),
        )

    def _controllers(self) -> None:
        h = self.holder
        self.node.start(h, *config.controller_manager(self.lay))
        self.node.start(h, *config.scheduler(self.lay))
        registry = json.loads(self.lay.crossplane_index.read_text())["registry"]
        self.node.start(h, *config.registry(self.lay, registry))
        self.wait(
            f"registry http://{REGISTRY}/v2/",
            lambda: (
                subprocess.run(
                    self.in_node("curl", "-sf", "-o", "/dev/null", f"http://{REGISTRY}/v2/"),
                    capture_output=True,
                ).returncode
                == 0
            ),
            30,
            ("registry",),
        )
        self.node.start(
            h,
            *config.containerd(
                self.lay, addons.IMAGES["pause"], registries={REGISTRY: f"http://{REGISTRY}"}
            ),
        )
        self.wait("containerd", lambda: self.ctr("version").returncode == 0, 60, ("containerd",))

    def ctr(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.in_node(
                "ctr", f"--address={self.lay.containerd_sock}", "--namespace=k8s.io", *args
            ),
            capture_output=True,
            text=True,
        )

    def _images(self) -> None:
        images = self.images()
        for image in images:
            r = self.ctr("images", "import", "--no-unpack=false", image["tar"])
            if r.returncode:
                raise ClusterError(f"importing {image['name']} failed: {r.stderr}")
        listed = self.ctr("images", "list", "-q").stdout.split()
        missing = [i["name"] for i in images if i["name"] not in listed]
        if missing:
            raise ClusterError(f"images not in containerd after import: {missing}")

    def _node(self) -> None:
        h = self.holder
        self.node.start(h, *config.kubelet(self.lay))
        self.node.start(h, *config.kube_proxy(self.lay))

        def ready() -> bool:
            node = json.loads(
                self.kubectl("get", "node", NODE_NAME, "-o", "json", check=False) or "{}"
            )
            return any(
                c["type"] == "Ready" and c["status"] == "True"
                for c in node.get("status", {}).get("conditions", [])
            )

        self.wait(f"node {NODE_NAME} Ready", ready, 120, ("kubelet", "kube-proxy", "containerd"))

    def _addons(self) -> None:
        volumes = self.lay.p("volumes")
        volumes.mkdir(exist_ok=True)
        self.kubectl(
            "apply", "--server-side", "-f", "-", input=json.dumps(addons.manifests(str(volumes)))
        )
        for ns, name in (
            ("kube-system", "coredns"),
            ("local-path-storage", "local-path-provisioner"),
        ):
            self.wait(
                f"deployment {ns}/{name} Available",
                lambda ns=ns, name=name: (
                    "True"
                    in self.kubectl(  # type: ignore[misc]
                        "get",
                        "deployment",
                        "-n",
                        ns,
                        name,
                        "-o",
                        "jsonpath={.status.conditions[?(@.type=='Available')].status}",
                        check=False,
                    )
                ),
                120,
                ("kubelet",),
            )

    # --- down --------------------------------------------------------------------------------
    def down(self) -> None:
        t0 = time.monotonic()
        self.node.destroy()
        say(f"cluster down in {time.monotonic() - t0:.1f}s; logs kept in _out/e2e/logs")


def env_lines(lay: Layout) -> str:
    """Shell variables for the kubectl wrapper (hack/e2e/kubectl)."""
    return f"RUN={lay.run}\nKUBECTL={lay.k8s_bin / 'kubectl'}\nKUBECONFIG={lay.kubeconfig}\n"


def main(argv: list[str]) -> int:
    cmd = argv[0] if argv else "status"
    c = Cluster()
    try:
        if cmd == "up":
            c.up()
        elif cmd == "down":
            c.down()
        elif cmd == "status":
            print("running" if c.node.holder() else "not running")
            return 0 if c.node.holder() else 1
        elif cmd == "env":
            print(env_lines(c.lay), end="")
        else:
            print("usage: python3 -m hack.e2e.cluster up|down|status|env", file=sys.stderr)
            return 2
    except ClusterError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0
