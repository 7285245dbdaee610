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
# Output: $APISERVER_CACHE (default <repo>/.cache/k8s/<K8S_VERSION>)/bin/{kube-apiserver,etcd}
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

PRINT_BINDIR=0
[[ "${1:-}" == "--print-bindir" ]] && PRINT_BINDIR=1

CACHE="${APISERVER_CACHE:-${ROOT}/.cache/k8s/${K8S_VERSION}}"
BINDIR="${CACHE}/bin"
mkdir -p "${BINDIR}"

log() { echo ">> $*" >&2; }

if ! command -v go >/dev/null 2>&1; then
  log "error: 'go' not found in PATH; install Go >= $(sed -n 's/^go //p' "${HERE}/kube/go.mod") first"
  exit 1
fi

export GOWORK=off CGO_ENABLED="${CGO_ENABLED:-0}"
# Keep whatever GOFLAGS the environment has, but never let a build edit go.mod.
export GOFLAGS="${GOFLAGS:-} -mod=readonly"
[[ -n "$(go env GOCACHE 2>/dev/null || true)" ]] || export GOCACHE="${CACHE}/gocache"
[[ -n "$(go env GOPATH 2>/dev/null || true)" ]] || export GOPATH="${CACHE}/gopath"

# go build -v prints each package as it is compiled; turn that into one progress
# line every 10 s (count of packages done, elapsed time) instead of thousands.
progress() {
  local what="$1" start="$2" total="$3"
  awk -v what="${what}" -v start="${start}" -v total="${total}" '
    /^(go: |#|[^ ]+\.go:|\t)/ { print > "/dev/stderr"; next }   # errors and downloads
    { n++; now = systime(); if (now - last >= 10) { last = now;
        printf(">>   %s: %d/%d packages compiled, %ds elapsed (last: %s)\n", what, n, total, now - start, $0) > "/dev/stderr"; fflush("/dev/stderr") } }
    END { printf(">>   %s: %d packages compiled\n", what, n) > "/dev/stderr" }'
}

build() { # name moddir pkg version ldflags
  local name="$1" moddir="$2" pkg="$3" version="$4" ldflags="$5"
  local out="${BINDIR}/${name}" start
  start=$(date +%s)
  log "building ${name} ${version} (${pkg}) -> ${out}"
  log "  go: $(go version | cut -d' ' -f3-) | GOPROXY=$(go env GOPROXY) | first build takes minutes, cached afterwards"
  (cd "${moddir}" && go mod download) 2>&1 | sed 's/^/>>   /' >&2
  local total
  total=$(cd "${moddir}" && go list -deps "${pkg}" | wc -l)
  # -p: the number of CPUs by default; override with GO_BUILD_P on small machines.
  if ! (cd "${moddir}" && go build -v -p "${GO_BUILD_P:-$(nproc)}" -trimpath \
          -ldflags "-s -w ${ldflags}" -o "${out}.tmp.$$" "${pkg}" 2>&1 \
        | progress "${name}" "${start}" "${total}"; exit "${PIPESTATUS[0]}"); then
    rm -f "${out}.tmp.$$"
    log "error: building ${name} failed"
    exit 1
  fi
  mv -f "${out}.tmp.$$" "${out}"
  log "built ${name} ${version} in $(( $(date +%s) - start ))s"
}

have() { # name expected-version-substring version-command...
  local name="$1" want="$2"; shift 2
  [[ -x "${BINDIR}/${name}" ]] && "${BINDIR}/${name}" "$@" 2>/dev/null | grep -qF -- "${want}"
}

total_start=$(date +%s)

if have etcd "etcd Version: ${ETCD_VERSION#v}" --version; then
  log "etcd ${ETCD_VERSION} cached at ${BINDIR}/etcd"
else
  build etcd "${HERE}/etcd" go.etcd.io/etcd/server/v3 "${ETCD_VERSION}" ""
fi

if have kube-apiserver "Kubernetes ${K8S_VERSION}" --version; then
  log "kube-apiserver ${K8S_VERSION} cached at ${BINDIR}/kube-apiserver"
else
  minor="${K8S_VERSION#v1.}"; minor="${minor%%.*}"
  v="k8s.io/component-base/version"
  c="k8s.io/client-go/pkg/version"
  date="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  lf=""
  for p in "${v}" "${c}"; do
    lf+=" -X ${p}.gitVersion=${K8S_VERSION} -X ${p}.gitMajor=1 -X ${p}.gitMinor=${minor}"
    lf+=" -X ${p}.gitTreeState=clean -X ${p}.buildDate=${date}"
  done
  build kube-apiserver "${HERE}/kube" k8s.io/kubernetes/cmd/kube-apiserver "${K8S_VERSION}" "${lf}"
fi

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
  build xcrd-dump "${work}" ./cmd/xcrd-dump "crossplane ${CROSSPLANE_XCRD_VERSION}" ""
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
