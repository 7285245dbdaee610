# function-multigres — developer entry points. `make help` lists them.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(CURDIR)/bin
CROSSPLANE := $(BIN)/crossplane
CROSSPLANE_VERSION ?= v2.2.1
PYTHONIC_VERSION ?= 0.6.3
PYTHONIC := .cache/pythonic-$(PYTHONIC_VERSION)/bin/function-pythonic
EXAMPLE ?= examples/minimal.yaml
OBSERVED ?=
FN_ADDRESS ?= 127.0.0.1:9443
PYTEST_ARGS ?=

.PHONY: help venv crossplane peer pythonic render generate test test-unit test-apiserver lint typecheck bench bench-quick package xpkg image clean

help: ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | column -t -s $$'\t'

$(VENV)/.installed: pyproject.toml
	@echo ">> creating virtualenv $(VENV) and installing function-multigres[dev]"
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

venv: $(VENV)/.installed ## create .venv with the function and dev tools

$(CROSSPLANE):
	hack/install-crossplane.sh $(CROSSPLANE_VERSION) $(BIN)

crossplane: $(CROSSPLANE) ## build the pinned crossplane CLI (crank) into ./bin

$(PYTHONIC):
	hack/install-pythonic.sh $(PYTHONIC_VERSION)

pythonic: $(PYTHONIC) ## install the benchmark peer function-pythonic (PyPI, pinned) into .cache/

render: venv $(CROSSPLANE) ## render EXAMPLE (default examples/minimal.yaml) [OBSERVED=dir-or-file] through the local function
	$(PY) hack/render.py --crossplane $(CROSSPLANE) --address $(FN_ADDRESS) --example $(EXAMPLE) $(if $(OBSERVED),--observed $(OBSERVED))

generate: venv ## regenerate apis/definition.yaml, package/input CRD and docs/api.md from the models
	$(PY) -m function.gen

lint: venv ## ruff
	$(VENV)/bin/ruff check function tests bench hack
	$(VENV)/bin/ruff format --check function tests bench hack

typecheck: venv ## mypy
	$(VENV)/bin/mypy

test: venv $(CROSSPLANE) $(PYTHONIC) lint typecheck ## everything: unit, gRPC, render, schema, property, runtime, API server, bench smoke
	$(PY) -m pytest -q $(PYTEST_ARGS)

test-unit: venv ## fast tests only (no crossplane CLI, no API server)
	$(PY) -m pytest -q -m "not apiserver and not render" $(PYTEST_ARGS)

test-apiserver: venv ## only the real kube-apiserver tier
	$(PY) -m pytest -q -m apiserver $(PYTEST_ARGS)

bench: venv $(PYTHONIC) ## full benchmark -> bench/results/full.json
	$(PY) bench/run.py --mode full

bench-quick: venv $(PYTHONIC) ## quick benchmark (< ~4 min) -> bench/results/quick.json
	$(PY) bench/run.py --mode quick

peer: ## build the optional peer function-go-templating from the Go module proxy, if it serves it
	hack/install-peer.sh v0.12.2 $(BIN)

xpkg: $(CROSSPLANE) ## build the Function package (needs runtime image tarball: RUNTIME_TAR=...)
	$(CROSSPLANE) xpkg build --package-root=package --examples-root=examples \
	  --embed-runtime-image-tarball=$(RUNTIME_TAR) --package-file=function-multigres.xpkg
	$(CROSSPLANE) xpkg build --package-root=apis --examples-root=examples --package-file=configuration-multigres.xpkg

image: ## build the runtime image (needs a Docker engine; not available on the dev machines)
	docker build -t function-multigres:dev .
	docker save function-multigres:dev -o runtime.tar

clean: ## remove caches (keeps ./bin and .cache binaries)
	rm -rf .pytest_cache .mypy_cache .ruff_cache .hypothesis _out
