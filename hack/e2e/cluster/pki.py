"""Certificates, tokens and kubeconfigs of the node, made fresh for every `up`.

A CA signs the API server's serving certificate (the pods verify it through the
`kube-root-ca.crt` ConfigMap) and its client certificate for the kubelet; components
authenticate with static tokens under their RBAC bootstrap identities
(system:node:<node>, system:kube-controller-manager, ...), so authorization is the real
Node,RBAC pair. openssl does the cryptography.
"""

from __future__ import annotations

import json
import secrets
import subprocess
from pathlib import Path

from .layout import (
    APISERVER_PORT,
    CLUSTER_DOMAIN,
    KUBERNETES_SERVICE_IP,
    NODE_IP,
    NODE_NAME,
    Layout,
)

#: user -> (uid, groups) of every static token.
IDENTITIES = {
    "admin": ("admin", "system:masters"),
    "kubelet": (f"system:node:{NODE_NAME}", "system:nodes"),
    "kube-controller-manager": ("system:kube-controller-manager", ""),
    "kube-scheduler": ("system:kube-scheduler", ""),
    "kube-proxy": ("system:kube-proxy", ""),
}


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def _sign(d: Path, name: str, subject: str, ext: str) -> None:
    (d / f"{name}.ext").write_text(ext)
    _openssl(
        "req",
        "-new",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        f"{name}.key",
        "-subj",
        subject,
        "-out",
        f"{name}.csr",
        cwd=d,
    )
    _openssl(
        "x509",
        "-req",
        "-in",
        f"{name}.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "30",
        "-sha256",
        "-extfile",
        f"{name}.ext",
        "-out",
        f"{name}.crt",
        cwd=d,
    )


def make(layout: Layout) -> None:
    d = layout.p("pki")
    d.mkdir(parents=True, exist_ok=True)
    _openssl(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
        "-days",
        "30",
        "-subj",
        "/CN=function-multigres-e2e-ca",
        cwd=d,
    )
    names = [
        "kubernetes",
        "kubernetes.default",
        "kubernetes.default.svc",
        f"kubernetes.default.svc.{CLUSTER_DOMAIN}",
        "localhost",
    ]
    san = ",".join(
        [f"DNS:{n}" for n in names]
        + [f"IP:{ip}" for ip in ("127.0.0.1", NODE_IP, KUBERNETES_SERVICE_IP)]
    )
    base = "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n"
    server = f"{base}extendedKeyUsage=serverAuth\nsubjectAltName={san}\n"
    client = f"{base}extendedKeyUsage=clientAuth\n"
    _sign(d, "apiserver", "/CN=kube-apiserver", server)
    _sign(
        d, "apiserver-kubelet-client", "/O=system:masters/CN=kube-apiserver-kubelet-client", client
    )
    _openssl("genrsa", "-out", "sa.key", "2048", cwd=d)
    _openssl("rsa", "-in", "sa.key", "-pubout", "-out", "sa.pub", cwd=d)

    tokens = {user: secrets.token_hex(16) for user in IDENTITIES}
    lines = [f'{tokens[u]},{uid},{uid},"{groups}"' for u, (uid, groups) in IDENTITIES.items()]
    (d / "tokens.csv").write_text("\n".join(lines) + "\n")
    (d / "tokens.csv").chmod(0o600)
    kc = layout.p("kubeconfigs")
    kc.mkdir(exist_ok=True)
    for user, token in tokens.items():
        path = kc / f"{user}.json"
        path.write_text(json.dumps(kubeconfig(layout, user, token), indent=2))
        path.chmod(0o600)


def kubeconfig(layout: Layout, user: str, token: str) -> dict[str, object]:
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": NODE_NAME,
                "cluster": {
                    "server": f"https://{NODE_IP}:{APISERVER_PORT}",
                    "certificate-authority": str(layout.p("pki", "ca.crt")),
                },
            }
        ],
        "users": [{"name": user, "user": {"token": token}}],
        "contexts": [{"name": NODE_NAME, "context": {"cluster": NODE_NAME, "user": user}}],
        "current-context": NODE_NAME,
    }
