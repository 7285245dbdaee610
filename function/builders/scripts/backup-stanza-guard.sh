#!/bin/bash
# Sidecar: un-wedge a shard whose first backup failed after pgBackRest's stanza-create.
# Upstream Multigres creates the stanza inside the first-backup lease; when a later step
# fails (seen: the lease's etcd keep-alive timed out on a loaded node), its clean-up
# removes the data directory but not the stanza, so every retry initialises a new system
# id that the stanza does not match (pgBackRest [028]): no backup is ever made and the
# shard never gets a primary (docs/operations.md, "Bootstrap livelock").
# This loop moves such a stanza aside so the next attempt starts clean. It moves one
# only when all of these hold, so it cannot touch anything a restore could use:
#  - the stanza's backup directory holds nothing but backup.info and its copy: no
#    backup, no partial backup, no history (file names only: right for an encrypted
#    repository too);
#  - nothing under the stanza changed for GRACE seconds (a first backup under way
#    writes WAL and backup files far more often than that);
#  - this pod's own data directory is not initialised: a pooler with a Postgres never
#    touches the repository.
# It never deletes: the stanza goes to $REPO/quarantine/<stanza>-<backup.info mtime>/, a
# name every pooler of the shard computes alike, so two guards cannot split it in two.
# Each turn touches ALIVE, which the container's probes check for freshness.
# Env: REPO STANZA PGDATA GRACE INTERVAL ALIVE, and ONCE (set: one turn, then exit; tests)
# bash as a container's PID 1 ignores SIGTERM without a handler (see the reload sidecar).
trap 'exit 0' TERM INT

# A stanza root ($REPO or a generation's $REPO/gen-N) whose stanza is a leftover.
leftover() {
  local root="$1" backup="$1/backup/${STANZA}" archive="$1/archive/${STANZA}" extra
  [ -f "${backup}/backup.info" ] || return 1
  extra="$(find "${backup}" -mindepth 1 -maxdepth 1 ! -name backup.info ! -name backup.info.copy)"
  [ -z "${extra}" ] || return 1
  [ -z "$(find "${backup}" "${archive}" -newermt "@$(($(date +%s) - GRACE))" 2>/dev/null)" ]
}

quarantine() {
  local root="$1" dest
  dest="$1/quarantine/${STANZA}-$(stat -c %Y "$1/backup/${STANZA}/backup.info")"
  mkdir -p "${dest}" || return 1
  echo "moving stanza '${STANZA}' of ${root} to ${dest}: it holds no backup, has not changed" \
    "for ${GRACE} s and this pooler has no data directory (a first backup that failed after" \
    "stanza-create; see docs/operations.md, Bootstrap livelock)"
  mv -T "${root}/backup/${STANZA}" "${dest}/backup" 2>/dev/null
  [ -d "${root}/archive/${STANZA}" ] && mv -T "${root}/archive/${STANZA}" "${dest}/archive" 2>/dev/null
  return 0
}

while true; do
  touch "${ALIVE}"
  if [ ! -e "${PGDATA}/PG_VERSION" ]; then
    for root in "${REPO}" "${REPO}"/gen-*; do
      [ -d "${root}" ] && leftover "${root}" && quarantine "${root}"
    done
  fi
  [ -n "${ONCE:-}" ] && exit 0
  sleep "${INTERVAL}" &
  wait $!
done
