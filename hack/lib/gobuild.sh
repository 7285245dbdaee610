# Shared by the install scripts (sourced): build one Go binary from a wrapper module
# with progress lines, reproducibly (-trimpath, static, stripped), into a directory.
#
#   gobuild NAME MODDIR PKG VERSION LDFLAGS OUTDIR
#
# Everything comes from the Go module proxy; a build never edits go.mod. The Go build
# cache (`go env GOCACHE`, outside the clone) makes a second build of the same inputs
# take seconds; the first takes minutes on 2 cores.

export GOWORK=off CGO_ENABLED="${CGO_ENABLED:-0}"
case " ${GOFLAGS:-} " in *" -mod=readonly "*) ;; *) export GOFLAGS="${GOFLAGS:-} -mod=readonly" ;; esac

log() { echo ">> $*" >&2; }

# go build -v prints each package as it is compiled; turn that into one progress
# line every 10 s (count of packages done, elapsed time) instead of thousands.
gobuild_progress() {
  local what="$1" start="$2" total="$3"
  awk -v what="${what}" -v start="${start}" -v total="${total}" '
    /^(go: |#|[^ ]+\.go:|\t)/ { print > "/dev/stderr"; next }   # errors and downloads
    { n++; now = systime(); if (now - last >= 10) { last = now;
        printf(">>   %s: %d/%d packages compiled, %ds elapsed (last: %s)\n", what, n, total, now - start, $0) > "/dev/stderr"; fflush("/dev/stderr") } }
    END { printf(">>   %s: %d packages compiled\n", what, n) > "/dev/stderr" }'
}

gobuild() {
  local name="$1" moddir="$2" pkg="$3" version="$4" ldflags="$5" outdir="$6"
  local out="${outdir}/${name}" start total
  start=$(date +%s)
  mkdir -p "${outdir}"
  log "building ${name} ${version} (${pkg}) -> ${out}"
  log "  go: $(go version | cut -d' ' -f3-) | GOPROXY=$(go env GOPROXY) | first build takes minutes, cached afterwards"
  (cd "${moddir}" && go mod download) 2>&1 | sed 's/^/>>   /' >&2
  total=$(cd "${moddir}" && go list -deps "${pkg}" | wc -l)
  # -p: the number of CPUs by default; override with GO_BUILD_P on small machines.
  if ! (cd "${moddir}" && go build -v -p "${GO_BUILD_P:-$(nproc)}" -trimpath \
          -ldflags "-s -w ${ldflags}" -o "${out}.tmp.$$" "${pkg}" 2>&1 \
        | gobuild_progress "${name}" "${start}" "${total}"; exit "${PIPESTATUS[0]}"); then
    rm -f "${out}.tmp.$$"
    log "error: building ${name} failed"
    return 1
  fi
  mv -f "${out}.tmp.$$" "${out}"
  log "built ${name} ${version} in $(( $(date +%s) - start ))s"
}

# The cache every install script writes to: outside the clone, so a fresh clone on the
# same machine is warm. Override with FMG_CACHE.
fmg_cache() { echo "${FMG_CACHE:-${XDG_CACHE_HOME:-${HOME}/.cache}/function-multigres}"; }

# Step timing for the install scripts: `timed LABEL command...` runs a step and records
# its duration; `timed_summary WHAT` prints the total and each step's time.
TIMED_START=$(date +%s)
declare -a TIMES=()
timed() { # label command...
  local label="$1" t0; shift; t0=$(date +%s)
  "$@"
  TIMES+=("${label}: $(( $(date +%s) - t0 ))s")
}
timed_summary() { # what
  log "$1 done in $(( $(date +%s) - TIMED_START ))s:"
  local t; for t in "${TIMES[@]}"; do log "  ${t}"; done
}

# A short key of some files' contents, for cache entry names.
key() { cat "$@" | sha256sum | cut -c1-16; }
