#!/usr/bin/env bash
# Install the benchmark's peer, function-pythonic (crossplane-function-pythonic from PyPI,
# pinned), into a virtualenv of its own: DIR/bin/function-pythonic.
#
# Usage: hack/install-pythonic.sh [VERSION] [DIR]
#   defaults: 0.6.3, ~/.cache/function-multigres/pythonic-VERSION (FMG_CACHE overrides the
#   cache, as for every tool hack/ installs: outside the clone, so a fresh clone of the
#   same machine reuses it; a pip install takes minutes on a loaded 2-core machine)
#
# function-pythonic needs Python >= 3.12 (the project itself runs on 3.11), so this looks
# for an interpreter of its own: $PYTHONIC_PYTHON, then python3.12 / python3.13 on PATH,
# then pyenv's versions. Nothing is committed. Skips the install when
# DIR/.installed-VERSION exists.
set -euo pipefail

VERSION="${1:-0.6.3}"
CACHE="${FMG_CACHE:-${XDG_CACHE_HOME:-${HOME}/.cache}/function-multigres}"  # as hack/lib/gobuild.sh
DIR="${2:-${CACHE}/pythonic-${VERSION}}"
STAMP="${DIR}/.installed-${VERSION}"

if [[ -x "${DIR}/bin/function-pythonic" && -f "${STAMP}" ]]; then
  echo ">> function-pythonic ${VERSION} already installed in ${DIR}"
  exit 0
fi

ok() { "$1" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' 2>/dev/null; }

PY=""
candidates=("${PYTHONIC_PYTHON:-}" python3.12 python3.13)
if command -v pyenv >/dev/null 2>&1; then
  root="$(pyenv root)"
  for v in "${root}"/versions/3.12* "${root}"/versions/3.13*; do candidates+=("${v}/bin/python3"); done
elif [[ -d "${HOME}/.pyenv/versions" ]]; then
  for v in "${HOME}"/.pyenv/versions/3.12* "${HOME}"/.pyenv/versions/3.13*; do candidates+=("${v}/bin/python3"); done
fi
for c in "${candidates[@]}"; do
  [[ -n "${c}" ]] || continue
  if p="$(command -v "${c}" 2>/dev/null)" && ok "${p}"; then PY="${p}"; break; fi
done
if [[ -z "${PY}" ]]; then
  echo ">> error: function-pythonic needs Python >= 3.12; none found (set PYTHONIC_PYTHON)" >&2
  exit 1
fi

echo ">> installing crossplane-function-pythonic==${VERSION} into ${DIR} with $("${PY}" --version)"
rm -rf "${DIR}"
"${PY}" -m venv "${DIR}"
"${DIR}/bin/python" -m pip install -q --disable-pip-version-check "crossplane-function-pythonic==${VERSION}"
"${DIR}/bin/function-pythonic" --help >/dev/null
touch "${STAMP}"
echo ">> installed ${DIR}/bin/function-pythonic"
