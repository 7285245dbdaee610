"""The `backup-stanza-guard` sidecar of every pooler pod: it un-wedges a shard bootstrap.

Upstream Multigres runs pgBackRest's stanza-create inside the first-backup lease and, when
a later step fails, removes the data directory but leaves the stanza; each retry's new
system id then mismatches it ([028]) and the shard never gets a primary (seen on the e2e
node in about one bring-up in four under load). The script (scripts/backup-stanza-guard.sh)
moves such a stanza to `{backup path}/quarantine/` once it has held no backup and not
changed for GRACE_SECONDS, and only from a pod without a data directory. docs/operations.md,
"Bootstrap livelock", has the trace and the rules.
"""

from __future__ import annotations

from function.builders import shell
from function.builders.common import Obj
from function.defaults.upstream import PATHS, STANZA
from function.resolve import Cluster

NAME = "backup-stanza-guard"
#: Longer than any quiet spell of a first backup under way: pgBackRest's `check` waits at
#: most archive-timeout (60 s) for a segment, and every other step writes to the stanza.
#: Too short costs one retry of the first backup, never data (the stanza has none).
GRACE_SECONDS = 90
INTERVAL_SECONDS = 10
ALIVE = "/tmp/backup-stanza-guard.alive"


def container(c: Cluster) -> Obj:
    env = [
        {"name": "REPO", "value": c.spec.backup.path},
        {"name": "STANZA", "value": STANZA},
        {"name": "PGDATA", "value": PATHS["pg_data"]},
        {"name": "GRACE", "value": str(GRACE_SECONDS)},
        {"name": "INTERVAL", "value": str(INTERVAL_SECONDS)},
        {"name": "ALIVE", "value": ALIVE},
    ]
    mounts: list[Obj] = [
        {"name": "pgdata", "mountPath": PATHS["pooler_dir"], "readOnly": True},
        {"name": "backups", "mountPath": c.spec.backup.path},
        {"name": "tmp", "mountPath": PATHS["tmp"]},
    ]
    out = shell.script_container(
        c, NAME, c.spec.images.pgctld, shell.script(f"{NAME}.sh"), env, ("16Mi", "32Mi"), mounts
    )
    return {**out, **shell.alive_probes(ALIVE)}
