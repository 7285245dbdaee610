"""Command lines and configuration files of the node's daemons: one function each.

The settings that are not Kubernetes defaults are the ones this machine kind needs
(docs/testing-e2e.md says why for each): cgroup v1 with a cgroup root of our own,
`restrict_oom_score_adj` (root here lacks CAP_SYS_RESOURCE), image GC off (nothing can
be pulled again), protectKernelDefaults (the kubelet checks sysctls instead of writing
them), and kube-proxy leaving the global conntrack sysctls alone.
"""

from __future__ import annotations

import json
from pathlib import Path

from . import layout as L
from .layout import Layout

Daemon = tuple[str, list[str]]


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def etcd(lay: Layout) -> Daemon:
    return "etcd", [
        str(lay.k8s_bin / "etcd"),
        "--name=default",
        f"--data-dir={lay.p('etcd')}",
        "--listen-client-urls=http://127.0.0.1:2379",
        "--advertise-client-urls=http://127.0.0.1:2379",
        "--listen-peer-urls=http://127.0.0.1:2380",
        "--initial-advertise-peer-urls=http://127.0.0.1:2380",
        "--initial-cluster=default=http://127.0.0.1:2380",
        "--listen-metrics-urls=http://127.0.0.1:2381",
        # A throw-away test cluster: no fsync, so a slow disk does not stall the API.
        "--unsafe-no-fsync",
        "--log-level=warn",
    ]


def apiserver(lay: Layout) -> Daemon:
    pki = lay.p("pki")
    return "kube-apiserver", [
        str(lay.k8s_bin / "kube-apiserver"),
        "--etcd-servers=http://127.0.0.1:2379",
        f"--secure-port={L.APISERVER_PORT}",
        "--bind-address=0.0.0.0",
        f"--advertise-address={L.NODE_IP}",
        f"--tls-cert-file={pki / 'apiserver.crt'}",
        f"--tls-private-key-file={pki / 'apiserver.key'}",
        f"--client-ca-file={pki / 'ca.crt'}",
        f"--token-auth-file={pki / 'tokens.csv'}",
        "--authorization-mode=Node,RBAC",
        "--enable-admission-plugins=NodeRestriction",
        f"--service-cluster-ip-range={L.SERVICE_CIDR}",
        f"--service-account-issuer=https://kubernetes.default.svc.{L.CLUSTER_DOMAIN}",
        f"--service-account-key-file={pki / 'sa.pub'}",
        f"--service-account-signing-key-file={pki / 'sa.key'}",
        f"--kubelet-client-certificate={pki / 'apiserver-kubelet-client.crt'}",
        f"--kubelet-client-key={pki / 'apiserver-kubelet-client.key'}",
        "--kubelet-preferred-address-types=InternalIP,Hostname",
        "--allow-privileged=true",
        "--profiling=false",
        "--v=1",
    ]


def controller_manager(lay: Layout) -> Daemon:
    pki = lay.p("pki")
    return "kube-controller-manager", [
        str(lay.k8s_bin / "kube-controller-manager"),
        f"--kubeconfig={lay.p('kubeconfigs', 'kube-controller-manager.json')}",
        f"--authentication-kubeconfig={lay.p('kubeconfigs', 'kube-controller-manager.json')}",
        f"--authorization-kubeconfig={lay.p('kubeconfigs', 'kube-controller-manager.json')}",
        # Node IPAM would need node.spec.podCIDR; the CNI config carries the range.
        "--controllers=*,-node-ipam-controller",
        "--use-service-account-credentials=true",
        f"--service-account-private-key-file={pki / 'sa.key'}",
        f"--root-ca-file={pki / 'ca.crt'}",
        f"--cluster-cidr={L.POD_CIDR}",
        f"--service-cluster-ip-range={L.SERVICE_CIDR}",
        "--bind-address=127.0.0.1",
        "--leader-elect=false",
        "--v=1",
    ]


def scheduler(lay: Layout) -> Daemon:
    kc = lay.p("kubeconfigs", "kube-scheduler.json")
    return "kube-scheduler", [
        str(lay.k8s_bin / "kube-scheduler"),
        f"--kubeconfig={kc}",
        f"--authentication-kubeconfig={kc}",
        f"--authorization-kubeconfig={kc}",
        "--bind-address=127.0.0.1",
        "--leader-elect=false",
        "--v=1",
    ]


def registry(lay: Layout, binary: str) -> Daemon:
    """The OCI registry beside the node; blobs on disk in the run directory."""
    return "registry", [binary, f"--address={L.REGISTRY}", f"--blobs-dir={lay.p('registry')}"]


def _registry_hosts(lay: Layout, registries: dict[str, str]) -> str:
    """containerd's `config_path` (its hosts API, 1.5+): one hosts.toml per registry."""
    certs = lay.p("containerd", "certs.d")
    for host, url in registries.items():
        _write(
            certs / host / "hosts.toml",
            f'server = "{url}"\n\n[host."{url}"]\n  capabilities = ["pull", "resolve"]\n',
        )
    return f"""  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "{certs}"
"""


def containerd(lay: Layout, pause_image: str, registries: dict[str, str] | None = None) -> Daemon:
    """containerd's CRI; `registries` (host[:port] -> endpoint URL, e.g. plain HTTP) adds a
    hosts.toml for each under `config_path`; without it the configuration is unchanged."""
    cni = lay.p("cni")
    conf = f"""version = 2
root = "{lay.p("containerd", "root")}"
state = "{lay.p("containerd", "state")}"
[grpc]
  address = "{lay.containerd_sock}"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{pause_image}"
  # root here lacks CAP_SYS_RESOURCE: runc cannot lower oom_score_adj below the parent's.
  restrict_oom_score_adj = true
  enable_selinux = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "{cni / "net.d"}"
"""
    if registries:
        conf += _registry_hosts(lay, registries)
    path = _write(lay.p("containerd", "config.toml"), conf)
    conflist = {
        "cniVersion": "0.4.0",
        "name": L.NODE_NAME,
        "plugins": [
            {
                "type": "bridge",
                "bridge": L.BRIDGE,
                "isGateway": True,
                "ipMasq": True,
                "hairpinMode": True,
                "ipam": {
                    "type": "host-local",
                    "ranges": [[{"subnet": L.POD_CIDR, "gateway": L.BRIDGE_IP}]],
                    "routes": [{"dst": "0.0.0.0/0"}],
                    "dataDir": str(cni / "ipam"),
                },
            },
            {"type": "portmap", "capabilities": {"portMappings": True}},
        ],
    }
    _write(cni / "net.d" / "10-bridge.conflist", json.dumps(conflist, indent=2))
    return "containerd", ["/usr/bin/containerd", f"--config={path}", "--log-level=warn"]


def kubelet(lay: Layout) -> Daemon:
    conf = {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        "containerRuntimeEndpoint": f"unix://{lay.containerd_sock}",
        # cgroup v1 (hybrid) here: allowed with a warning; cgroupfs, our own subtree.
        "failCgroupV1": False,
        "cgroupDriver": "cgroupfs",
        "cgroupRoot": f"/{lay.cgroup_root}",
        "protectKernelDefaults": True,
        # Nothing can be pulled again: never garbage-collect an image.
        "imageGCHighThresholdPercent": 100,
        "imageGCLowThresholdPercent": 99,
        "evictionHard": {
            "memory.available": "100Mi",
            "nodefs.available": "1%",
            "imagefs.available": "1%",
        },
        "authentication": {
            "anonymous": {"enabled": False},
            "webhook": {"enabled": True},
            "x509": {"clientCAFile": str(lay.p("pki", "ca.crt"))},
        },
        "authorization": {"mode": "Webhook"},
        "clusterDNS": [L.DNS_SERVICE_IP],
        "clusterDomain": L.CLUSTER_DOMAIN,
        "resolvConf": str(_write(lay.p("kubelet-resolv.conf"), "")),
        "failSwapOn": False,
        "serializeImagePulls": False,
        "readOnlyPort": 0,
        "healthzBindAddress": "127.0.0.1",
        "healthzPort": 10248,
        "maxPods": 110,
    }
    path = _write(lay.p("kubelet", "config.json"), json.dumps(conf, indent=2))
    return "kubelet", [
        str(lay.k8s_bin / "kubelet"),
        f"--config={path}",
        f"--kubeconfig={lay.p('kubeconfigs', 'kubelet.json')}",
        f"--node-ip={L.NODE_IP}",
        f"--hostname-override={L.NODE_NAME}",
        "--v=1",
    ]


def kube_proxy(lay: Layout) -> Daemon:
    conf = {
        "apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
        "kind": "KubeProxyConfiguration",
        "clientConnection": {"kubeconfig": str(lay.p("kubeconfigs", "kube-proxy.json"))},
        "mode": "iptables",
        "clusterCIDR": L.POD_CIDR,
        "hostnameOverride": L.NODE_NAME,
        "healthzBindAddress": "127.0.0.1:10256",
        "metricsBindAddress": "127.0.0.1:10249",
        # nf_conntrack_max and friends are global here: 0 leaves them as they are.
        "conntrack": {
            "maxPerCore": 0,
            "min": 0,
            "tcpEstablishedTimeout": "0s",
            "tcpCloseWaitTimeout": "0s",
        },
    }
    path = _write(lay.p("kube-proxy", "config.json"), json.dumps(conf, indent=2))
    return "kube-proxy", [str(lay.k8s_bin / "kube-proxy"), f"--config={path}", "--v=1"]
