"""The topology registration Job: `multigres createclustermetadata` against etcd.

The Job's pod template is immutable, so its name carries a hash of the whole
template: any change (cells, policy, image) yields a new Job, which upstream makes
safe by reusing existing cells and the database record. The resource key carries the
same hash: Crossplane keeps the name of a composed resource it already observes under
a key, so under a fixed key a changed template would be applied to the old Job and
refused. A new key makes Crossplane create the new Job and delete the old one.
"""

from __future__ import annotations

from function.builders import common as k
from function.builders import shell
from function.builders.common import Obj
from function.defaults.upstream import FLAGS, PATHS, UIDS
from function.resolve import Cluster

COMPONENT = "topology"
CCM = FLAGS["createclustermetadata"]
KEY = "topology-job"


def _pod_spec(c: Cluster) -> Obj:
    container: Obj = {
        "name": "createclustermetadata",
        "image": c.spec.images.multigres,
        "imagePullPolicy": c.spec.images.pull_policy,
        "command": [f"{PATHS['multigres_bin']}/multigres"],
        "args": [
            "createclustermetadata",
            f"{CCM['topo_address']}={c.topo_address}",
            f"{CCM['topo_root']}={c.topo_root}",
            f"{CCM['cells']}={','.join(c.cell_names)}",
            f"{CCM['durability_policy']}={c.spec.postgres.durability_policy}",
            f"{CCM['backup_location']}={c.spec.backup.path}",
        ],
        "resources": {
            "requests": {"cpu": "50m", "memory": "64Mi"},
            "limits": {"memory": "128Mi"},
        },
        "securityContext": k.container_security(),
        "volumeMounts": [{"name": "tmp", "mountPath": PATHS["tmp"]}],
    }
    return k.pod_spec(
        c,
        UIDS["multigres"],
        k.scheduling(c, None, COMPONENT),
        initContainers=[shell.wait_for_etcd(c)],
        containers=[container],
        volumes=[{"name": "tmp", "emptyDir": {}}],
        restartPolicy="OnFailure",
    )


def _job(c: Cluster) -> tuple[str, Obj]:
    """The template's hash, and the Job named by it."""
    pod = _pod_spec(c)
    template = {"metadata": k.pod_metadata(c, COMPONENT), "spec": pod}
    digest = k.short_hash(template)
    name = k.fit(f"{c.name}-topo-{digest}")
    return digest, {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": k.metadata(c, name, COMPONENT),
        "spec": {
            # etcd may still be starting: retry with the Job's own backoff for ~30 min.
            "backoffLimit": 30,
            "template": template,
        },
    }


def key(desired: dict[str, Obj]) -> str:
    """The resource key of the topology Job among the desired objects: `KEY-{hash}`."""
    return next(x for x in desired if x.startswith(f"{KEY}-"))


def build(c: Cluster) -> dict[str, Obj]:
    digest, job = _job(c)
    return {f"{KEY}-{digest}": job}
