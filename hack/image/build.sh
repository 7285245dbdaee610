#!/usr/bin/env bash
# `make image`: the function's runtime image, without a Docker engine, reproducibly.
#
#   1. base.sh: Debian bookworm (debootstrap minbase + python3, python3-venv,
#      ca-certificates), cleaned by setup.sh, packed as one layer; cached by its inputs.
#   2. The wheels of requirements/runtime.txt and requirements/build.txt, hash-checked,
#      for CPython 3.11 on glibc x86_64; cached by the two files.
#   3. In a chroot of the base (read-only, private mount namespace): wheel.sh builds our
#      wheel from this tree, venv.sh installs the requirements and the wheel into /venv/fn,
#      offline, the same scripts the Dockerfile runs.
#   4. hack/e2e/mkimage.py packs base + /venv/fn into a docker-archive tarball (the format
#      `docker save` writes and `crossplane xpkg build --embed-runtime-image-tarball` and
#      `ctr images import` read), non-root, ENTRYPOINT the `function` script.
#
# Same inputs, same image id: every input of a step is in its cache key, every mtime is
# clamped, .pyc files are hash-based, the wheel's timestamps come from SOURCE_DATE_EPOCH.
# hack/image/check-reproducible.sh builds twice from empty caches and compares.
#
# Usage: hack/image/build.sh [OUT.tar]   (default _out/runtime-image.tar)
# FMG_IMAGE_REBUILD=1 rebuilds steps 3 and 4 even when the image is cached (the check does).
# Prints the image id (sha256 of its config) on stdout; progress on stderr.
# Needs root (debootstrap, chroot, mount namespaces), the Debian mirror and the package
# index (both only when the cache is cold).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "${HERE}/../.." && pwd)"
# shellcheck source=versions.env
source "${HERE}/versions.env"
# shellcheck source=../lib/gobuild.sh
source "${ROOT}/hack/lib/gobuild.sh"   # fmg_cache, log

OUT="${1:-${ROOT}/_out/runtime-image.tar}"
CACHE="$(fmg_cache)/image"
VERSION="$(sed -n 's/^version = "\(.*\)"$/\1/p' "${ROOT}/pyproject.toml" | head -n1)"
TAG="function-multigres-runtime:${VERSION}"
PYTHON="${PYTHON:-python3}"
key() { cat "$@" | sha256sum | cut -c1-16; }
total_start=$(date +%s)

for tool in debootstrap unshare chroot; do
  command -v "${tool}" >/dev/null || { log "error: ${tool} not found (Debian: apt-get install debootstrap util-linux)"; exit 1; }
done
[[ "$(id -u)" == 0 ]] || { log "error: make image needs root (debootstrap, chroot, mount namespaces)"; exit 1; }
mkdir -p "${CACHE}" "$(dirname "${OUT}")"

# 1. The base.
BASE="${CACHE}/base/${IMAGE_SUITE}-$(key "${HERE}/versions.env" "${HERE}/base.sh" "${HERE}/setup.sh" "${ROOT}/hack/e2e/mkimage.py")"
mkdir -p "${CACHE}/base"
"${HERE}/base.sh" "${BASE}"

# 2. The wheels, for the image's platform (pip in the chroot is offline).
WHEELS="${CACHE}/wheels/$(key "${ROOT}/requirements/runtime.txt" "${ROOT}/requirements/build.txt")"
if [[ -f "${WHEELS}/.complete" ]]; then
  log "wheels cached at ${WHEELS}"
else
  t0=$(date +%s)
  rm -rf "${WHEELS}" && mkdir -p "${WHEELS}"
  platforms=(--platform manylinux2014_x86_64)
  for m in $(seq 17 36); do platforms+=(--platform "manylinux_2_${m}_x86_64"); done
  log "downloading the pinned wheels (requirements/runtime.txt, requirements/build.txt) to ${WHEELS}"
  for req in runtime build; do
    "${PYTHON}" -m pip download -q --disable-pip-version-check --no-deps --require-hashes \
      --only-binary=:all: --python-version 3.11 --implementation cp --abi cp311 "${platforms[@]}" \
      -r "${ROOT}/requirements/${req}.txt" -d "${WHEELS}"
  done
  touch "${WHEELS}/.complete"
  log "downloaded $(find "${WHEELS}" -name '*.whl' | wc -l) wheels in $(( $(date +%s) - t0 ))s"
fi

# The inputs of steps 3 and 4: the base, the wheels, the scripts, the source of our wheel.
src_files=("${ROOT}/pyproject.toml" "${ROOT}/README.md" "${ROOT}/requirements/runtime.txt"
           "${ROOT}/requirements/build.txt" "${HERE}/wheel.sh" "${HERE}/venv.sh"
           "${HERE}/versions.env" "${ROOT}/hack/e2e/mkimage.py" "${BASE}.layer.tar")
mapfile -t py_files < <(cd "${ROOT}" && git ls-files -co --exclude-standard function | sort)
APP_KEY="$( (cd "${ROOT}" && sha256sum "${py_files[@]}"; sha256sum "${src_files[@]}" | sed "s#${ROOT}/##; s#${CACHE}/##"; echo "${TAG}") | sha256sum | cut -c1-16)"
IMAGE="${CACHE}/images/function-multigres-runtime-${APP_KEY}.tar"

if [[ -z "${FMG_IMAGE_REBUILD:-}" && -f "${IMAGE}" && -f "${IMAGE}.id" ]]; then
  log "runtime image cached at ${IMAGE}"
else
  # 3. The virtualenv, built in a read-only chroot of the base.
  t0=$(date +%s)
  mkdir -p "${CACHE}/work" "${CACHE}/images"
  STAGE="$(mktemp -d "${CACHE}/work/venv.XXXXXX")"
  trap 'rm -rf "${STAGE}"' EXIT
  chmod 0755 "${STAGE}"
  log "building the wheel and ${IMAGE_VENV} in a chroot of the base"
  unshare --mount --propagation private -- /bin/sh -euc '
    base="$1" stage="$2" root="$3" wheels="$4"
    mount --bind "$base" "$base" && mount -o remount,bind,ro "$base"
    mount --bind "$stage" "$base'"${IMAGE_VENV}"'"
    mount -t tmpfs -o mode=1777 tmpfs "$base/tmp"
    mkdir "$base/tmp/src" "$base/tmp/wheels" "$base/tmp/dist"
    mount --bind "$root" "$base/tmp/src" && mount -o remount,bind,ro "$base/tmp/src"
    mount --bind "$wheels" "$base/tmp/wheels" && mount -o remount,bind,ro "$base/tmp/wheels"
    mount -t proc proc "$base/proc"
    mount --rbind /dev "$base/dev"
    env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/tmp LANG=C.UTF-8 chroot "$base" /bin/sh -euc "
      /tmp/src/hack/image/wheel.sh /tmp/src /tmp/dist --no-index --find-links /tmp/wheels
      /tmp/src/hack/image/venv.sh /tmp/src/requirements/runtime.txt /tmp/dist/*.whl --no-index --find-links /tmp/wheels
      sha256sum /tmp/dist/*.whl
    "
  ' sh "${BASE}" "${STAGE}" "${ROOT}" "${WHEELS}" 2>&1 | sed 's/^/>>   /' >&2
  log "built ${IMAGE_VENV} ($(du -sh "${STAGE}" | cut -f1)) in $(( $(date +%s) - t0 ))s"

  # 4. The image.
  id="$("${PYTHON}" "${ROOT}/hack/e2e/mkimage.py" --tag "${TAG}" --out "${IMAGE}.tmp" \
        --layer "${BASE}.layer.tar" --layer "${STAGE}:${IMAGE_VENV}" \
        --user "${IMAGE_USER}" --env "PATH=${IMAGE_PATH}" --env LANG=C.UTF-8 \
        --label "org.opencontainers.image.source=https://github.com/function-multigres/function-multigres" \
        --label "org.opencontainers.image.version=${VERSION}" \
        --entrypoint "[\"${IMAGE_ENTRYPOINT}\"]")"
  mv "${IMAGE}.tmp" "${IMAGE}"
  echo "${id}" > "${IMAGE}.id"
  log "  layers: $(sed -n 's/.*"diff_ids":\[\([^]]*\)\].*/\1/p' < <(tar -xOf "${IMAGE}" "${id}.json") | tr -d '"')"
fi

# The output: a hard link to the cached tarball (a copy across file systems).
rm -f "${OUT}"
ln "${IMAGE}" "${OUT}" 2>/dev/null || cp "${IMAGE}" "${OUT}"
id="$(cat "${IMAGE}.id")"
log "runtime image ${TAG} -> ${OUT} ($(du -h "${OUT}" | cut -f1), $(( $(date +%s) - total_start ))s)"
log "  image id sha256:${id}"
echo "sha256:${id}"
