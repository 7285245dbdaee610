#!/bin/sh
# Create the function's virtualenv at IMAGE_VENV: the pinned, hash-checked requirements,
# then our wheel, then `pip check`; pip and setuptools are removed (nothing installs at
# run time) and everything is byte-compiled independently of mtimes.
#
#   venv.sh REQUIREMENTS WHEEL [pip options, e.g. --no-index --find-links DIR]
set -eu
. "$(dirname "$0")/versions.env"
req="$1" wheel="$2"; shift 2
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PYTHONDONTWRITEBYTECODE=1
python3 -m venv "$IMAGE_VENV"
pip="$IMAGE_VENV/bin/pip"
"$pip" install -q --no-compile --no-deps --require-hashes "$@" -r "$req"
"$pip" install -q --no-compile --no-deps "$wheel"
"$pip" check
"$pip" uninstall -q -y pip setuptools
find "$IMAGE_VENV" -name __pycache__ -type d -prune -exec rm -rf {} +
"$IMAGE_VENV/bin/python" -m compileall -q -j 1 --invalidation-mode unchecked-hash "$IMAGE_VENV" >/dev/null
"$IMAGE_ENTRYPOINT" --help >/dev/null
