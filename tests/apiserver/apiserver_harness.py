"""A throw-away Kubernetes control plane (etcd + kube-apiserver) for the API-server tier.

`ControlPlane` builds nothing itself: `hack/apiserver/install.sh` builds (or reuses) the
pinned binaries. It then generates certificates with the `openssl` CLI, starts etcd and
kube-apiserver on free loopback ports, waits for /readyz and hands out a `Kube` client.
There is no controller-manager and no scheduler: objects are stored and admitted, never
reconciled, so workload pods are never created by a controller — tests create bare Pods
from pod templates (dry run) to make Pod Security admission judge them.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
import urllib3

ROOT = Path(__file__).resolve().parents[2]
INSTALL = ROOT / "hack" / "apiserver" / "install.sh"
ADMIN_USER = "admin"
FIELD_MANAGER = "crossplane"
PSA_LEVEL = "restricted"

# Admission plugins on top of the defaults. PodSecurity is on by default since 1.25 but
# is named so a default change can not silently turn the tier toothless.
ADMISSION_PLUGINS = (
    "NamespaceLifecycle,LimitRanger,ServiceAccount,PodSecurity,Priority,"
    "DefaultTolerationSeconds,DefaultStorageClass,PersistentVolumeClaimResize,"
    "RuntimeClass,ResourceQuota,StorageObjectInUseProtection,"
    "MutatingAdmissionWebhook,ValidatingAdmissionPolicy,ValidatingAdmissionWebhook"
)

Obj = dict[str, Any]


class ApiError(Exception):
    """A non-2xx answer from the API server; `.message` is the Status message."""

    def __init__(self, method: str, url: str, status: int, body: Any):
        self.method, self.url, self.status, self.body = method, url, status, body
        self.message = body.get("message", "") if isinstance(body, dict) else str(body)
        self.reason = body.get("reason", "") if isinstance(body, dict) else ""
        super().__init__(f"{method} {url} -> {status} {self.reason}: {self.message}")


@dataclass
class Result:
    """A successful answer: the object and any `Warning:` headers the server sent."""

    obj: Obj
    warnings: list[str] = field(default_factory=list)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _warnings(resp: requests.Response) -> list[str]:
    # RFC 7234 warning headers: `299 - "text"`; requests joins repeats with ", ".
    raw = resp.raw.headers.getlist("Warning") if resp.raw is not None else []
    out = []
    for w in raw:
        text = w.split(" ", 2)[-1].strip()
        out.append(text[1:-1] if text.startswith('"') and text.endswith('"') else text)
    return out


class Kube:
    """A minimal REST client: discovery, server-side apply, create, get, delete."""

    def __init__(self, server: str, token: str, ca_file: str):
        self.server = server.rstrip("/")
        self.session = requests.Session()
        # Ignore REQUESTS_CA_BUNDLE / *_PROXY from the environment: they would override
        # `verify` and could route loopback traffic through a proxy.
        self.session.trust_env = False
        self.session.headers["Authorization"] = f"Bearer {token}"
        self.session.headers["Accept"] = "application/json"
        self.session.verify = ca_file
        self._resources: dict[str, dict[str, tuple[str, bool]]] = {}

    # -- transport ---------------------------------------------------------------------
    def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        body: Any = None,
        content_type: str = "application/json",
        timeout: float = 30,
    ) -> Result:
        url = self.server + path
        data = None if body is None else json.dumps(body)
        headers = {"Content-Type": content_type} if body is not None else {}
        resp = self.session.request(
            method, url, params=params, data=data, headers=headers, timeout=timeout
        )
        try:
            payload = resp.json()
        except ValueError:
            payload = resp.text
        if resp.status_code >= 300:
            raise ApiError(method, resp.url, resp.status_code, payload)
        return Result(payload if isinstance(payload, dict) else {"raw": payload}, _warnings(resp))

    # -- discovery ---------------------------------------------------------------------
    @staticmethod
    def _group_path(api_version: str) -> str:
        return f"/api/{api_version}" if "/" not in api_version else f"/apis/{api_version}"

    def resource_for(self, api_version: str, kind: str) -> tuple[str, bool]:
        """(plural, namespaced) of a kind; rediscovers once on a miss (new CRDs)."""
        for attempt in range(2):
            if attempt or api_version not in self._resources:
                try:
                    lst = self.request("GET", self._group_path(api_version)).obj
                except ApiError as e:
                    if e.status != 404 or attempt:
                        raise
                    continue
                self._resources[api_version] = {
                    r["kind"]: (r["name"], r["namespaced"])
                    for r in lst.get("resources", [])
                    if "/" not in r["name"]
                }
            found = self._resources.get(api_version, {}).get(kind)
            if found:
                return found
        raise KeyError(f"the server does not serve {kind} in {api_version}")

    def path(self, obj: Obj, *, named: bool = True) -> str:
        plural, namespaced = self.resource_for(obj["apiVersion"], obj["kind"])
        meta = obj.get("metadata", {})
        p = self._group_path(obj["apiVersion"])
        if namespaced:
            ns = meta.get("namespace")
            if not ns:
                raise ValueError(f"{obj['kind']} {meta.get('name')} needs a namespace")
            p += f"/namespaces/{ns}"
        p += f"/{plural}"
        if named:
            p += f"/{meta['name']}"
        return p

    # -- verbs -------------------------------------------------------------------------
    def apply(
        self, obj: Obj, *, dry_run: bool = False, manager: str = FIELD_MANAGER, force: bool = True
    ) -> Result:
        """Server-side apply, as Crossplane does (fieldManager, force=true)."""
        params: dict[str, Any] = {"fieldManager": manager, "force": "true" if force else "false"}
        if dry_run:
            params["dryRun"] = "All"
        return self.request(
            "PATCH",
            self.path(obj),
            params=params,
            body=obj,
            content_type="application/apply-patch+yaml",  # JSON is YAML
        )

    def create(self, obj: Obj, *, dry_run: bool = False, strict: bool = False) -> Result:
        """POST; `strict` refuses unknown fields (fieldValidation=Strict, kubectl's default)."""
        params = {"dryRun": "All"} if dry_run else {}
        if strict:
            params["fieldValidation"] = "Strict"
        return self.request("POST", self.path(obj, named=False), params=params, body=obj)

    def replace(self, obj: Obj, *, strict: bool = True) -> Result:
        """PUT over the live object (its resourceVersion), like `kubectl replace`."""
        obj = copy.deepcopy(obj)
        obj["metadata"]["resourceVersion"] = self.get(obj)["metadata"]["resourceVersion"]
        params = {"fieldValidation": "Strict"} if strict else None
        return self.request("PUT", self.path(obj), params=params, body=obj)

    def get(self, obj: Obj) -> Obj:
        return self.request("GET", self.path(obj)).obj

    def delete(self, obj: Obj, *, missing_ok: bool = True) -> None:
        try:
            self.request("DELETE", self.path(obj))
        except ApiError as e:
            if not (missing_ok and e.status == 404):
                raise

    # -- helpers -----------------------------------------------------------------------
    def create_namespace(self, name: str, *, level: str = PSA_LEVEL) -> Obj:
        """A namespace enforcing (and warning at) Pod Security `level`, with the `default`
        ServiceAccount the absent controller-manager would have created."""
        labels = {}
        for mode in ("enforce", "warn"):
            labels[f"pod-security.kubernetes.io/{mode}"] = level
            labels[f"pod-security.kubernetes.io/{mode}-version"] = "latest"
        ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}
        out = self.create(ns).obj
        self.create(
            {
                "apiVersion": "v1",
                "kind": "ServiceAccount",
                "metadata": {"name": "default", "namespace": name},
            }
        )
        return out

    def install_crd(self, crd: Obj, *, timeout: float = 30) -> Obj:
        """Apply a CRD and wait until it is Established and served."""
        self.apply(crd)
        group = crd["spec"]["group"]
        kind = crd["spec"]["names"]["kind"]
        versions = [v["name"] for v in crd["spec"]["versions"] if v.get("served", True)]
        deadline = time.monotonic() + timeout
        while True:
            live = self.get(crd)
            conds = {c["type"]: c for c in (live.get("status") or {}).get("conditions") or []}
            if conds.get("Established", {}).get("status") == "True":
                try:
                    for v in versions:
                        self._resources.pop(f"{group}/{v}", None)
                        self.resource_for(f"{group}/{v}", kind)
                    return live
                except KeyError:
                    pass
                except ApiError as e:
                    # Established can come before the group is in discovery: under load
                    # the group path answered 404 for a moment (seen in make test).
                    if e.status != 404:
                        raise
            if time.monotonic() > deadline:
                raise TimeoutError(f"CRD {crd['metadata']['name']} not established: {conds}")
            time.sleep(0.2)


# -- pods from workload templates ------------------------------------------------------
def pod_templates(obj: Obj) -> list[tuple[Obj, list[Obj]]]:
    """(pod template, volumeClaimTemplates) of a workload, [] for other kinds."""
    spec = obj.get("spec") or {}
    kind = obj.get("kind")
    if kind in ("Deployment", "ReplicaSet", "DaemonSet", "Job"):
        return [(spec["template"], [])]
    if kind == "StatefulSet":
        return [(spec["template"], spec.get("volumeClaimTemplates") or [])]
    if kind == "CronJob":
        return [(spec["jobTemplate"]["spec"]["template"], [])]
    if kind == "Pod":
        return [({"metadata": obj.get("metadata", {}), "spec": spec}, [])]
    return []


def bare_pods(obj: Obj) -> list[Obj]:
    """The Pod(s) a controller would create from a workload, as the controller builds them
    in the parts admission judges: the template's metadata and spec, plus (StatefulSet)
    one `persistentVolumeClaim` volume per volumeClaimTemplate, named
    `<template>-<set>-<ordinal>` like the StatefulSet controller does."""
    pods = []
    meta = obj["metadata"]
    for template, claims in pod_templates(obj):
        tmeta = copy.deepcopy(template.get("metadata") or {})
        spec = copy.deepcopy(template["spec"])
        if claims:
            vols = spec.setdefault("volumes", [])
            for c in claims:
                cname = c["metadata"]["name"]
                vols.append(
                    {
                        "name": cname,
                        "persistentVolumeClaim": {"claimName": f"{cname}-{meta['name']}-0"},
                    }
                )
        if obj.get("kind") == "StatefulSet":
            name = f"{meta['name']}-0"
        else:
            name = f"{meta['name'][:56]}-pod"
        pods.append(
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {
                    "name": name,
                    "namespace": meta.get("namespace"),
                    "labels": tmeta.get("labels") or {},
                    "annotations": tmeta.get("annotations") or {},
                },
                "spec": spec,
            }
        )
    return pods


# -- the control plane -----------------------------------------------------------------
def _run(cmd: list[str], cwd: Path) -> None:
    subprocess.run(cmd, cwd=cwd, check=True, capture_output=True, text=True)


def make_certs(d: Path) -> None:
    """CA, a serving certificate for 127.0.0.1/localhost, and a service-account key."""
    days = "2"
    _run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", days,
            "-keyout", "ca.key", "-out", "ca.crt", "-subj", "/CN=function-multigres-test-ca",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign,digitalSignature",
        ],
        d,
    )  # fmt: skip
    (d / "server.ext").write_text(
        "basicConstraints=critical,CA:FALSE\n"
        "keyUsage=critical,digitalSignature,keyEncipherment\n"
        "extendedKeyUsage=serverAuth\n"
        "subjectKeyIdentifier=hash\n"
        "authorityKeyIdentifier=keyid,issuer\n"
        "subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,"
        "DNS:kubernetes.default,DNS:kubernetes.default.svc\n"
    )
    _run(
        [
            "openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key",
            "-out", "server.csr", "-subj", "/CN=kube-apiserver",
        ],
        d,
    )  # fmt: skip
    _run(
        [
            "openssl", "x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
            "-CAcreateserial", "-days", days, "-out", "server.crt", "-extfile", "server.ext",
        ],
        d,
    )  # fmt: skip
    _run(["openssl", "genrsa", "-out", "sa.key", "2048"], d)
    _run(["openssl", "rsa", "-in", "sa.key", "-pubout", "-out", "sa.pub"], d)
    for key in ("ca.key", "server.key", "sa.key"):
        os.chmod(d / key, 0o600)


def _tail(path: Path, n: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-n:])
    except OSError:
        return "(no log)"


def _die_with_parent() -> None:
    """In the child before exec: kill it when pytest dies (even by SIGKILL), so a killed
    test run leaves no etcd or kube-apiserver behind. SIGKILL, not SIGTERM: an orphaned
    kube-apiserver whose etcd is gone hangs in graceful shutdown. Linux only."""
    try:
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)
    except Exception:
        pass


def _stop(proc: subprocess.Popen[bytes] | None, timeout: float = 15) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=timeout)


class ControlPlane:
    """etcd + kube-apiserver in a temp dir; use as a context manager."""

    def __init__(self, bindir: Path, *, keep_dir: bool = False):
        self.bindir = bindir
        self.keep_dir = keep_dir
        self.dir = Path(tempfile.mkdtemp(prefix="mg-apiserver-"))
        self.token = os.urandom(16).hex()
        self.etcd: subprocess.Popen[bytes] | None = None
        self.apiserver: subprocess.Popen[bytes] | None = None
        self.server = ""
        self.kubeconfig = self.dir / "kubeconfig"
        self.started_in = 0.0

    def __enter__(self) -> ControlPlane:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _spawn(self, name: str, cmd: list[str]) -> subprocess.Popen[bytes]:
        log = open(self.dir / f"{name}.log", "wb")  # noqa: SIM115 - closed by the child's exit
        try:
            return subprocess.Popen(
                cmd,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=self.dir,
                preexec_fn=_die_with_parent,
            )
        finally:
            log.close()

    def start(self) -> None:
        t0 = time.monotonic()
        d = self.dir
        make_certs(d)
        (d / "tokens.csv").write_text(f'{self.token},{ADMIN_USER},{ADMIN_USER},"system:masters"\n')

        client, peer = free_port(), free_port()
        etcd_url = f"http://127.0.0.1:{client}"
        self.etcd = self._spawn(
            "etcd",
            [
                str(self.bindir / "etcd"),
                "--name=test",
                f"--data-dir={d / 'etcd-data'}",
                f"--listen-client-urls={etcd_url}",
                f"--advertise-client-urls={etcd_url}",
                f"--listen-peer-urls=http://127.0.0.1:{peer}",
                f"--initial-advertise-peer-urls=http://127.0.0.1:{peer}",
                f"--initial-cluster=test=http://127.0.0.1:{peer}",
                "--unsafe-no-fsync=true",  # throw-away data: no fsync, much faster on CI disks
                "--log-level=warn",
            ],
        )
        plain = requests.Session()
        plain.trust_env = False
        self._wait(
            "etcd", lambda: plain.get(f"{etcd_url}/health", timeout=2).json()["health"] == "true"
        )

        port = free_port()
        self.server = f"https://127.0.0.1:{port}"
        self.apiserver = self._spawn(
            "kube-apiserver",
            [
                str(self.bindir / "kube-apiserver"),
                f"--etcd-servers={etcd_url}",
                "--bind-address=127.0.0.1",
                "--advertise-address=127.0.0.1",
                "--endpoint-reconciler-type=none",  # loopback can not back the kubernetes Service
                f"--secure-port={port}",
                f"--cert-dir={d}",
                f"--tls-cert-file={d / 'server.crt'}",
                f"--tls-private-key-file={d / 'server.key'}",
                f"--client-ca-file={d / 'ca.crt'}",
                f"--token-auth-file={d / 'tokens.csv'}",
                "--authorization-mode=RBAC",  # the admin token is system:masters
                f"--service-account-key-file={d / 'sa.pub'}",
                f"--service-account-signing-key-file={d / 'sa.key'}",
                "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
                "--service-cluster-ip-range=10.96.0.0/16",
                f"--enable-admission-plugins={ADMISSION_PLUGINS}",
                "--allow-privileged=false",
                "--profiling=false",
                "--v=1",
            ],
        )
        kube = Kube(self.server, self.token, str(d / "ca.crt"))
        self._wait("kube-apiserver", lambda: kube.request("GET", "/readyz").obj is not None)
        self.kube = kube
        self._write_kubeconfig()
        self.started_in = time.monotonic() - t0

    def _wait(self, name: str, probe: Any, timeout: float = 90) -> None:
        proc = self.etcd if name == "etcd" else self.apiserver
        deadline = time.monotonic() + timeout
        last: object = None
        while time.monotonic() < deadline:
            if proc is not None and proc.poll() is not None:
                raise RuntimeError(
                    f"{name} exited with {proc.returncode}:\n{_tail(self.dir / f'{name}.log')}"
                )
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", urllib3.exceptions.InsecureRequestWarning)
                    if probe():
                        return
            except Exception as e:
                last = e
            time.sleep(0.25)
        raise TimeoutError(
            f"{name} not ready after {timeout}s ({last}):\n{_tail(self.dir / f'{name}.log')}"
        )

    def _write_kubeconfig(self) -> None:
        cfg = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": "test",
                    "cluster": {
                        "server": self.server,
                        "certificate-authority": str(self.dir / "ca.crt"),
                    },
                }
            ],
            "users": [{"name": ADMIN_USER, "user": {"token": self.token}}],
            "contexts": [{"name": "test", "context": {"cluster": "test", "user": ADMIN_USER}}],
            "current-context": "test",
        }
        self.kubeconfig.write_text(json.dumps(cfg, indent=2))
        os.chmod(self.kubeconfig, 0o600)

    def logs(self, name: str = "kube-apiserver", n: int = 60) -> str:
        return _tail(self.dir / f"{name}.log", n)

    def stop(self) -> None:
        # The API server first (it holds etcd connections), then etcd.
        _stop(self.apiserver)
        _stop(self.etcd)
        if not self.keep_dir:
            shutil.rmtree(self.dir, ignore_errors=True)


def install(env: dict[str, str] | None = None) -> Path:
    """Run hack/apiserver/install.sh (progress on stderr); return the bin directory."""
    out = subprocess.run(
        [str(INSTALL), "--print-bindir"],
        check=True,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    return Path(out.stdout.strip().splitlines()[-1])


@contextlib.contextmanager
def control_plane(bindir: Path, *, keep_dir: bool = False) -> Iterator[ControlPlane]:
    with ControlPlane(bindir, keep_dir=keep_dir) as cp:
        yield cp
