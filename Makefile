# function-multigres — developer entry points. `make help` lists them.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(CURDIR)/bin
CROSSPLANE := $(BIN)/crossplane
CROSSPLANE_VERSION ?= v2.2.1
PYTHONIC_VERSION ?= 0.6.3
FMG_CACHE ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/function-multigres
PYTHONIC := $(FMG_CACHE)/pythonic-$(PYTHONIC_VERSION)/bin/function-pythonic
EXAMPLE ?= examples/minimal.yaml
OBSERVED ?=
FN_ADDRESS ?= 127.0.0.1:9443
PYTEST_ARGS ?=
# The slowest tests end every `make test` and `make e2e`: where CI's minutes go (issue 9).
DURATIONS := --durations=15 --durations-min=5
# `make test` spreads its tests over one worker per core (pytest-xdist): pytest took
# 246-305 s instead of 410 s on 2 cores. TEST_WORKERS=0 runs them in this process, in file order.
TEST_WORKERS ?= auto
# E2E_LOCK=/path: e2e runs on one host take this lock in turn (flock), so two clones
# sharing a small machine do not run their clusters at once and distort each other's timings.
E2E_LOCK ?=
E2E_SERIAL := $(if $(E2E_LOCK),flock $(E2E_LOCK))
OUT := _out
RUNTIME_TAR ?= $(OUT)/runtime-image.tar
FUNCTION_XPKG := $(OUT)/function-multigres.xpkg
CONFIGURATION_XPKG := $(OUT)/configuration-multigres.xpkg
# Not in the packages: apis/rbac.yaml (a Configuration cannot carry a ClusterRole; it is
# applied on its own, docs/operations.md#install), render-only and invalid examples.
XPKG_IGNORE := rbac.yaml,functions.yaml,invalid/*,observed/*

.PHONY: help venv crossplane crossplane-cluster pkgname peer pythonic render generate golden lock test test-unit test-apiserver test-packages lint typecheck bench bench-quick xpkg image image-check clean e2e-install cluster-up cluster-down e2e e2e-pending observed

help: ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | column -t -s $$'\t'

# The runtime dependencies at the versions the image ships (requirements/runtime.txt,
# without its hashes: they cannot go next to an editable install); dev tools unpinned.
# uv (pinned, from PyPI, kept in $(FMG_CACHE) outside the clone) makes the virtualenv and
# installs them: about 20 s instead of pip's 57-68 s, the same versions (`pip freeze`
# compared), from its cache in ~/.cache/uv on a warm machine. `python -m venv` alone took
# 8-28 s here (ensurepip) and upgrading pip in it 4 s more; `uv venv --seed` takes well under
# one and still puts pip in the virtualenv (hack/image/build.sh runs `pip download`).
UV_VERSION ?= 0.13.9
UV_DIR := $(FMG_CACHE)/uv-$(UV_VERSION)
UV := $(UV_DIR)/bin/uv
$(UV):
	@echo ">> installing uv $(UV_VERSION) into $(UV_DIR)"
	rm -rf $(UV_DIR).tmp && $(PYTHON) -m pip install -q --disable-pip-version-check --no-compile --target $(UV_DIR).tmp uv==$(UV_VERSION)
	rm -rf $(UV_DIR) && mv $(UV_DIR).tmp $(UV_DIR)

$(VENV)/.installed: pyproject.toml requirements/runtime.txt | $(UV)
	@echo ">> creating virtualenv $(VENV) and installing function-multigres[dev] (uv $(UV_VERSION))"
	test -x $(PY) || $(UV) venv -q --seed --python $(PYTHON) $(VENV)
	sed -n 's/^\([A-Za-z0-9_.-]*==[^ ]*\).*/\1/p' requirements/runtime.txt > $(VENV)/constraints.txt
	$(UV) pip install -q --python $(PY) -c $(VENV)/constraints.txt -e '.[dev]'
	touch $@

venv: $(VENV)/.installed ## create .venv with the function and dev tools

$(CROSSPLANE):
	hack/install-crossplane.sh $(CROSSPLANE_VERSION) $(BIN)

crossplane: $(CROSSPLANE) ## build the pinned crossplane CLI (crank) into ./bin

crossplane-cluster: ## build Crossplane core, helm, the chart manifests and an OCI registry into the cache (hack/crossplane/)
	hack/crossplane/install.sh

pkgname: ## build pkgname (Crossplane's own package naming, for the package tests) into the cache
	hack/crossplane/install.sh --pkgname-only

$(PYTHONIC):
	hack/install-pythonic.sh $(PYTHONIC_VERSION) $(FMG_CACHE)/pythonic-$(PYTHONIC_VERSION)

pythonic: $(PYTHONIC) ## install the benchmark peer function-pythonic (PyPI, pinned) into ~/.cache/function-multigres

render: venv $(CROSSPLANE) ## render EXAMPLE (default examples/minimal.yaml) [OBSERVED=dir-or-file] through the local function
	$(PY) hack/render.py --crossplane $(CROSSPLANE) --address $(FN_ADDRESS) --example $(EXAMPLE) $(if $(OBSERVED),--observed $(OBSERVED))

generate: venv ## regenerate the Postgres parameter table (from the pinned binary; root), apis/definition.yaml, package/input CRD and docs/api.md
	$(PY) -m hack.pg_parameters
	$(PY) -m function.gen

golden: venv ## rewrite tests/golden/ (the whole response for every example); read the diff
	$(PY) -m tests.goldens

observed: ## copy the observed state the last e2e run recorded into examples/observed/, then rewrite the golden files
	cp tests/e2e/results/observed/healthy.yaml tests/e2e/results/observed/coming-up.yaml examples/observed/
	$(MAKE) golden

lint: venv ## ruff
	$(VENV)/bin/ruff check function tests bench hack
	$(VENV)/bin/ruff format --check function tests bench hack

typecheck: venv ## mypy
	$(VENV)/bin/mypy

test: venv $(CROSSPLANE) $(PYTHONIC) lint typecheck xpkg pkgname ## everything: unit, gRPC, render, schema, property, runtime, API server, packages, bench smoke
	$(PY) -m pytest -q -n $(TEST_WORKERS) $(DURATIONS) $(PYTEST_ARGS)

test-unit: venv ## fast tests only (no crossplane CLI, no API server, no packages)
	$(PY) -m pytest -q -m "not apiserver and not render and not packages" $(PYTEST_ARGS)

test-packages: venv xpkg pkgname ## only the tests that read the built packages back
	$(PY) -m pytest -q -m packages $(PYTEST_ARGS)

test-apiserver: venv ## only the real kube-apiserver tier
	$(PY) -m pytest -q -m apiserver $(PYTEST_ARGS)

e2e-install: venv ## build/install everything the real node needs, Crossplane's pieces included (cached in ~/.cache/function-multigres)
	hack/e2e/install.sh

cluster-up: e2e-install ## start the single-node Kubernetes of the e2e tier (root; hack/e2e/kubectl to use it)
	python3 -m hack.e2e.cluster up

cluster-down: ## stop it and remove every trace of it from the host
	python3 -m hack.e2e.cluster down

e2e: e2e-install $(CROSSPLANE) xpkg ## the e2e tier: bring the node up, run tests/e2e/ (Crossplane installs the packages from _out/), tear it down [E2E_KEEP=1 keeps it up]
	FMG_E2E=1 FMG_E2E_KEEP=$(E2E_KEEP) $(E2E_SERIAL) $(PY) -m pytest -q -m "not pending" tests/e2e $(DURATIONS) $(PYTEST_ARGS)

e2e-pending: e2e-install $(CROSSPLANE) xpkg ## the e2e scenarios that fail today (marked pending), on their own cluster
	FMG_E2E=1 FMG_E2E_KEEP=$(E2E_KEEP) $(E2E_SERIAL) $(PY) -m pytest -q -m pending tests/e2e $(PYTEST_ARGS)

bench: venv $(PYTHONIC) ## full benchmark -> bench/results/full.json
	$(PY) bench/run.py --mode full

bench-quick: venv $(PYTHONIC) ## quick benchmark (about 4 min on 2 quiet cores, docs/benchmarks.md) -> bench/results/quick.json
	$(PY) bench/run.py --mode quick

peer: ## build the optional peer function-go-templating from the Go module proxy, if it serves it
	hack/install-peer.sh v0.12.2 $(BIN)

xpkg: $(CROSSPLANE) image ## build both packages into _out/: the Function (runtime image embedded) and the Configuration
	$(CROSSPLANE) xpkg build --package-root=package --examples-root=examples --ignore='$(XPKG_IGNORE)' \
	  --embed-runtime-image-tarball=$(RUNTIME_TAR) --package-file=$(FUNCTION_XPKG)
	$(CROSSPLANE) xpkg build --package-root=apis --examples-root=examples --ignore='$(XPKG_IGNORE)' \
	  --package-file=$(CONFIGURATION_XPKG)
	@sha256sum $(FUNCTION_XPKG) $(CONFIGURATION_XPKG)

image: venv ## build the runtime image without Docker (debootstrap; needs root) -> _out/runtime-image.tar
	PYTHON=$(abspath $(PY)) hack/image/build.sh $(RUNTIME_TAR)

image-check: venv ## rebuild the runtime image twice over the cached base, compare ids (from empty caches: hack/image/check-reproducible.sh --cold)
	PYTHON=$(abspath $(PY)) hack/image/check-reproducible.sh

lock: venv ## re-pin requirements/runtime.txt and build.txt (with hashes) from the versions in .venv
	$(PY) hack/lock.py

clean: ## remove caches (keeps ./bin and .cache binaries)
	rm -rf .pytest_cache .mypy_cache .ruff_cache .hypothesis $(OUT)
