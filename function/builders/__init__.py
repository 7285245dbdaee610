"""Pure builders: `build(cluster)` returns every desired object under a stable key."""

from __future__ import annotations

from function.builders import etcd, multipooler, shared, stateless, topology
from function.builders.common import Obj
from function.resolve import Cluster


def build(c: Cluster) -> dict[str, Obj]:
    """All desired objects, keyed by their composition resource name, in a stable order."""
    out: dict[str, Obj] = {"serviceaccount": shared.service_account(c)}
    out.update(etcd.build(c))
    out.update(topology.build(c))
    out.update(stateless.build(c))
    out.update(multipooler.build(c))
    if not c.spec.backup.existing_claim:
        out["backup-pvc"] = shared.backup_pvc(c)
    if c.spec.network_policy.enabled:
        out.update(shared.network_policies(c))
    if c.spec.usages.enabled:
        etcd_sts = ("StatefulSet", etcd.names(c)["statefulset"])
        for cell in c.cell_names:
            pooler = ("StatefulSet", multipooler.statefulset_name(c, cell))
            orch = ("Deployment", stateless.deployment_name(c, "multiorch", cell))
            out[f"{cell}-pooler-usage"] = shared.usage(
                c, f"{cell}-pooler-uses-etcd", etcd_sts, pooler
            )
            out[f"{cell}-multiorch-usage"] = shared.usage(
                c, f"{cell}-orch-uses-etcd", etcd_sts, orch
            )
    return out
