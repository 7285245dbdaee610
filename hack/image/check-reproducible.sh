#!/usr/bin/env bash
# `make image-check`: the same inputs give the same image id.
#
#   hack/image/check-reproducible.sh          rebuild the wheel, /venv/fn and the image
#                                             twice over the cached base and wheels (~1 min)
#   hack/image/check-reproducible.sh --cold   two complete builds, each from an empty cache:
#                                             debootstrap, downloads and all (~10 min)
#
# Prints both ids; on a difference, the files whose content differs between the builds.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "${HERE}/../.." && pwd)"
# shellcheck source=../lib/gobuild.sh
source "${ROOT}/hack/lib/gobuild.sh"
COLD=0
[[ "${1:-}" == --cold ]] && COLD=1
work="$(mktemp -d "${TMPDIR:-/tmp}/image-check.XXXXXX")"
trap 'rm -rf "${work}"' EXIT

declare -a ids=()
for n in 1 2; do
  t0=$(date +%s)
  if [[ "${COLD}" == 1 ]]; then
    log "build ${n}/2 from an empty cache (${work}/cache-${n})"
    id="$(FMG_CACHE="${work}/cache-${n}" "${HERE}/build.sh" "${work}/image-${n}.tar")"
  else
    log "build ${n}/2 (cached base and wheels; wheel, virtualenv and image rebuilt)"
    id="$(FMG_IMAGE_REBUILD=1 "${HERE}/build.sh" "${work}/image-${n}.tar")"
  fi
  log "build ${n}: ${id} in $(( $(date +%s) - t0 ))s"
  ids+=("${id}")
done

if [[ "${ids[0]}" == "${ids[1]}" ]]; then
  log "reproducible: both builds are ${ids[0]}"
  echo "${ids[0]}"
  exit 0
fi
log "NOT reproducible: ${ids[0]} != ${ids[1]}; files that differ:"
"${PYTHON:-python3}" - "${work}/image-1.tar" "${work}/image-2.tar" <<'PY' >&2
import hashlib, io, json, sys, tarfile

def files(path):
    out = {}
    with tarfile.open(path) as t:
        manifest = json.load(t.extractfile("manifest.json"))[0]
        for layer in manifest["Layers"]:
            with tarfile.open(fileobj=io.BytesIO(t.extractfile(layer).read())) as lt:
                for m in lt.getmembers():
                    data = lt.extractfile(m).read() if m.isreg() else m.linkname.encode()
                    out[m.name] = (m.mode, m.uid, m.gid, hashlib.sha256(data).hexdigest())
    return out

a, b = files(sys.argv[1]), files(sys.argv[2])
for name in sorted(set(a) | set(b)):
    if a.get(name) != b.get(name):
        print(f">>   {name}: {a.get(name)} vs {b.get(name)}")
PY
exit 1
