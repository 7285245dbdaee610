#!/bin/bash
# Init container: make sure the data directory's postgresql.conf live-includes the
# composed parameters file. pgctld writes that include itself at initdb
# (--pg-initdb-extra-conf), but only then: a data directory initialised before the
# flag was passed (an upgraded cluster) would never read the file. Idempotent; does
# nothing before the first initdb (pgctld adds the line then) or when it is there.
# Env: PGDATA EXTRA_CONF
conf="${PGDATA}/postgresql.conf"
if [ ! -f "${conf}" ]; then
  echo "no ${conf} yet: pgctld includes ${EXTRA_CONF} at initdb"
elif grep -qF "${EXTRA_CONF}" "${conf}"; then
  echo "${conf} includes ${EXTRA_CONF}"
else
  printf "\n# Added by function-multigres: the composed parameters (spec.postgres.parameters).\ninclude_if_exists '%s'\n" "${EXTRA_CONF}" >> "${conf}"
  echo "added include_if_exists '${EXTRA_CONF}' to ${conf}"
fi
