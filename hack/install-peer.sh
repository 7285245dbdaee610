#!/usr/bin/env bash
# Build the benchmark's peer, function-go-templating, at a pinned release into
# BINDIR/function-go-templating (no Docker, no prebuilt binaries).
#
# Usage: hack/install-peer.sh [VERSION] [BINDIR]      (defaults: v0.12.2 ./bin)
#   PEER_SRC=DIR hack/install-peer.sh                 (build from a local source copy)
#
# Order of attempts:
#   1. go install github.com/crossplane-contrib/function-go-templating@VERSION
#      (the Go module proxy; the ordinary path);
#   2. go mod download of that exact version, then go build in the module cache;
#   3. PEER_SRC: a git clone (or bare git dir) of crossplane-contrib/function-go-templating,
#      from which the tag VERSION is exported; or a plain source tree of that release.
#      Its dependencies still come from the Go module proxy and are checked against go.sum.
# Some proxies refuse this module outright (403 "This module version is not available"
# for every version); then only 3 works. Without any of them the script exits 3 and
# bench/run.py measures ours and the floor only, recording why the peer is missing.
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
echo ">> [1/3] go install ${MODULE}@${VERSION}"
if (cd "${TMP}" && GOBIN="${TMP}/bin" go install -trimpath -ldflags "-s -w" "${MODULE}@${VERSION}" 2>"${TMP}/err1"); then
  how="go install (module proxy)"
else
  sed 's/^/>>     /' "${TMP}/err1" | tail -n 3
  # 2) The proxy may serve the version but not the version list.
  echo ">> [2/3] go mod download ${MODULE}@${VERSION} + go build"
  MODDIR="$(cd "${TMP}" && go mod download -json "${MODULE}@${VERSION}" 2>/dev/null \
            | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p' || true)"
  if [[ -n "${MODDIR}" && -d "${MODDIR}" ]]; then
    (cd "${MODDIR}" && go build -trimpath -ldflags "-s -w" -o "${BUILT}" .)
    how="go mod download (module proxy)"
  else
    echo ">>     the module proxy does not serve ${MODULE}@${VERSION}"
    # 3) A local copy of the source.
    if [[ -z "${PEER_SRC:-}" ]]; then
      echo ">> error: cannot build the peer: the Go module proxy refuses ${MODULE}@${VERSION}" >&2
      echo ">>   and PEER_SRC is not set. Set PEER_SRC to a git clone (or bare git dir) of" >&2
      echo ">>   crossplane-contrib/function-go-templating, or a source tree of ${VERSION}." >&2
      echo ">>   bench/run.py then runs without the peer and records why." >&2
      exit 3
    fi
    echo ">> [3/3] building from PEER_SRC=${PEER_SRC}"
    SRC="${TMP}/src"
    mkdir -p "${SRC}"
    if git -C "${PEER_SRC}" rev-parse --git-dir >/dev/null 2>&1; then
      if ! git -C "${PEER_SRC}" rev-parse -q --verify "refs/tags/${VERSION}" >/dev/null; then
        echo ">> error: ${PEER_SRC} has no tag ${VERSION}" >&2
        exit 3
      fi
      echo ">>     exporting tag ${VERSION} ($(git -C "${PEER_SRC}" rev-parse "${VERSION}^{commit}"))"
      git -C "${PEER_SRC}" archive "${VERSION}" | tar -x -C "${SRC}"
      how="source at tag ${VERSION} from PEER_SRC"
    elif [[ -f "${PEER_SRC}/go.mod" ]]; then
      echo ">>     WARNING: ${PEER_SRC} is not a git checkout; trusting it is ${VERSION}"
      cp -r "${PEER_SRC}/." "${SRC}/"
      how="source tree PEER_SRC (unverified version)"
    else
      echo ">> error: PEER_SRC=${PEER_SRC} is neither a git repository nor a Go module" >&2
      exit 3
    fi
    if ! grep -q "^module ${MODULE}\$" "${SRC}/go.mod"; then
      echo ">> error: ${PEER_SRC} is not ${MODULE}" >&2
      exit 3
    fi
    echo ">>     go build (dependencies from the module proxy, checked against go.sum)"
    (cd "${SRC}" && go build -trimpath -ldflags "-s -w" -o "${BUILT}" .)
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
