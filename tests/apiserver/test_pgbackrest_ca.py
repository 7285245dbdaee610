"""The pgBackRest CA Job's script and the pooler's certificate script, run for real.

The composed ServiceAccount, Role and RoleBinding are applied to a real kube-apiserver;
the Job's bash script runs on this machine with that ServiceAccount's token (as the
kubelet would mount it) and `openssl s_client` as its HTTP client. It must create the
Secret once, leave it alone on a second run, be refused every other Secret, and the
pooler's init-container script must sign a certificate for a pod IP with that CA.
"""

from __future__ import annotations

import base64
import shutil
import subprocess
from pathlib import Path
from urllib.parse import urlparse

import pytest
from apiserver_harness import ControlPlane, Kube

from function.builders import build, pgbackrest
from function.resolve import resolve_xr
from tests.helpers import xr

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl")


def _env(container: dict, extra: dict[str, str]) -> dict[str, str]:
    env = {e["name"]: e["value"] for e in container["env"] if "value" in e}
    return {"PATH": "/usr/bin:/bin", **env, **extra}


def _token(kube: Kube, ns: str, sa: str) -> str:
    body = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {}}
    path = f"/api/v1/namespaces/{ns}/serviceaccounts/{sa}/token"
    return str(kube.request("POST", path, body=body).obj["status"]["token"])


def test_ca_job_creates_once_and_pod_cert_verifies(
    kube: Kube, control_plane: ControlPlane, namespace: str, tmp_path: Path
) -> None:
    objs = build(resolve_xr(xr(namespace=namespace)))
    for key in ("pgbackrest-ca-serviceaccount", "pgbackrest-ca-role", "pgbackrest-ca-rolebinding"):
        obj = {**objs[key], "metadata": {**objs[key]["metadata"], "namespace": namespace}}
        kube.apply(obj)
    job = objs["pgbackrest-ca-job"]
    pod = job["spec"]["template"]["spec"]
    sa = tmp_path / "sa"
    sa.mkdir()
    (sa / "token").write_text(_token(kube, namespace, pod["serviceAccountName"]))
    (sa / "namespace").write_text(namespace)
    shutil.copy(control_plane.dir / "ca.crt", sa / "ca.crt")
    url = urlparse(control_plane.server)
    container = pod["containers"][0]
    script = container["command"][2]
    env = _env(
        container,
        {
            "SA_DIR": str(sa),
            "KUBERNETES_SERVICE_HOST": str(url.hostname),
            "KUBERNETES_SERVICE_PORT": str(url.port),
        },
    )
    env["HOME"] = str(tmp_path)

    def run() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["bash", "-c", script], env=env, capture_output=True, text=True, timeout=60
        )

    first = run()
    assert first.returncode == 0, first.stdout + first.stderr
    assert "created Secret" in first.stdout
    name = pgbackrest.ca_secret_name(resolve_xr(xr(namespace=namespace)))
    ref = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": namespace}}
    secret = kube.get(ref)
    assert secret["type"] == "kubernetes.io/tls"
    assert set(secret["data"]) == {"tls.crt", "tls.key", "ca.crt"}
    assert secret["metadata"]["labels"]["app.kubernetes.io/instance"] == "demo"

    second = run()
    assert second.returncode == 0, second.stdout + second.stderr
    assert "nothing to do" in second.stdout
    assert kube.get(ref)["metadata"]["resourceVersion"] == secret["metadata"]["resourceVersion"]

    # The Role reads only that Secret.
    other = {"apiVersion": "v1", "kind": "Secret", "metadata": {"namespace": namespace}}
    other["metadata"]["name"] = "someone-elses"
    kube.create({**other, "stringData": {"x": "y"}})
    probe = script.replace('"$path/$SECRET_NAME"', '"$path/someone-elses"', 1)
    denied = subprocess.run(["bash", "-c", probe], env=env, capture_output=True, text=True)
    assert denied.returncode == 1 and "HTTP '403'" in denied.stderr, denied.stderr

    # The pooler's init container signs a certificate for its pod IP with that CA.
    ca_dir, out = tmp_path / "ca", tmp_path / "out"
    ca_dir.mkdir()
    out.mkdir()
    for key, value in secret["data"].items():
        (ca_dir / key).write_bytes(base64.b64decode(value))
    sts = objs["zone1-pooler-statefulset"]["spec"]["template"]["spec"]
    init = next(c for c in sts["initContainers"] if c["name"] == "pgbackrest-cert")
    pod_script = init["command"][2]
    pod_env = _env(
        init,
        {
            "CA_DIR": str(ca_dir),
            "CERT_DIR": str(out),
            "POD_NAME": "demo-zone1-pooler-0",
            "POD_NAMESPACE": namespace,
            "POD_IP": "10.9.8.7",
            "HOME": str(tmp_path),
        },
    )
    made = subprocess.run(["bash", "-c", pod_script], env=pod_env, capture_output=True, text=True)
    assert made.returncode == 0, made.stdout + made.stderr
    assert {p.name for p in out.iterdir()} == {"ca.crt", "pgbackrest.crt", "pgbackrest.key"}
    text = subprocess.run(
        ["openssl", "x509", "-in", str(out / "pgbackrest.crt"), "-noout", "-text"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "IP Address:10.9.8.7" in text and "CN = pgbackrest" in text
    assert f"demo-zone1-pooler-0.demo-zone1-pooler.{namespace}.svc" in text
    assert (out / "pgbackrest.key").stat().st_mode & 0o077 == 0
