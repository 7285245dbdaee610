#!/usr/bin/env bash
# Install (or reuse) everything the e2e tier's real node needs, into the cache outside
# the clone (default ~/.cache/function-multigres, or FMG_CACHE):
#
#   Debian packages    containerd, runc, CNI plugins, iptables, ... (versions.env)
#   k8s/<ver>/bin      etcd, kube-apiserver, kube-controller-manager, kube-scheduler,
#                      kube-proxy, kubelet, kubectl   (hack/apiserver/install.sh --node)
#   multigres/<commit> multigateway, multiorch, multipooler, multigres, multiadmin, pgctld
#                      built from MULTIGRES_SOURCE (archive path or URL; checksum verified)
#   tools/             etcd at the default image's version, CoreDNS, local-path-provisioner,
#                      the pause program
#   rootfs/            Debian trixie with PostgreSQL 17 and pgBackRest (rootfs.sh)
#   images/            docker-archive tarballs named exactly as the manifests use them
#   crossplane/        Crossplane core (binary and image), its rendered chart, helm, the OCI
#                      registry the node runs beside it (hack/crossplane/install.sh)
#
# Every entry is keyed by its inputs (versions, checksums, the script that makes it), so a
# second run is warm and a changed input rebuilds only what depends on it. Slow steps
# print progress and their duration. Prints the path of images/index.json at the end
# with --print-index (progress goes to stderr).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "${HERE}/../.." && pwd)"
# shellcheck source=../apiserver/versions.env
source "${ROOT}/hack/apiserver/versions.env"
# shellcheck source=versions.env
source "${HERE}/versions.env"
# shellcheck source=../lib/gobuild.sh
source "${ROOT}/hack/lib/gobuild.sh"

CACHE="$(fmg_cache)"
mkdir -p "${CACHE}"

# --- Debian packages ------------------------------------------------------------------
debian_packages() {
  local missing=()
  for p in ${DEBIAN_HOST_PACKAGES}; do
    dpkg-query -W -f '${Status}' "${p}" 2>/dev/null | grep -q "install ok installed" || missing+=("${p}")
  done
  if [[ ${#missing[@]} -eq 0 ]]; then
    log "Debian packages present: ${DEBIAN_HOST_PACKAGES}"
    return
  fi
  log "installing Debian packages: ${missing[*]}"
  # No service may start on the host: containerd runs only inside the node namespace.
  local rc_added=0
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d
    rc_added=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" \
    2>&1 | grep -vE '^(Selecting|Preparing|Unpacking|\(Reading)' | sed 's/^/>>   /' >&2
  [[ "${rc_added}" == 1 ]] && rm -f /usr/sbin/policy-rc.d
  return 0
}

# --- Multigres binaries from the pinned source -----------------------------------------
MG_BIN="${CACHE}/multigres/${MULTIGRES_COMMIT}/bin"
MG_BINARIES=(pgctld multipooler multiorch multigateway multigres multiadmin)
multigres_binaries() {
  local stamp="${MG_BIN}/.built-${MULTIGRES_SHA256:0:16}"
  if [[ -f "${stamp}" ]]; then
    log "multigres ${MULTIGRES_COMMIT} binaries cached at ${MG_BIN}"
    return
  fi
  local src="${MULTIGRES_SOURCE:-${MULTIGRES_URL}}" archive="${CACHE}/src/multigres-${MULTIGRES_COMMIT}.tar.gz"
  mkdir -p "${CACHE}/src"
  if [[ -f "${src}" ]]; then
    cp "${src}" "${archive}.tmp"
  else
    log "downloading ${src}"
    curl -fsSL --retry 3 -o "${archive}.tmp" "${src}"
  fi
  echo "${MULTIGRES_SHA256}  ${archive}.tmp" | sha256sum -c --quiet - \
    || { log "error: ${src} does not have the pinned checksum ${MULTIGRES_SHA256}"; exit 1; }
  mv "${archive}.tmp" "${archive}"
  local tree="${CACHE}/src/multigres-${MULTIGRES_COMMIT}"
  rm -rf "${tree}" && mkdir -p "${tree}"
  tar -xzf "${archive}" -C "${tree}" --strip-components=1
  # As upstream's `make build-release`: static, stripped, the commit stamped in.
  local lf="-X github.com/multigres/multigres/go/common/servenv.gitCommit=${MULTIGRES_COMMIT}"
  for b in "${MG_BINARIES[@]}"; do
    gobuild "${b}" "${tree}" "./go/cmd/${b}" "${MULTIGRES_COMMIT}" "${lf}" "${MG_BIN}"
  done
  rm -f "${MG_BIN}"/.built-* && touch "${stamp}"
}

# --- Small tools: etcd for the image, CoreDNS, local-path-provisioner, pause ----------
TOOLS="${CACHE}/tools"
tool() { # name moddir pkg version
  local name="$1" moddir="$2" pkg="$3" version="$4"
  local dir="${TOOLS}/${name}-${version}-$(key "${moddir}/go.mod" "${moddir}/go.sum" $(ls "${moddir}"/*.go 2>/dev/null))"
  if [[ -x "${dir}/${name}" ]]; then
    log "${name} ${version} cached at ${dir}"
  else
    gobuild "${name}" "${moddir}" "${pkg}" "${version}" "" "${dir}"
  fi
  ln -sfn "${dir}" "${TOOLS}/${name}"
}
pause_binary() {
  local dir="${TOOLS}/pause-$(key "${HERE}/pause.c")"
  if [[ ! -x "${dir}/pause" ]]; then
    mkdir -p "${dir}"
    gcc -static -O2 -Wall -Werror -o "${dir}/pause" "${HERE}/pause.c"
    strip "${dir}/pause"
    log "built pause (static C) in ${dir}"
  fi
  ln -sfn "${dir}" "${TOOLS}/pause"
}

# --- Root file system and images ----------------------------------------------------------
ROOTFS="${CACHE}/rootfs/${DEBIAN_SUITE}-$(echo "${DEBIAN_SUITE} ${ROOTFS_PACKAGES}" | key "${HERE}/rootfs.sh" -)"
rootfs() { mkdir -p "${CACHE}/rootfs"; "${HERE}/rootfs.sh" "${ROOTFS}"; }

images() {
  python3 "${HERE}/images.py" --cache "${CACHE}" --rootfs "${ROOTFS}" \
    --multigres-bin "${MG_BIN}" --tools "${TOOLS}"
}

timed "Debian packages" debian_packages
timed "Kubernetes ${K8S_VERSION} + etcd" "${ROOT}/hack/apiserver/install.sh" --node
timed "rootfs ${DEBIAN_SUITE}" rootfs
timed "multigres ${MULTIGRES_COMMIT}" multigres_binaries
timed "etcd ${ETCD_IMAGE_VERSION} (image)" tool etcd "${HERE}/etcd" go.etcd.io/etcd/server/v3 "${ETCD_IMAGE_VERSION}"
timed "coredns ${COREDNS_VERSION}" tool coredns "${HERE}/coredns" . "${COREDNS_VERSION}"
timed "local-path-provisioner ${LOCAL_PATH_VERSION}" tool local-path-provisioner "${HERE}/localpath" \
  github.com/rancher/local-path-provisioner "${LOCAL_PATH_VERSION}"
timed "pause" pause_binary
timed "images" images
timed "Crossplane core, chart, registry" "${ROOT}/hack/crossplane/install.sh"

timed_summary "e2e install"
