#!/usr/bin/env bash
# Install the Crossplane CLI (crank) at a pinned version into BINDIR/crossplane,
# building it from source through the Go module proxy (no Docker, no curl|sh).
#
# Usage: hack/install-crossplane.sh VERSION BINDIR
#   e.g. hack/install-crossplane.sh v2.2.4 ./bin
#
# Needs only a Go toolchain. Respects an existing GOPATH, GOFLAGS, GOPROXY,
# GOCACHE, GOMODCACHE and CGO_ENABLED (default 0 -> static binary, no C compiler).
# Skips the build when BINDIR/crossplane already reports VERSION, or when the
# stamp file BINDIR/.crossplane-VERSION exists next to the binary.
set -euo pipefail

if [[ $# -ne 2 ]]; then
  echo "usage: $0 VERSION BINDIR   (e.g. $0 v2.2.4 ./bin)" >&2
  exit 2
fi

VERSION="$1"
BINDIR="$2"
MODULE="github.com/crossplane/crossplane/v2"
PKG="${MODULE}/cmd/crank"

case "${VERSION}" in
  v*) ;;
  *) VERSION="v${VERSION}" ;;
esac

if ! command -v go >/dev/null 2>&1; then
  echo ">> error: 'go' not found in PATH; install Go >= 1.25 first" >&2
  exit 1
fi

mkdir -p "${BINDIR}"
BINDIR="$(cd "${BINDIR}" && pwd)"
TARGET="${BINDIR}/crossplane"
STAMP="${BINDIR}/.crossplane-${VERSION}"

installed_version() {
  # crank prints "Client Version: vX.Y.Z"; --client avoids contacting a cluster.
  "${TARGET}" version --client 2>/dev/null | sed -n 's/^Client Version: *//p' | head -n1
}

if [[ -x "${TARGET}" ]]; then
  if [[ -f "${STAMP}" ]] || [[ "$(installed_version || true)" == "${VERSION}" ]]; then
    echo ">> crossplane CLI ${VERSION} already installed at ${TARGET}"
    exit 0
  fi
  echo ">> ${TARGET} exists but is not ${VERSION}; rebuilding"
fi

TMPDIR_BUILD="$(mktemp -d "${TMPDIR:-/tmp}/install-crossplane.XXXXXX")"
cleanup() { rm -rf "${TMPDIR_BUILD}"; }
trap cleanup EXIT

# Fresh machines / minimal CI containers may lack HOME, which Go needs to place
# its build cache. Fall back to a cache under the temp dir only in that case.
if [[ -z "$(go env GOCACHE 2>/dev/null || true)" ]]; then
  export GOCACHE="${TMPDIR_BUILD}/gocache"
fi
if [[ -z "$(go env GOPATH 2>/dev/null || true)" ]]; then
  export GOPATH="${TMPDIR_BUILD}/gopath"
fi

echo ">> building crossplane CLI (crank) ${VERSION} from the Go module proxy; first build takes a few minutes"
echo ">>   go: $(go version) | GOPROXY=$(go env GOPROXY) | GOFLAGS=${GOFLAGS:-}"

LDFLAGS="-s -w -X ${MODULE}/internal/version.version=${VERSION}"
export GOWORK=off
export CGO_ENABLED="${CGO_ENABLED:-0}"

start=$(date +%s)
# 1) The ordinary path. Run outside any module/workspace so a local go.mod or
#    go.work cannot interfere.
if ! (cd "${TMPDIR_BUILD}" && GOBIN="${TMPDIR_BUILD}/bin" \
        go install -trimpath -ldflags "${LDFLAGS}" "${PKG}@${VERSION}"); then
  # 2) Fallback: 'go install pkg@version' also reads the module's version list
  #    (deprecation check). Some proxies/mirrors serve the version but refuse
  #    the list; then download that exact module version and build it in place.
  echo ">> 'go install' failed; retrying via 'go mod download' + 'go build'"
  if ! MODDIR="$(cd "${TMPDIR_BUILD}" && go mod download -json "${MODULE}@${VERSION}" \
                 | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')" \
     || [[ -z "${MODDIR}" || ! -d "${MODDIR}" ]]; then
    echo ">> error: could not fetch ${MODULE}@${VERSION} from GOPROXY=$(go env GOPROXY)." >&2
    echo ">>   If the proxy answered 403/404 'not available', it does not serve ${VERSION};" >&2
    echo ">>   pick a version that proxy serves (e.g. an earlier patch release)." >&2
    exit 1
  fi
  (cd "${MODDIR}" && go build -trimpath -ldflags "${LDFLAGS}" \
      -o "${TMPDIR_BUILD}/bin/crank" ./cmd/crank)
fi
end=$(date +%s)

BUILT="${TMPDIR_BUILD}/bin/crank"
if [[ ! -x "${BUILT}" ]]; then
  echo ">> error: go install finished but ${BUILT} is missing" >&2
  exit 1
fi

# Copy next to the target, then rename: atomic replacement within BINDIR.
cp "${BUILT}" "${TARGET}.tmp.$$"
chmod 0755 "${TARGET}.tmp.$$"
mv -f "${TARGET}.tmp.$$" "${TARGET}"
rm -f "${BINDIR}"/.crossplane-v*
touch "${STAMP}"

echo ">> installed ${TARGET} ($(installed_version || echo "${VERSION}")) in $((end - start))s"
