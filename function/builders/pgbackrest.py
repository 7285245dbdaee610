"""pgBackRest TLS: a CA made once in the cluster, and a certificate per pooler pod.

A standby's backup reaches the primary's pgBackRest TLS server at the primary's
registered hostname, which is its pod IP (multipooler.py says why), so no certificate
made in advance can name it. Each pooler pod therefore signs its own certificate at start
(init container `pgbackrest-cert`: its pod IP and DNS name, CN `pgbackrest`, the name the
TLS server authorises) with a CA that lives in a Secret:

- by default a composed Job generates the CA once and creates the Secret through the API
  (create only: an existing Secret is never replaced, so the Job exits 0 when it is there);
- with `spec.backup.pgbackrestTLS.issuerRef`, cert-manager issues the CA instead.

The function stays pure: the key material is made in the cluster, never here. The images
have openssl (pgbackrest -> postgresql-common -> ssl-cert -> openssl) but no kubectl or
curl, so the Job speaks HTTP to the API server through `openssl s_client`.
"""

from __future__ import annotations

import json

from function.builders import common as k
from function.builders import shell
from function.builders.common import Obj
from function.defaults.upstream import PATHS, PGBACKREST_CERT_FILES, PGBACKREST_CLIENT_CN, UIDS
from function.resolve import Cluster

COMPONENT = "pgbackrest-tls"
SA_TOKEN_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
CA_JOB_SCRIPT = shell.script("pgbackrest-ca.sh")
POD_CERT_SCRIPT = shell.script("pgbackrest-cert.sh")

CA_DAYS = 3650
LEAF_DAYS = 3650  # re-issued at every pod start anyway


def uses_cert_manager(c: Cluster) -> bool:
    return c.spec.backup.pgbackrest_tls.issuer_ref is not None


def ca_secret_name(c: Cluster) -> str:
    """Different names per source, so switching rolls the poolers onto the new CA."""
    suffix = "-cm" if uses_cert_manager(c) else ""
    return k.fit(f"{c.name}-pgbackrest-ca{suffix}")


def job_account_name(c: Cluster) -> str:
    return k.fit(f"{c.name}-pgbackrest-ca")


def _rbac(c: Cluster) -> dict[str, Obj]:
    """The Job may read only its Secret; `create` cannot be narrowed by name in RBAC."""
    name = job_account_name(c)
    meta = k.metadata(c, name, COMPONENT)
    return {
        "pgbackrest-ca-serviceaccount": {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": meta,
            "automountServiceAccountToken": False,
        },
        "pgbackrest-ca-role": {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": k.metadata(c, name, COMPONENT),
            "rules": [
                {
                    "apiGroups": [""],
                    "resources": ["secrets"],
                    "resourceNames": [ca_secret_name(c)],
                    "verbs": ["get"],
                },
                {"apiGroups": [""], "resources": ["secrets"], "verbs": ["create"]},
            ],
        },
        "pgbackrest-ca-rolebinding": {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": k.metadata(c, name, COMPONENT),
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
            "subjects": [{"kind": "ServiceAccount", "name": name}],
        },
    }


def ca_job(c: Cluster) -> Obj:
    labels = k.labels(c, COMPONENT)
    env = [
        {"name": "SA_DIR", "value": SA_TOKEN_DIR},
        {"name": "SECRET_NAME", "value": ca_secret_name(c)},
        {"name": "SECRET_LABELS", "value": json.dumps(labels, sort_keys=True)},
        {"name": "CA_COMMON_NAME", "value": f"{c.name} pgBackRest CA"},
        {"name": "CA_DAYS", "value": str(CA_DAYS)},
        {"name": "HOME", "value": PATHS["tmp"]},
    ]
    mounts = [{"name": "tmp", "mountPath": PATHS["tmp"]}]
    container = shell.script_container(
        c, "generate-ca", c.spec.images.pgctld, CA_JOB_SCRIPT, env, ("32Mi", "64Mi"), mounts
    )
    pod = k.pod_spec(
        c,
        UIDS["pgctld"],
        k.scheduling(c, None, COMPONENT),
        containers=[container],
        volumes=[{"name": "tmp", "emptyDir": {}}],
        restartPolicy="OnFailure",
        serviceAccountName=job_account_name(c),
        automountServiceAccountToken=True,
    )
    template = {"metadata": k.pod_metadata(c, COMPONENT), "spec": pod}
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": k.metadata(
            c, k.fit(f"{c.name}-pgbackrest-ca-{k.short_hash(template)}"), COMPONENT
        ),
        "spec": {"backoffLimit": 10, "template": template},
    }


def ca_certificate(c: Cluster) -> Obj:
    """cert-manager issues the CA (isCA) into the Secret the poolers sign with."""
    ref = c.spec.backup.pgbackrest_tls.issuer_ref
    assert ref is not None
    return {
        "apiVersion": "cert-manager.io/v1",
        "kind": "Certificate",
        "metadata": k.metadata(c, ca_secret_name(c), COMPONENT),
        "spec": {
            "isCA": True,
            "commonName": f"{c.name} pgBackRest CA",
            "secretName": ca_secret_name(c),
            "duration": f"{CA_DAYS * 24}h",
            "privateKey": {"algorithm": "ECDSA", "size": 256},
            "usages": ["cert sign", "crl sign"],
            "issuerRef": {"name": ref.name, "kind": ref.kind, "group": ref.group},
        },
    }


def build(c: Cluster) -> dict[str, Obj]:
    if uses_cert_manager(c):
        return {"pgbackrest-ca-certificate": ca_certificate(c)}
    return {**_rbac(c), "pgbackrest-ca-job": ca_job(c)}


# --- in the pooler pod ---------------------------------------------------------------


def pod_volumes(c: Cluster) -> list[Obj]:
    """The CA Secret (only the init container mounts it) and the per-pod cert directory.

    A pod whose Secret does not exist yet stays ContainerCreating until the Job made it.
    """
    return [
        {
            "name": "pgbackrest-ca",
            "secret": {"secretName": ca_secret_name(c), "defaultMode": 0o440},
        },
        {"name": "pgbackrest-certs", "emptyDir": {"medium": "Memory", "sizeLimit": "1Mi"}},
    ]


def cert_mount(read_only: bool = True) -> Obj:
    m: Obj = {"name": "pgbackrest-certs", "mountPath": PATHS["pgbackrest_cert_dir"]}
    if read_only:
        m["readOnly"] = True
    return m


def cert_init_container(c: Cluster, subdomain: str) -> Obj:
    env = [
        *k.pod_env(),
        {"name": "SUBDOMAIN", "value": subdomain},
        {"name": "CA_DIR", "value": PATHS["pgbackrest_ca_dir"]},
        {"name": "CERT_DIR", "value": PATHS["pgbackrest_cert_dir"]},
        {"name": "KEY_FILE", "value": PGBACKREST_CERT_FILES["key"]},
        {"name": "CERT_FILE", "value": PGBACKREST_CERT_FILES["cert"]},
        {"name": "CA_FILE", "value": PGBACKREST_CERT_FILES["ca"]},
        {"name": "CLIENT_CN", "value": PGBACKREST_CLIENT_CN},
        {"name": "LEAF_DAYS", "value": str(LEAF_DAYS)},
        {"name": "HOME", "value": PATHS["tmp"]},
    ]
    mounts = [
        {"name": "pgbackrest-ca", "mountPath": PATHS["pgbackrest_ca_dir"], "readOnly": True},
        cert_mount(read_only=False),
        {"name": "tmp", "mountPath": PATHS["tmp"]},
    ]
    return shell.script_container(
        c, "pgbackrest-cert", c.spec.images.pgctld, POD_CERT_SCRIPT, env, ("16Mi", "64Mi"), mounts
    )


def cert_paths() -> dict[str, str]:
    d = PATHS["pgbackrest_cert_dir"]
    return {role: f"{d}/{name}" for role, name in PGBACKREST_CERT_FILES.items()}
