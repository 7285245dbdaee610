"""Pure builders: `build(cluster)` returns every desired object under a stable key."""

from __future__ import annotations

from function.builders import (
    etcd,
    multiadmin,
    multipooler,
    pgbackrest,
    pgconfig,
    shared,
    stateless,
    topology,
)
from function.builders.common import Obj
from function.resolve import Cluster


def _usages(c: Cluster) -> dict[str, Obj]:
    """etcd is deleted only after every long-running Multigres workload that uses it."""
    etcd_sts = ("StatefulSet", etcd.names(c)["statefulset"])
    out = {
        "multiadmin-usage": shared.usage(
            c, "admin-uses-etcd", etcd_sts, ("Deployment", multiadmin.name(c))
        )
    }
    for cell in c.cell_names:
        users = {
            "pooler": ("StatefulSet", multipooler.statefulset_name(c, cell)),
            "multiorch": ("Deployment", stateless.deployment_name(c, "multiorch", cell)),
            "multigateway": ("Deployment", stateless.deployment_name(c, "multigateway", cell)),
        }
        short = {"pooler": "pooler", "multiorch": "orch", "multigateway": "gw"}
        for key, by in users.items():
            out[f"{cell}-{key}-usage"] = shared.usage(
                c, f"{cell}-{short[key]}-uses-etcd", etcd_sts, by
            )
    return out


def build(c: Cluster) -> dict[str, Obj]:
    """All desired objects, keyed by their composition resource name, in a stable order."""
    out: dict[str, Obj] = {"serviceaccount": shared.service_account(c)}
    out.update(etcd.build(c))
    out.update(topology.build(c))
    out.update(stateless.build(c))
    out["pg-hba-configmap"] = shared.pg_hba_configmap(c)
    out["postgres-config-configmap"] = pgconfig.configmap(c)
    out.update(pgbackrest.build(c))
    out.update(multipooler.build(c))
    out.update(multiadmin.build(c))
    if not c.spec.backup.existing_claim:
        out["backup-pvc"] = shared.backup_pvc(c)
    if c.spec.network_policy.enabled:
        out.update(shared.network_policies(c))
    if c.spec.usages.enabled:
        out.update(_usages(c))
    return out
