"""Delivering spec.postgres.parameters to every Postgres instance.

One ConfigMap `{xr}-postgres-config` holds the rendered file (pgconf.PgConfig.render).
Each pooler pod mounts it whole (not with subPath, so the kubelet rewrites it in place
when it changes) and pgctld live-includes it at the end of postgresql.conf
(`--pg-initdb-extra-conf`, re-read at every start and reload: last line wins over
pgctld's template). Then:

- reloadable parameters (every context but postmaster): the `postgres-config-reload`
  sidecar sees the file change and calls pg_reload_conf(); no pod restarts, because
  the pod template does not change;
- restart parameters (postmaster): the pod template carries RESTART_HASH_ANNOTATION, a
  hash of only those, so a change rolls the pooler StatefulSet one pod at a time
  (highest ordinal first, each waiting for the readiness probe) and each new pod starts
  with the new file.

The StatefulSet's own metadata carries the same hash and the ConfigMap the reload hash,
so status can tell from the observed objects which of the two is still under way.
"""

from __future__ import annotations

from function.builders import common as k
from function.builders import shell
from function.builders.common import Obj
from function.defaults.upstream import PATHS, PGCTLD_ENV, PORTS
from function.resolve import Cluster

COMPONENT = "postgres-config"
KEY = "postgresql.conf"
MOUNT_DIR = "/etc/postgres-config"
EXTRA_CONF = f"{MOUNT_DIR}/{KEY}"
RESTART_HASH_ANNOTATION = "multigres.com/postgres-restart-hash"
RELOAD_HASH_ANNOTATION = "multigres.com/postgres-reload-hash"
RELOAD_INTERVAL_SECONDS = 5
VOLUME = "postgres-config"
ALIVE = "/tmp/postgres-config-reload.alive"


def name(c: Cluster) -> str:
    return k.fit(f"{c.name}-postgres-config")


def configmap(c: Cluster) -> Obj:
    meta = k.metadata(c, name(c), COMPONENT)
    meta["annotations"] = {
        RESTART_HASH_ANNOTATION: c.pg.restart_hash,
        RELOAD_HASH_ANNOTATION: c.pg.reload_hash,
    }
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": {KEY: c.pg.render()}}


def restart_annotations(c: Cluster) -> dict[str, str]:
    """On the pod template: only the restart parameters' hash, so only they roll pods."""
    return {RESTART_HASH_ANNOTATION: c.pg.restart_hash}


def volume(c: Cluster) -> Obj:
    return {
        "name": VOLUME,
        "configMap": {"name": name(c), "items": [{"key": KEY, "path": KEY}]},
    }


def mount() -> Obj:
    return {"name": VOLUME, "mountPath": MOUNT_DIR, "readOnly": True}


def _env(c: Cluster) -> list[Obj]:
    return [
        {"name": "PGDATA", "value": PATHS["pg_data"]},
        {"name": "EXTRA_CONF", "value": EXTRA_CONF},
    ]


def include_init_container(c: Cluster) -> Obj:
    """Adds the include line to a data directory pgctld initialised without it."""
    mounts = [{"name": "pgdata", "mountPath": PATHS["pooler_dir"]}]
    return shell.script_container(
        c,
        "postgres-config-include",
        c.spec.images.pgctld,
        shell.script("postgres-config-include.sh"),
        _env(c),
        ("16Mi", "32Mi"),
        mounts,
    )


def reload_container(c: Cluster) -> Obj:
    """The sidecar that reloads Postgres when the kubelet has rewritten the file."""
    env = [
        *_env(c),
        {"name": "SOCKET_DIR", "value": PATHS["pg_socket_dir"]},
        {"name": "PGPORT", "value": str(PORTS["pgctld"]["postgres"])},
        {"name": PGCTLD_ENV["user"], "value": "postgres"},
        {"name": PGCTLD_ENV["password_file"], "value": PATHS["password_file"]},
        {"name": "INTERVAL", "value": str(RELOAD_INTERVAL_SECONDS)},
        {"name": "ALIVE", "value": ALIVE},
        {"name": "HOME", "value": PATHS["tmp"]},
    ]
    mounts: list[Obj] = [
        {"name": "pgdata", "mountPath": PATHS["pooler_dir"]},
        {"name": "password", "mountPath": PATHS["password_dir"], "readOnly": True},
        mount(),
        {"name": "tmp", "mountPath": PATHS["tmp"]},
    ]
    out = shell.script_container(
        c,
        "postgres-config-reload",
        c.spec.images.pgctld,
        shell.script("postgres-config-reload.sh"),
        env,
        ("16Mi", "64Mi"),
        mounts,
    )
    # No readiness probe: the sidecar serves nothing, so one could only take the pod out
    # of readiness (on the e2e node at load 37 its exec probe timed out after 5 s).
    return {**out, **shell.alive_probes(ALIVE)}
