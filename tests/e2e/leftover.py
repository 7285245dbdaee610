"""A stanza a failed first backup left, put where a cluster is about to bootstrap.

This is the state the bootstrap livelock starts from (docs/operations.md, "Bootstrap
livelock"): upstream's first backup ran stanza-create, then failed, and its clean-up
kept the stanza. A one-shot pod of the pgctld image makes it for real: initdb, start,
`pgbackrest stanza-create` into the cluster's backup claim, stop. Every pooler's own
initdb then has another system id, so each first-backup attempt fails with [028] and
removes its data directory, as in the livelock. `age` then dates the stanza's files
back once a pooler has been refused, standing in for the guard's grace period (90 s of
no change, which tests/test_backup_guard.py covers), so the scenario need not wait it out.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from function.defaults.upstream import IMAGES, STANZA, UIDS
from tests.e2e.kube import Kube

POD = "e2e-leftover-stanza"
MOUNT = "/backups"
SCRIPT = f"""set -eu
initdb -D /tmp/pg -U postgres --auth=trust >/dev/null
pg_ctl -D /tmp/pg -o "-k /tmp -c listen_addresses=''" -l /tmp/pg.log -w start >/dev/null
pgbackrest --stanza={STANZA} --repo1-path={MOUNT} --pg1-path=/tmp/pg --pg1-socket-path=/tmp \\
  --pg1-user=postgres --log-path=/tmp --lock-path=/tmp --log-level-console=info stanza-create
pg_ctl -D /tmp/pg -w stop >/dev/null
find {MOUNT} -type f | sort
"""


def seed(kube: Kube, ns: str, claim: dict[str, Any], timeout: float = 120) -> str:
    """Create the backup claim `claim` (as rendered) and leave a stanza in it; the listing."""
    kube.apply([claim])
    security = {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "runAsNonRoot": True,
        "runAsUser": UIDS["pgctld"],
        "runAsGroup": UIDS["pgctld"],
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": POD, "namespace": ns, "labels": {"app": POD}},
        "spec": {
            "restartPolicy": "Never",
            "securityContext": {"fsGroup": UIDS["pgctld"]},
            "containers": [
                {
                    "name": "stanza",
                    "image": IMAGES["pgctld"],
                    "imagePullPolicy": "IfNotPresent",
                    "command": ["bash", "-c", SCRIPT],
                    "securityContext": security,
                    "volumeMounts": [
                        {"name": "backups", "mountPath": MOUNT},
                        {"name": "tmp", "mountPath": "/tmp"},
                    ],
                }
            ],
            "volumes": [
                {
                    "name": "backups",
                    "persistentVolumeClaim": {"claimName": claim["metadata"]["name"]},
                },
                {"name": "tmp", "emptyDir": {}},
            ],
        },
    }
    kube.kubectl("delete", "pod", POD, "-n", ns, "--ignore-not-found", "--wait=true")
    kube.apply([pod])

    def done() -> bool:
        phase = (kube.maybe("pod", POD, ns) or {}).get("status", {}).get("phase")
        if phase == "Failed":
            raise AssertionError(f"the leftover stanza was not made:\n{kube.logs(ns, POD)}")
        return phase == "Succeeded"

    kube.wait_for("the leftover stanza", done, timeout, ns, f"app={POD}")
    listing = kube.logs(ns, POD)
    kube.kubectl("delete", "pod", POD, "-n", ns, "--wait=true")
    assert f"backup/{STANZA}/backup.info" in listing, listing
    return listing


def refusals(kube: Kube, ns: str, pods: Callable[[], list[str]]) -> int:
    """How often the poolers' stanza-create refused the leftover ([028]), all told."""
    return sum(kube.logs(ns, p, "multipooler", tail=-1).count("[028]") for p in pods())


def age(kube: Kube, ns: str, pod: str) -> None:
    """Date the stanza's files ten minutes back, from `pod`'s guard container."""
    dirs = [f"{MOUNT}/backup/{STANZA}", f"{MOUNT}/archive/{STANZA}"]
    kube.exec(ns, pod, "find", *dirs, "-exec", "touch", "-h", "-d", "10 minutes ago", "{}", "+",
              container="backup-stanza-guard")  # fmt: skip
