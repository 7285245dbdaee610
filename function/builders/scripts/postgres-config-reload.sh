#!/bin/bash
# Sidecar: reload Postgres when the composed parameters file changes. The kubelet
# rewrites a mounted ConfigMap in place (within its sync period, about a minute), but
# nothing tells Postgres; pg_reload_conf() over the pod's socket does (SIGHUP from this
# container could not reach the postmaster: containers do not share a PID namespace).
# A reload applies every sighup/superuser/user parameter; postmaster ones are only
# flagged pending_restart (the pod template's restart hash rolls the pods for those).
# After each reload it logs what the server refused from the file (pg_file_settings).
# Each turn touches ALIVE, which the container's probes check for freshness.
# Env: EXTRA_CONF SOCKET_DIR PGPORT POSTGRES_USER POSTGRES_PASSWORD_FILE INTERVAL ALIVE
# bash as a container's PID 1 ignores SIGTERM without a handler, so the pod would wait out
# its whole grace period (60 s) on every delete and roll: exit at once, and sleep in the
# background so the trap is not held up by it.
trap 'exit 0' TERM INT
export PGCONNECT_TIMEOUT=3
sql() {
  PGPASSWORD="$(cat "${POSTGRES_PASSWORD_FILE}")" psql -XAtq -h "${SOCKET_DIR}" -p "${PGPORT}" \
    -U "${POSTGRES_USER}" -d postgres -c "$1"
}
applied=""
while true; do
  touch "${ALIVE}"
  now="$(cksum < "${EXTRA_CONF}" 2>/dev/null)"
  if [ -n "${now}" ] && [ "${now}" != "${applied}" ] && sql "SELECT pg_reload_conf()" >/dev/null 2>&1; then
    sleep 1
    echo "reloaded ${EXTRA_CONF} (cksum ${now%% *})"
    sql "SELECT name || ': ' || coalesce(error, 'not applied') FROM pg_file_settings WHERE sourcefile = '${EXTRA_CONF}' AND (error IS NOT NULL OR NOT applied)" 2>/dev/null |
      sed 's/^/  not applied by the reload (restart parameter or error): /'
    applied="${now}"
  fi
  sleep "${INTERVAL}" &
  wait $!
done
