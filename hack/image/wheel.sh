#!/bin/sh
# Build the function's wheel reproducibly: hatchling at the version requirements/build.txt
# pins (hash-checked), no build isolation, timestamps from SOURCE_DATE_EPOCH.
#
#   wheel.sh SRC OUT [pip options, e.g. --no-index --find-links DIR]
set -eu
. "$(dirname "$0")/versions.env"
src="$1" out="$2"; shift 2
export SOURCE_DATE_EPOCH PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PYTHONDONTWRITEBYTECODE=1
build=/tmp/wheel-build
python3 -m venv "$build"
"$build/bin/pip" install -q --no-deps --require-hashes "$@" -r "$src/requirements/build.txt"
"$build/bin/pip" wheel -q --no-deps --no-build-isolation --wheel-dir "$out" "$src"
rm -rf "$build"
