#!/usr/bin/env bash
# Build the benchmark's peer, function-go-templating, at a pinned release into
# BINDIR/function-go-templating (no Docker, no prebuilt binaries).
#
# Usage: hack/install-peer.sh [VERSION] [BINDIR]      (defaults: v0.12.2 ./bin)
#
# Order of attempts:
#   1. go install github.com/crossplane-contrib/function-go-templating@VERSION
#      (the Go module proxy; the ordinary path);
#   2. go mod download of that exact version, then go build in the module cache.
# Some proxies refuse this module outright (403 "This module version is not available"
# for every version); then the script exits 3 and bench/run.py measures ours and the
# floor only, recording why the peer is missing. Only registry sources are used here.
#
# Skips the build when BINDIR/.function-go-templating-VERSION exists next to the binary.
# Respects GOPATH, GOCACHE, GOMODCACHE, GOPROXY, GOFLAGS; CGO_ENABLED defaults to 0.
set -euo pipefail

VERSION="${1:-v0.12.2}"
BINDIR="${2:-./bin}"
MODULE="github.com/crossplane-contrib/function-go-templating"
NAME="function-go-templating"

case "${VERSION}" in
  v*) ;;
  *) VERSION="v${VERSION}" ;;
esac

mkdir -p "${BINDIR}"
BINDIR="$(cd "${BINDIR}" && pwd)"
TARGET="${BINDIR}/${NAME}"
STAMP="${BINDIR}/.${NAME}-${VERSION}"

if [[ -x "${TARGET}" && -f "${STAMP}" ]]; then
  echo ">> ${NAME} ${VERSION} already installed at ${TARGET}"
  exit 0
fi

if ! command -v go >/dev/null 2>&1; then
  echo ">> error: 'go' not found in PATH; install Go >= 1.25 first" >&2
  exit 1
fi

TMP="$(mktemp -d "${TMPDIR:-/tmp}/install-peer.XXXXXX")"
cleanup() { rm -rf "${TMP}"; }
trap cleanup EXIT

if [[ -z "$(go env GOCACHE 2>/dev/null || true)" ]]; then export GOCACHE="${TMP}/gocache"; fi
if [[ -z "$(go env GOPATH 2>/dev/null || true)" ]]; then export GOPATH="${TMP}/gopath"; fi
export GOWORK=off
export CGO_ENABLED="${CGO_ENABLED:-0}"

echo ">> building ${NAME} ${VERSION} (peer for bench/); the first build takes a minute or two"
echo ">>   go: $(go version) | GOPROXY=$(go env GOPROXY)"

BUILT="${TMP}/bin/${NAME}"
mkdir -p "${TMP}/bin"
start=$(date +%s)
how=""

# 1) The ordinary path, outside any module so no local go.mod interferes.
echo ">> [1/2] go install ${MODULE}@${VERSION}"
if (cd "${TMP}" && GOBIN="${TMP}/bin" go install -trimpath -ldflags "-s -w" "${MODULE}@${VERSION}" 2>"${TMP}/err1"); then
  how="go install (module proxy)"
else
  sed 's/^/>>     /' "${TMP}/err1" | tail -n 3
  # 2) The proxy may serve the version but not the version list.
  echo ">> [2/2] go mod download ${MODULE}@${VERSION} + go build"
  MODDIR="$(cd "${TMP}" && go mod download -json "${MODULE}@${VERSION}" 2>/dev/null \
            | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p' || true)"
  if [[ -n "${MODDIR}" && -d "${MODDIR}" ]]; then
    (cd "${MODDIR}" && go build -trimpath -ldflags "-s -w" -o "${BUILT}" .)
    how="go mod download (module proxy)"
  else
    echo ">> error: the Go module proxy does not serve ${MODULE}@${VERSION}" >&2
    echo ">>   bench/run.py then runs without the peer and records why." >&2
    exit 3
  fi
fi
end=$(date +%s)

if [[ ! -x "${BUILT}" ]]; then
  echo ">> error: build finished but ${BUILT} is missing" >&2
  exit 1
fi

cp "${BUILT}" "${TARGET}.tmp.$$"
chmod 0755 "${TARGET}.tmp.$$"
mv -f "${TARGET}.tmp.$$" "${TARGET}"
rm -f "${BINDIR}/.${NAME}"-v*
echo "${how}" >"${STAMP}"
echo ">> installed ${TARGET} (${VERSION}, via ${how}) in $((end - start))s"
