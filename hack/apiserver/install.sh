#!/usr/bin/env bash
# Build (or reuse) the binaries of the API-server test tier:
#   kube-apiserver  from k8s.io/kubernetes  at K8S_VERSION   (hack/apiserver/kube/go.mod)
#   etcd            from go.etcd.io/etcd/server/v3 at ETCD_VERSION (hack/apiserver/etcd/go.mod)
#   xcrd-dump       hack/apiserver/xcrd-dump built inside github.com/crossplane/crossplane/v2
#                   at CROSSPLANE_XCRD_VERSION (its own go.mod/go.sum pin the rest)
# Versions are pinned in hack/apiserver/versions.env; the wrapper go.mod/go.sum
# are committed (regenerate them with hack/apiserver/gen-wrapper.sh).
#
# Usage: hack/apiserver/install.sh [--print-bindir]
# Output: $APISERVER_CACHE (default ~/.cache/function-multigres/k8s/<K8S_VERSION>, outside
# the clone, so a fresh clone reuses it)/bin/{kube-apiserver,etcd,xcrd-dump}; with --node
# also kube-controller-manager, kube-scheduler, kube-proxy, kubelet and kubectl.
# With --print-bindir only the bin directory is written to stdout (progress goes to stderr).
#
# Everything comes from the Go module proxy (GOPROXY); a Go toolchain >= the
# go directive of the wrapper modules is needed (GOTOOLCHAIN=auto fetches one).
# Skips a binary that already exists and reports the pinned version. A cold
# build takes several minutes on 2 cores; progress lines are printed meanwhile.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "${HERE}/../.." && pwd)"
# shellcheck source=versions.env
source "${HERE}/versions.env"
# shellcheck source=../lib/gobuild.sh
source "${ROOT}/hack/lib/gobuild.sh"

PRINT_BINDIR=0 NODE=0
for a in "$@"; do
  case "$a" in
    --print-bindir) PRINT_BINDIR=1 ;;
    --node) NODE=1 ;;
    *) echo "usage: $0 [--print-bindir] [--node]" >&2; exit 2 ;;
  esac
done

CACHE="${APISERVER_CACHE:-$(fmg_cache)/k8s/${K8S_VERSION}}"
BINDIR="${CACHE}/bin"
mkdir -p "${BINDIR}"

have() { # name expected-version-substring version-command...
  local name="$1" want="$2"; shift 2
  [[ -x "${BINDIR}/${name}" ]] && "${BINDIR}/${name}" "$@" 2>/dev/null | grep -qF -- "${want}"
}

total_start=$(date +%s)

if have etcd "etcd Version: ${ETCD_VERSION#v}" --version; then
  log "etcd ${ETCD_VERSION} cached at ${BINDIR}/etcd"
else
  gobuild etcd "${HERE}/etcd" go.etcd.io/etcd/server/v3 "${ETCD_VERSION}" "" "${BINDIR}"
fi

# Version stamping as upstream's hack/lib/version.sh does, so --version is right.
minor="${K8S_VERSION#v1.}"; minor="${minor%%.*}"
kube_ldflags=""
for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  kube_ldflags+=" -X ${p}.gitVersion=${K8S_VERSION} -X ${p}.gitMajor=1 -X ${p}.gitMinor=${minor}"
  kube_ldflags+=" -X ${p}.gitTreeState=clean -X ${p}.buildDate=1970-01-01T00:00:00Z"
done
kube_binaries=(kube-apiserver)
# --node: the rest of a node for the e2e tier (hack/e2e/), from the same module set.
[[ "${NODE}" == 1 ]] && kube_binaries+=(kube-controller-manager kube-scheduler kube-proxy kubelet kubectl)
for b in "${kube_binaries[@]}"; do
  if have "${b}" "Kubernetes ${K8S_VERSION}" --version; then
    log "${b} ${K8S_VERSION} cached at ${BINDIR}/${b}"
  elif [[ "${b}" == kubectl ]] && [[ -x "${BINDIR}/kubectl" ]] \
      && "${BINDIR}/kubectl" version --client 2>/dev/null | grep -qF "${K8S_VERSION}"; then
    log "kubectl ${K8S_VERSION} cached at ${BINDIR}/kubectl"
  else
    gobuild "${b}" "${HERE}/kube" "k8s.io/kubernetes/cmd/${b}" "${K8S_VERSION}" "${kube_ldflags}" "${BINDIR}"
  fi
done

XCRD_STAMP="${BINDIR}/.xcrd-dump-${CROSSPLANE_XCRD_VERSION}-$(sha256sum "${HERE}/xcrd-dump/main.go" | cut -c1-12)"
if [[ -x "${BINDIR}/xcrd-dump" && -f "${XCRD_STAMP}" ]]; then
  log "xcrd-dump (crossplane ${CROSSPLANE_XCRD_VERSION} internal/xcrd) cached at ${BINDIR}/xcrd-dump"
else
  # internal/ packages import only from inside their module: build in a copy of it.
  mod="github.com/crossplane/crossplane/v2"
  src="$(cd "${HERE}" && GOFLAGS= go mod download -json "${mod}@${CROSSPLANE_XCRD_VERSION}" \
    | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
  [[ -d "${src}" ]] || { log "error: could not download ${mod}@${CROSSPLANE_XCRD_VERSION}"; exit 1; }
  work="$(mktemp -d "${TMPDIR:-/tmp}/xcrd-dump.XXXXXX")"
  trap 'rm -rf "${work}"' EXIT
  cp -r "${src}/." "${work}/" && chmod -R u+w "${work}"
  mkdir -p "${work}/cmd/xcrd-dump" && cp "${HERE}/xcrd-dump/main.go" "${work}/cmd/xcrd-dump/"
  gobuild xcrd-dump "${work}" ./cmd/xcrd-dump "crossplane ${CROSSPLANE_XCRD_VERSION}" "" "${BINDIR}"
  rm -f "${BINDIR}"/.xcrd-dump-* && touch "${XCRD_STAMP}"
fi

# Crossplane's own CRDs (XRD, Composition, Usage) for the tests, taken from the same
# module in the Go module cache rather than committed: they are upstream data.
CRDS="${BINDIR}/crossplane-crds"
if [[ ! -f "${CRDS}/.${CROSSPLANE_XCRD_VERSION}" ]]; then
  mod="github.com/crossplane/crossplane/v2"
  src="$(cd "${HERE}" && GOFLAGS= go mod download -json "${mod}@${CROSSPLANE_XCRD_VERSION}" \
    | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
  [[ -d "${src}/cluster/crds" ]] || { log "error: no cluster/crds in ${mod}@${CROSSPLANE_XCRD_VERSION}"; exit 1; }
  rm -rf "${CRDS}" && mkdir -p "${CRDS}"
  for f in apiextensions.crossplane.io_compositeresourcedefinitions.yaml \
           apiextensions.crossplane.io_compositions.yaml protection.crossplane.io_usages.yaml; do
    cp "${src}/cluster/crds/${f}" "${CRDS}/${f}" && chmod u+w "${CRDS}/${f}"
  done
  touch "${CRDS}/.${CROSSPLANE_XCRD_VERSION}"
  log "crossplane ${CROSSPLANE_XCRD_VERSION} CRDs copied to ${CRDS}"
fi

log "binaries ready in ${BINDIR} ($(( $(date +%s) - total_start ))s)"
[[ "${PRINT_BINDIR}" == 1 ]] && echo "${BINDIR}"
exit 0
