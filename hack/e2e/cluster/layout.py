"""Where the node lives and how it is addressed: one table, used by every module.

All addresses exist only inside the node's own network namespace (and the pods' ones
the CNI plugin makes inside it); the host's network is never touched.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

NODE_NAME = "fmg-e2e"
#: The node's InternalIP: a /32 on the namespace's loopback (the kernel here has no
#: dummy interfaces); pods reach it through their gateway on the bridge.
NODE_IP = "172.30.0.1"
BRIDGE = "cni0"
POD_CIDR = "10.244.0.0/24"
BRIDGE_IP = "10.244.0.1"
SERVICE_CIDR = "10.96.0.0/16"
KUBERNETES_SERVICE_IP = "10.96.0.1"
DNS_SERVICE_IP = "10.96.0.10"
CLUSTER_DOMAIN = "cluster.local"
APISERVER_PORT = 6443
#: The OCI registry beside the node (hack/crossplane/registry, started with the node):
#: on the node IP, which pods reach through their gateway and containerd directly. Plain
#: HTTP: go-containerregistry (crank's push, Crossplane's package fetcher) uses HTTP for
#: RFC 1918 addresses by itself, and containerd is told so by a hosts.toml
#: (config.containerd).
REGISTRY = f"{NODE_IP}:5000"
#: Values the kubelet (protectKernelDefaults) expects; bind-mounted over /proc/sys inside
#: the node's mount namespace so the kubelet never writes the host's sysctls.
KERNEL_DEFAULTS = {
    "vm/overcommit_memory": "1",
    "vm/panic_on_oom": "0",
    "kernel/panic": "10",
    "kernel/panic_on_oops": "1",
    "kernel/keys/root_maxkeys": "1000000",
    "kernel/keys/root_maxbytes": "25000000",
}
#: Paths the daemons hard-code, bound over from the run directory inside the node's
#: mount namespace (never created or changed on the host).
BIND_OVER = ("/run", "/var/lib", "/var/log")

ROOT = Path(__file__).resolve().parents[3]


def cache_dir() -> Path:
    """The install scripts' cache (hack/lib/gobuild.sh: fmg_cache)."""
    if os.environ.get("FMG_CACHE"):
        return Path(os.environ["FMG_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "function-multigres"


def _env_file(path: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            k, v = line.split("=", 1)
            out[k] = v.strip('"')
    return out


@dataclass(frozen=True)
class Layout:
    """The run directory (state, logs, PKI) and the cached binaries of one cluster."""

    run: Path
    cache: Path

    @classmethod
    def default(cls) -> Layout:
        run = os.environ.get("FMG_E2E_RUN", "/var/tmp/function-multigres-e2e")
        return cls(Path(run), cache_dir())

    @property
    def cgroup_root(self) -> str:
        """Top-level cgroup (in every hierarchy) the kubelet nests pods under: one per run
        directory, so two clusters (FMG_E2E_RUN) can run side by side."""
        digest = hashlib.sha256(str(self.run).encode()).hexdigest()[:8]
        return f"fmg-e2e-{digest}"

    @property
    def k8s_bin(self) -> Path:
        version = _env_file(ROOT / "hack/apiserver/versions.env")["K8S_VERSION"]
        return Path(os.environ.get("APISERVER_CACHE", self.cache / "k8s" / version)) / "bin"

    @property
    def tools(self) -> Path:
        return self.cache / "tools"

    @property
    def images_index(self) -> Path:
        return self.cache / "images" / "index.json"

    @property
    def crossplane_index(self) -> Path:
        """What hack/crossplane/install.sh built: Crossplane's image, chart, the registry."""
        return self.cache / "crossplane" / "index.json"

    def p(self, *parts: str) -> Path:
        return self.run.joinpath(*parts)

    @property
    def logs(self) -> Path:
        return self.p("logs")

    @property
    def kubeconfig(self) -> Path:
        return self.p("kubeconfigs", "admin.json")

    @property
    def containerd_sock(self) -> Path:
        return self.p("containerd", "containerd.sock")

    @property
    def holder_pid_file(self) -> Path:
        return self.p("holder.pid")
