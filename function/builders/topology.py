"""The topology registration Job: `multigres createclustermetadata` against etcd.

The Job's pod template is immutable, so its name carries a hash of the whole
template: any change (cells, policy, image) yields a new Job, which upstream makes
safe by reusing existing cells and the database record.
"""

from __future__ import annotations

from function.builders import common as k
from function.builders import shell
from function.builders.common import Obj
from function.defaults.upstream import FLAGS, PATHS, UIDS
from function.resolve import Cluster

COMPONENT = "topology"
CCM = FLAGS["createclustermetadata"]


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


def job(c: Cluster) -> Obj:
    pod = _pod_spec(c)
    template = {"metadata": k.pod_metadata(c, COMPONENT), "spec": pod}
    name = k.fit(f"{c.name}-topo-{k.short_hash(template)}")
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": k.metadata(c, name, COMPONENT),
        "spec": {
            # etcd may still be starting: retry with the Job's own backoff for ~30 min.
            "backoffLimit": 30,
            "template": template,
        },
    }


def build(c: Cluster) -> dict[str, Obj]:
    return {"topology-job": job(c)}
