#!/usr/bin/env bash
# Build (or reuse) the runtime image's base: Debian IMAGE_SUITE from debootstrap's minbase
# plus IMAGE_PACKAGES, cleaned by setup.sh, and packed as one reproducible layer.
#
# Usage: hack/image/base.sh OUT_DIR
# Writes OUT_DIR (the root file system; read-only from then on), OUT_DIR.layer.tar (it,
# packed by hack/e2e/mkimage.py), OUT_DIR.packages (the Debian package versions).
# Needs root and the Debian mirror. Nothing stays mounted on the host: the chroot's mounts
# live in a private mount namespace; no service is started (policy-rc.d).
set -euo pipefail
out="$1"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "${HERE}/../.." && pwd)"
# shellcheck source=versions.env
source "${HERE}/versions.env"
log() { echo ">> $*" >&2; }
start=$(date +%s)

if [[ -f "${out}/.complete" && -f "${out}.layer.tar" ]]; then
  log "image base cached at ${out}"
  exit 0
fi
tmp="${out}.tmp"
rm -rf "${out}" "${tmp}" "${out}.layer.tar"
mkdir -p "${tmp}"

log "debootstrap ${IMAGE_SUITE} (minbase + ${IMAGE_PACKAGES}) from ${IMAGE_MIRROR} into ${tmp} (a few minutes)"
debootstrap --variant=minbase --include="${IMAGE_PACKAGES// /,}" "${IMAGE_SUITE}" "${tmp}" "${IMAGE_MIRROR}" 2>&1 \
  | awk '/^I: (Retrieving|Validating|Extracting|Unpacking|Configuring)/ { n++; if (n % 50 == 0) { print ">>   debootstrap: " $0; fflush() } next } { print ">>   " $0; fflush() }' >&2

# debootstrap copies the build host's name and resolver; the container runtime provides both.
: > "${tmp}/etc/hostname"
: > "${tmp}/etc/resolv.conf"
rm -f "${tmp}/etc/machine-id" "${tmp}/var/lib/dbus/machine-id"
# Mount points for hack/image/build.sh; the image's own /venv/fn comes from the next layer.
mkdir -p "${tmp}/venv/fn"

log "setup.sh in the chroot"
unshare --mount --propagation private -- /bin/sh -euc '
  mount --bind "$1" "$2/mnt"
  mount -t proc proc "$2/proc"
  chroot "$2" /bin/sh /mnt/setup.sh
' sh "${HERE}" "${tmp}" 2>&1 | sed 's/^/>>   /' >&2
chroot "${tmp}" dpkg-query -W -f '${Package} ${Version}\n' > "${tmp}.packages"
grep -E '^(python3\.11|python3-venv|libc6|ca-certificates) ' "${tmp}.packages" | sed 's/^/>>   /' >&2
find "${tmp}/dev" -mindepth 1 -delete   # device nodes: the runtime provides /dev

log "packing the base layer"
digest="$(python3 "${ROOT}/hack/e2e/mkimage.py" --pack-layer "${tmp}" "${out}.layer.tar.tmp")"
touch "${tmp}/.complete"
mv "${tmp}.packages" "${out}.packages"
mv "${tmp}" "${out}"
mv "${out}.layer.tar.tmp" "${out}.layer.tar"
log "image base ready at ${out} (layer sha256:${digest}, $(du -sh "${out}.layer.tar" | cut -f1)) in $(( $(date +%s) - start ))s"
