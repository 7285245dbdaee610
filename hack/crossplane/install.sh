#!/usr/bin/env bash
# Build (or reuse) the pieces for running real Crossplane in a cluster, into the cache
# outside the clone (default ~/.cache/function-multigres, or FMG_CACHE), all from the Go
# module proxy at the versions pinned in hack/crossplane/versions.env:
#
#   crossplane/<ver>/bin/crossplane    Crossplane core (`crossplane core init|start`), built in
#                                      the module github.com/crossplane/crossplane/v2@<ver>
#                                      with its own go.mod/go.sum, as upstream builds it
#   crossplane/<ver>/crds/, webhookconfigurations/
#                                      what upstream's image carries at /crds and
#                                      /webhookconfigurations (`core init` reads them)
#   crossplane/<ver>/chart/crossplane-<key>.yaml
#                                      the chart cluster/charts/crossplane of that module,
#                                      rendered by `helm template` with hack/crossplane/values.yaml
#   tools/helm-<ver>/helm              helm.sh/helm/v3, built in its module
#   tools/registry-<ver>-<key>/registry
#                                      go-containerregistry's pkg/registry behind net/http
#                                      (the wrapper module hack/crossplane/registry)
#   crossplane/<ver>/bin/pkgname       the names Crossplane's own code gives a package object
#                                      (hack/crossplane/pkgname; the packaging tests use it)
#   crossplane/<ver>/image/crossplane-<key>.tar
#                                      Crossplane core as a container image, as upstream ships
#                                      it (the binary, /crds, /webhookconfigurations, uid
#                                      65532), packed by hack/e2e/mkimage.py as a docker-archive
#                                      named exactly as the chart's image, for `ctr images import`
#   crossplane/index.json              the paths above, for the e2e tier to read
#
# Every entry is keyed by its inputs, so a second run takes seconds and a changed input
# rebuilds only what depends on it. Slow steps print progress; every step its duration.
#
# Usage: hack/crossplane/install.sh [--print-index] [--pkgname-only]
#   --print-index    the index path on stdout
#   --pkgname-only   only pkgname (what `make test` needs; a minute when crank is built)
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "${HERE}/../.." && pwd)"
# shellcheck source=versions.env
source "${HERE}/versions.env"
# shellcheck source=../apiserver/versions.env
source "${ROOT}/hack/apiserver/versions.env"  # K8S_VERSION, for helm template --kube-version
# shellcheck source=../lib/gobuild.sh
source "${ROOT}/hack/lib/gobuild.sh"

PRINT_INDEX=0 PKGNAME_ONLY=0
for a in "$@"; do
  case "$a" in
    --print-index) PRINT_INDEX=1 ;;
    --pkgname-only) PKGNAME_ONLY=1 ;;
    *) echo "usage: $0 [--print-index] [--pkgname-only]" >&2; exit 2 ;;
  esac
done

CACHE="$(fmg_cache)"
CP="${CACHE}/crossplane/${CROSSPLANE_VERSION}"
TOOLS="${CACHE}/tools"
mkdir -p "${CP}" "${TOOLS}"

# The directory of an exact module version in the module cache (downloads it once).
# `go install pkg@version` would also read the version list, which this proxy refuses.
moddir() {
  local dir
  dir="$(cd "${TMPDIR:-/tmp}" && GOFLAGS=-mod=mod go mod download -json "$1@$2" \
         | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')"
  [[ -n "${dir}" && -d "${dir}" ]] || { log "error: the Go module proxy does not serve $1@$2"; return 1; }
  echo "${dir}"
}

CP_MODULE=github.com/crossplane/crossplane/v2
crossplane_core() {
  local stamp="${CP}/bin/.built-${CROSSPLANE_VERSION}"
  if [[ -x "${CP}/bin/crossplane" && -f "${stamp}" ]]; then
    log "crossplane core ${CROSSPLANE_VERSION} cached at ${CP}/bin/crossplane"
  else
    local src; src="$(moddir "${CP_MODULE}" "${CROSSPLANE_VERSION}")"
    gobuild crossplane "${src}" ./cmd/crossplane "${CROSSPLANE_VERSION}" \
      "-X ${CP_MODULE}/internal/version.version=${CROSSPLANE_VERSION}" "${CP}/bin"
    touch "${stamp}"
  fi
  if [[ ! -f "${CP}/.manifests-${CROSSPLANE_VERSION}" ]]; then
    local src; src="$(moddir "${CP_MODULE}" "${CROSSPLANE_VERSION}")"
    rm -rf "${CP}/crds" "${CP}/webhookconfigurations"
    cp -r "${src}/cluster/crds" "${src}/cluster/webhookconfigurations" "${CP}/"
    chmod -R u+w "${CP}/crds" "${CP}/webhookconfigurations"   # the module cache is read-only
    touch "${CP}/.manifests-${CROSSPLANE_VERSION}"
    log "copied $(ls "${CP}/crds" | wc -l) CRDs and the webhook configurations to ${CP}"
  fi
}

PKGNAME_STAMP="${CP}/bin/.pkgname-$(key "${HERE}/pkgname/main.go")"
pkgname() {
  if [[ -x "${CP}/bin/pkgname" && -f "${PKGNAME_STAMP}" ]]; then
    log "pkgname (crossplane ${CROSSPLANE_VERSION} resolver) cached at ${CP}/bin/pkgname"
    return
  fi
  # internal/ packages import only from inside their module: build in a copy of it.
  local src work; src="$(moddir "${CP_MODULE}" "${CROSSPLANE_VERSION}")"
  work="$(mktemp -d "${TMPDIR:-/tmp}/pkgname.XXXXXX")"
  cp -r "${src}/." "${work}/" && chmod -R u+w "${work}"
  mkdir -p "${work}/cmd/pkgname" && cp "${HERE}/pkgname/main.go" "${work}/cmd/pkgname/"
  gobuild pkgname "${work}" ./cmd/pkgname "crossplane ${CROSSPLANE_VERSION}" "" "${CP}/bin"
  rm -rf "${work}" "${CP}"/bin/.pkgname-* && touch "${PKGNAME_STAMP}"
}

HELM_DIR="${TOOLS}/helm-${HELM_VERSION}"
helm_binary() {
  if [[ -x "${HELM_DIR}/helm" ]] && "${HELM_DIR}/helm" version --short 2>/dev/null | grep -qF "${HELM_VERSION}"; then
    log "helm ${HELM_VERSION} cached at ${HELM_DIR}/helm"
    return
  fi
  local src; src="$(moddir helm.sh/helm/v3 "${HELM_VERSION}")"
  gobuild helm "${src}" ./cmd/helm "${HELM_VERSION}" \
    "-X helm.sh/helm/v3/internal/version.version=${HELM_VERSION} -X helm.sh/helm/v3/internal/version.gitTreeState=clean" \
    "${HELM_DIR}"
}

REGISTRY_DIR="${TOOLS}/registry-${GGCR_VERSION}-$(key "${HERE}/registry/go.mod" "${HERE}/registry/go.sum" "${HERE}/registry/main.go")"
registry_binary() {
  if [[ -x "${REGISTRY_DIR}/registry" ]]; then
    log "registry (go-containerregistry ${GGCR_VERSION}) cached at ${REGISTRY_DIR}/registry"
  else
    gobuild registry "${HERE}/registry" . "${GGCR_VERSION}" "" "${REGISTRY_DIR}"
  fi
}

CHART_OUT="${CP}/chart/crossplane-$(key "${HERE}/values.yaml" "${HERE}/versions.env").yaml"
chart() {
  if [[ -s "${CHART_OUT}" ]]; then
    log "Crossplane chart ${CROSSPLANE_VERSION} rendered at ${CHART_OUT}"
  else
    local src; src="$(moddir "${CP_MODULE}" "${CROSSPLANE_VERSION}")"
    mkdir -p "${CP}/chart"
    # The module's Chart.yaml carries placeholder versions (0.0.1); a release sets them
    # to the Crossplane version, which is what the labels should say.
    local chart_dir; chart_dir="$(mktemp -d)"
    cp -r "${src}/cluster/charts/crossplane" "${chart_dir}/" && chmod -R u+w "${chart_dir}"
    sed -i "s/^version: .*/version: ${CROSSPLANE_VERSION#v}/; s/^appVersion: .*/appVersion: ${CROSSPLANE_VERSION#v}/" \
      "${chart_dir}/crossplane/Chart.yaml"
    "${HELM_DIR}/helm" template crossplane "${chart_dir}/crossplane" \
      --namespace crossplane-system --kube-version "${K8S_VERSION}" \
      --values "${HERE}/values.yaml" > "${CHART_OUT}.tmp"
    rm -rf "${chart_dir}"
    mv "${CHART_OUT}.tmp" "${CHART_OUT}"
    log "rendered the Crossplane chart ($(grep -c '^kind:' "${CHART_OUT}") objects: $(grep '^kind:' "${CHART_OUT}" | sort | uniq -c | awk '{printf "%s %s, ", $1, $3}' | sed 's/, $//')) to ${CHART_OUT}"
  fi
  ln -sfn "$(basename "${CHART_OUT}")" "${CP}/chart/crossplane.yaml"
}

# Crossplane core as the image the chart runs: the binary as entry point, /crds and
# /webhookconfigurations where `core init` reads them (its defaults), non-root. Keyed by
# everything in it and by mkimage.py.
IMAGE_TAG="${CROSSPLANE_IMAGE}:${CROSSPLANE_VERSION}"
image() {
  local k; k="$( (cd "${CP}" && find bin/crossplane crds webhookconfigurations -type f | sort | xargs sha256sum; \
                  sha256sum < "${ROOT}/hack/e2e/mkimage.py"; echo "${IMAGE_TAG}") | sha256sum | cut -c1-16)"
  IMAGE_OUT="${CP}/image/crossplane-${k}.tar"
  if [[ -s "${IMAGE_OUT}" && -s "${IMAGE_OUT%.tar}.id" ]]; then
    log "Crossplane image ${IMAGE_TAG} cached at ${IMAGE_OUT}"
    return
  fi
  local tree; tree="$(mktemp -d "${TMPDIR:-/tmp}/crossplane-image.XXXXXX")"
  mkdir -p "${tree}/usr/local/bin" "${tree}/tmp" "${CP}/image"
  chmod 1777 "${tree}/tmp"
  cp "${CP}/bin/crossplane" "${tree}/usr/local/bin/crossplane"
  cp -r "${CP}/crds" "${CP}/webhookconfigurations" "${tree}/"
  chmod -R a+rX "${tree}"
  rm -f "${CP}"/image/crossplane-*
  python3 "${ROOT}/hack/e2e/mkimage.py" --tag "${IMAGE_TAG}" --out "${IMAGE_OUT}.tmp" --layer "${tree}" \
    --user 65532:65532 --env PATH=/usr/local/bin:/usr/bin:/bin \
    --entrypoint '["/usr/local/bin/crossplane"]' > "${IMAGE_OUT%.tar}.id.tmp"
  rm -rf "${tree}"
  mv "${IMAGE_OUT}.tmp" "${IMAGE_OUT}" && mv "${IMAGE_OUT%.tar}.id.tmp" "${IMAGE_OUT%.tar}.id"
  log "packed Crossplane image ${IMAGE_TAG} ($(( $(stat -c %s "${IMAGE_OUT}") >> 20 )) MiB, id $(cut -c1-12 "${IMAGE_OUT%.tar}.id")) at ${IMAGE_OUT}"
}

index() {
  local out="${CACHE}/crossplane/index.json"
  cat > "${out}.tmp" <<JSON
{
  "crossplane_version": "${CROSSPLANE_VERSION}",
  "crossplane": "${CP}/bin/crossplane",
  "crds": "${CP}/crds",
  "webhookconfigurations": "${CP}/webhookconfigurations",
  "chart_manifests": "${CHART_OUT}",
  "helm_version": "${HELM_VERSION}",
  "helm": "${HELM_DIR}/helm",
  "ggcr_version": "${GGCR_VERSION}",
  "registry": "${REGISTRY_DIR}/registry",
  "pkgname": "${CP}/bin/pkgname",
  "image": {"name": "${IMAGE_TAG}", "tar": "${IMAGE_OUT}", "id": "$(cat "${IMAGE_OUT%.tar}.id")"}
}
JSON
  mv "${out}.tmp" "${out}"
  INDEX="${out}"
}

timed "pkgname (crossplane ${CROSSPLANE_VERSION})" pkgname
if [[ "${PKGNAME_ONLY}" == 1 ]]; then
  [[ "${PRINT_INDEX}" == 1 ]] && echo "${CP}/bin/pkgname"
  exit 0
fi
timed "registry (go-containerregistry ${GGCR_VERSION})" registry_binary
timed "helm ${HELM_VERSION}" helm_binary
timed "Crossplane chart ${CROSSPLANE_VERSION}" chart
timed "crossplane core ${CROSSPLANE_VERSION}" crossplane_core
timed "Crossplane image" image
index

timed_summary "crossplane install (index: ${INDEX})"
if [[ "${PRINT_INDEX}" == 1 ]]; then echo "${INDEX}"; fi
