#!/usr/bin/env bash
# Build (or reuse) the Debian trixie root file system both Multigres images are made of:
# PostgreSQL 17, pgBackRest, procps and the en_US.UTF-8 locale, with the `postgres`
# user at uid/gid 999 as in the postgres:17 image that upstream's pgctld image starts
# from (Dockerfile.pgctld at the pinned commit). Debian bookworm has only PostgreSQL 15
# and a pgBackRest older than PostgreSQL 17, so this is trixie, the postgres:17 base.
#
# Usage: hack/e2e/rootfs.sh OUT_DIR
# Writes OUT_DIR (a complete rootfs) and OUT_DIR.packages (the installed versions).
# Runs debootstrap against the Debian mirror; everything else stays inside OUT_DIR:
# the chroot's /proc is mounted in a private mount namespace, so nothing remains
# mounted on the host, and no service is started (policy-rc.d).
set -euo pipefail
out="$1"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=versions.env
source "${HERE}/versions.env"
log() { echo ">> $*" >&2; }
start=$(date +%s)

if [[ -f "${out}/.complete" ]]; then
  log "rootfs cached at ${out}"
  exit 0
fi
rm -rf "${out}" "${out}.tmp"
tmp="${out}.tmp"
mkdir -p "${tmp}"

log "debootstrap ${DEBIAN_SUITE} (minbase) from ${DEBIAN_MIRROR} into ${tmp} (about 3 minutes)"
debootstrap --variant=minbase "${DEBIAN_SUITE}" "${tmp}" "${DEBIAN_MIRROR}" 2>&1 \
  | awk '/^I: (Retrieving|Validating|Extracting|Unpacking|Configuring)/ { n++; if (n % 50 == 0) { print ">>   debootstrap: " $0; fflush() } next } { print ">>   " $0; fflush() }' >&2

# The postgres user first, with the image's ids, so the packages do not pick others;
# no main cluster (the image sets the same), no services started in the chroot.
cat > "${tmp}/usr/sbin/policy-rc.d" <<'P'
#!/bin/sh
exit 101
P
chmod 755 "${tmp}/usr/sbin/policy-rc.d"
mkdir -p "${tmp}/etc/postgresql-common"
echo "create_main_cluster = false" > "${tmp}/etc/postgresql-common/createcluster.conf"

log "installing ${ROOTFS_PACKAGES} in the chroot"
unshare --mount --propagation private -- chroot "${tmp}" /bin/sh -euc "
  mount -t proc proc /proc
  export DEBIAN_FRONTEND=noninteractive LC_ALL=C
  groupadd -r -g 999 postgres
  useradd -r -u 999 -g 999 -d /var/lib/postgresql -s /bin/bash postgres
  mkdir -p /var/lib/postgresql && chown 999:999 /var/lib/postgresql
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends ${ROOTFS_PACKAGES}
  localedef -i en_US -c -f UTF-8 -A /usr/share/locale/locale.alias en_US.UTF-8
  apt-get clean
  rm -rf /var/lib/apt/lists/* /var/cache/apt/* /var/log/* /tmp/* /usr/share/doc /usr/share/man
  umount /proc
" 2>&1 | sed 's/^/>>   /' >&2
rm -f "${tmp}/usr/sbin/policy-rc.d"
chroot "${tmp}" dpkg-query -W -f '${Package} ${Version}\n' > "${tmp}.packages"
grep -E '^(postgresql-17|pgbackrest|procps) ' "${tmp}.packages" | sed 's/^/>>   /' >&2
touch "${tmp}/.complete"
mv "${tmp}.packages" "${out}.packages"
mv "${tmp}" "${out}"
log "rootfs ready at ${out} in $(( $(date +%s) - start ))s"
