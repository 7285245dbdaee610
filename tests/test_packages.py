"""The packages `make xpkg` built, read back: what Crossplane will install from them.

Function package: its metadata and Input CRD, the runtime image embedded under it, its
examples. Configuration package: its metadata, its dependency on the Function, the XRD and
Composition inside (the same as apis/), nothing a Configuration cannot carry. And the one
name that has to agree everywhere: the Function object Crossplane creates for the
Configuration's dependency, and for `crossplane xpkg install function REF`, is named by
Crossplane's own code (hack/crossplane/pkgname, built from the v2.2.1 resolver), and the
Composition's functionRef must be that name, in the package and in every install path
the docs give.
"""

from __future__ import annotations

import json
import re
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.helpers import EXAMPLES, ROOT, VALID_EXAMPLES, load
from tests.oci import (
    CONFIGURATION_XPKG,
    FUNCTION_XPKG,
    RUNTIME_IMAGE,
    ImageTarball,
    Package,
    cache_dir,
    package,
)

pytestmark = pytest.mark.packages

CROSSPLANE_VERSION = "v2.2.1"
DOCS = [ROOT / "README.md", ROOT / "docs" / "operations.md"]


def _built(path: Path) -> Path:
    if not path.exists():
        pytest.fail(f"{path.relative_to(ROOT)} missing: run `make xpkg`")
    return path


@pytest.fixture(scope="module")
def function_pkg() -> Package:
    return package(_built(FUNCTION_XPKG))


@pytest.fixture(scope="module")
def configuration_pkg() -> Package:
    return package(_built(CONFIGURATION_XPKG))


@pytest.fixture(scope="module")
def runtime_image() -> ImageTarball:
    return ImageTarball(_built(RUNTIME_IMAGE))


@cache
def crossplane_names(ref: str) -> dict[str, str]:
    """What Crossplane v2.2.1's own code names the package object for `ref` (no tag)."""
    binary = cache_dir() / "crossplane" / CROSSPLANE_VERSION / "bin" / "pkgname"
    if not binary.exists():
        pytest.fail(f"{binary} missing: run `make pkgname`")
    out = subprocess.run([str(binary), ref], capture_output=True, text=True, check=True)
    names: dict[str, str] = json.loads(out.stdout)
    return names


def project_version() -> str:
    m = re.search(r'^version = "([^"]+)"', (ROOT / "pyproject.toml").read_text(), re.M)
    assert m
    return m.group(1)


def satisfies(version: str, constraint: str) -> bool:
    """Enough of Masterminds/semver for the constraints we write (>=, >, <, <=, =)."""

    def parse(v: str) -> tuple[int, ...]:
        return tuple(int(x) for x in v.lstrip("v").split("-")[0].split("."))

    ops = {
        ">=": lambda a, b: a >= b,
        "<=": lambda a, b: a <= b,
        ">": lambda a, b: a > b,
        "<": lambda a, b: a < b,
        "=": lambda a, b: a == b,
    }
    for part in constraint.replace(",", " ").split():
        m = re.fullmatch(r"(>=|<=|>|<|=)?(v?[0-9.]+)", part)
        assert m, f"unsupported constraint {part!r}"
        if not ops[m.group(1) or "="](parse(version), parse(m.group(2))):
            return False
    return True


def dependency(configuration_pkg: Package) -> dict[str, Any]:
    deps = configuration_pkg.meta["spec"]["dependsOn"]
    assert len(deps) == 1, deps
    dep: dict[str, Any] = deps[0]
    return dep


def function_ref(composition: dict[str, Any]) -> str:
    steps = composition["spec"]["pipeline"]
    assert len(steps) == 1, steps
    name: str = steps[0]["functionRef"]["name"]
    return name


# --- The Function package ----------------------------------------------------------------


def test_function_package_metadata(function_pkg: Package) -> None:
    meta = function_pkg.meta
    assert meta["apiVersion"] in ("meta.pkg.crossplane.io/v1", "meta.pkg.crossplane.io/v1beta1")
    assert meta["kind"] == "Function"
    assert meta["metadata"]["name"] == "function-multigres"
    assert satisfies(CROSSPLANE_VERSION, meta["spec"]["crossplane"]["version"])
    for key in ("maintainer", "source", "description", "readme"):
        assert meta["metadata"]["annotations"][f"meta.crossplane.io/{key}"]


def test_function_package_carries_the_input_crd(function_pkg: Package) -> None:
    (crd,) = function_pkg.objects
    want = load(ROOT / "package" / "input" / "multigres.fn.crossplane.io_inputs.yaml")
    assert crd["kind"] == "CustomResourceDefinition"
    assert crd["metadata"]["name"] == want["metadata"]["name"]
    assert crd["spec"] == want["spec"]


def test_function_package_embeds_the_runtime_image(
    function_pkg: Package, runtime_image: ImageTarball
) -> None:
    """The runtime image's layers, then package.yaml and the examples; its config kept."""
    pkg = function_pkg.image
    assert pkg.diff_ids[: len(runtime_image.diff_ids)] == runtime_image.diff_ids
    assert len(pkg.diff_ids) == len(runtime_image.diff_ids) + 2
    for key in ("Entrypoint", "User", "Env"):
        assert pkg.config["config"][key] == runtime_image.config["config"][key], key
    assert pkg.config["config"]["Entrypoint"] == ["/venv/fn/bin/function"]
    assert pkg.config["config"]["User"] == "65532:65532"
    assert pkg.config["architecture"] == "amd64"
    assert pkg.config["os"] == "linux"


def test_function_package_examples_are_the_valid_ones(function_pkg: Package) -> None:
    kinds = [d["kind"] for d in function_pkg.examples]
    assert kinds.count("XMultigres") == len(VALID_EXAMPLES)
    names = sorted(
        d["metadata"]["name"] for d in function_pkg.examples if d["kind"] == "XMultigres"
    )
    assert names == sorted(load(p)["metadata"]["name"] for p in VALID_EXAMPLES)
    # render-only Function objects, invalid XRs and observed states stay out.
    assert "Function" not in kinds
    observed = {
        d["kind"]
        for p in (EXAMPLES / "observed").glob("*.yaml")
        for d in yaml.safe_load_all(p.read_text())
        if d
    }
    assert not (observed - {"XMultigres", "Secret"}) & set(kinds)


# --- The Configuration package -----------------------------------------------------------


def test_configuration_package_metadata(configuration_pkg: Package) -> None:
    meta = configuration_pkg.meta
    assert meta["apiVersion"] == "meta.pkg.crossplane.io/v1"
    assert meta["kind"] == "Configuration"
    assert meta["metadata"]["name"] == "configuration-multigres"
    assert satisfies(CROSSPLANE_VERSION, meta["spec"]["crossplane"]["version"])


def test_configuration_depends_on_the_function_we_build(configuration_pkg: Package) -> None:
    dep = dependency(configuration_pkg)
    assert (dep["apiVersion"], dep["kind"]) == ("pkg.crossplane.io/v1", "Function")
    assert ":" not in dep["package"].split("/")[-1], "a dependency names a repository, no tag"
    assert satisfies(f"v{project_version()}", dep["version"]), dep["version"]
    assert dep == load(ROOT / "apis" / "crossplane.yaml")["spec"]["dependsOn"][0]


def test_configuration_carries_exactly_the_xrd_and_composition(configuration_pkg: Package) -> None:
    by_kind = {o["kind"]: o for o in configuration_pkg.objects}
    assert sorted(by_kind) == sorted(["Composition", "CompositeResourceDefinition"])
    assert len(configuration_pkg.objects) == 2
    for kind, path in (
        ("CompositeResourceDefinition", "definition.yaml"),
        ("Composition", "composition.yaml"),
    ):
        want = load(ROOT / "apis" / path)
        got = by_kind[kind]
        assert got["apiVersion"] == want["apiVersion"]
        assert got["metadata"]["name"] == want["metadata"]["name"]
        assert got["spec"] == want["spec"], kind
    xrd = by_kind["CompositeResourceDefinition"]
    assert (
        xrd["spec"]["defaultCompositionRef"]["name"] == by_kind["Composition"]["metadata"]["name"]
    )


def test_rbac_ships_beside_the_configuration_not_in_it(configuration_pkg: Package) -> None:
    """A Configuration cannot carry a ClusterRole; apis/rbac.yaml aggregates into Crossplane's."""
    assert all(o["kind"] != "ClusterRole" for o in configuration_pkg.objects)
    role = load(ROOT / "apis" / "rbac.yaml")
    assert role["kind"] == "ClusterRole"
    # The label the chart's `crossplane` ClusterRole aggregates (cluster/charts/crossplane
    # templates/clusterrole.yaml, with rbacManager.deploy, the default).
    assert role["metadata"]["labels"]["rbac.crossplane.io/aggregate-to-crossplane"] == "true"


# --- The name that has to agree everywhere -------------------------------------------------


def test_crossplane_names_the_dependency_what_the_composition_calls(
    configuration_pkg: Package,
) -> None:
    """Installing only the Configuration gives a Function named as the functionRef says."""
    dep = dependency(configuration_pkg)
    composition = next(o for o in configuration_pkg.objects if o["kind"] == "Composition")
    names = crossplane_names(dep["package"])
    assert names["dependency"] == function_ref(composition), (
        f"Crossplane {CROSSPLANE_VERSION} installs {dep['package']} as Function "
        f"{names['dependency']!r}, the Composition calls {function_ref(composition)!r}"
    )
    # `crossplane xpkg install function <same package>:<tag>` gives the same name, so
    # installing the Function first and the Configuration after finds one Function.
    assert names["install"] == names["dependency"]


def test_the_function_package_name_is_the_function_object_name(
    function_pkg: Package, configuration_pkg: Package
) -> None:
    """Not needed by Crossplane, but the docs, labels and runtime config all use one name."""
    composition = next(o for o in configuration_pkg.objects if o["kind"] == "Composition")
    assert function_pkg.meta["metadata"]["name"] == function_ref(composition)
    assert load(EXAMPLES / "functions.yaml")["metadata"]["name"] == function_ref(composition)


def _doc_blocks(path: Path) -> list[str]:
    return re.findall(r"```(?:sh|yaml|console)?\n(.*?)```", path.read_text(), re.S)


def _manifests(block: str) -> list[Any]:
    """The objects a doc block shows: a YAML block, or the heredocs of a shell block
    (`kubectl apply -f - <<EOF ... EOF`, as the README's install block has)."""
    heredocs = re.findall(r"<<'?EOF'?\n(.*?)\nEOF\n", block, re.S)
    if heredocs:
        return [d for h in heredocs for d in yaml.safe_load_all(h)]
    if "apiVersion:" not in block or re.search(r"^(kubectl|crossplane) ", block, re.M):
        return []
    return list(yaml.safe_load_all(block))


def test_every_documented_install_gives_the_function_the_composition_calls() -> None:
    """README and operations guide: each way in ends with the Function under that name."""
    composition = load(ROOT / "apis" / "composition.yaml")
    want = function_ref(composition)
    dep = load(ROOT / "apis" / "crossplane.yaml")["spec"]["dependsOn"][0]["package"]
    installs = functions = configurations = 0
    for path in DOCS:
        for block in _doc_blocks(path):
            for line in block.splitlines():
                m = re.search(
                    r"crossplane xpkg install (function|configuration) (\S+)(?: (\S+))?", line
                )
                if not m:
                    continue
                kind, ref, explicit = m.groups()
                repo = ref.rsplit(":", 1)[0]
                if kind == "function":
                    installs += 1
                    name = (
                        explicit
                        if explicit and not explicit.startswith("-")
                        else crossplane_names(repo)["install"]
                    )
                    assert name == want, f"{path.name}: {line.strip()} installs Function {name!r}"
                    assert repo == dep, (
                        f"{path.name}: {line.strip()}: not the package the Configuration depends on"
                    )
                else:
                    configurations += 1
            for doc in _manifests(block):
                if isinstance(doc, dict) and doc.get("kind") == "Function":
                    functions += 1
                    assert doc["metadata"]["name"] == want, (
                        f"{path.name}: Function {doc['metadata']['name']}"
                    )
                    assert doc["spec"]["package"].rsplit(":", 1)[0] == dep
    assert installs and configurations, "the docs no longer show `crossplane xpkg install`"
    assert functions, "the docs no longer show a Function manifest"


def test_documented_kubectl_applies_name_files_kubectl_can_apply() -> None:
    """`kubectl apply -f apis/...` in the docs: existing files, no package metadata kinds."""
    seen = 0
    for path in DOCS:
        for block in _doc_blocks(path):
            for line in block.splitlines():
                if not line.strip().startswith("kubectl apply"):
                    continue
                for target in re.findall(r"-f (apis/\S*)", line):
                    seen += 1
                    p = ROOT / target
                    assert p.exists(), f"{path.name}: {line.strip()}"
                    files = sorted(p.glob("*.yaml")) if p.is_dir() else [p]
                    for f in files:
                        for doc in yaml.safe_load_all(f.read_text()):
                            assert doc and not doc["apiVersion"].startswith(
                                "meta.pkg.crossplane.io"
                            ), (
                                f"{path.name}: `{line.strip()}` applies {f.name}, package metadata no API server serves"
                            )
    assert seen


def test_readme_install_block_maps_both_packages_to_one_registry() -> None:
    """The block the e2e tier runs (tests/e2e/crossplane.py): ImageConfigs for exactly the
    two public names, each rewritten under ${REGISTRY}, and the install by public name."""
    from tests.e2e.crossplane import readme_install_block

    block = readme_install_block()
    configs = [d for d in _manifests(block) if d.get("kind") == "ImageConfig"]
    dep = load(ROOT / "apis" / "crossplane.yaml")["spec"]["dependsOn"][0]["package"]
    rewrites = {
        c["spec"]["matchImages"][0]["prefix"]: c["spec"]["rewriteImage"]["prefix"] for c in configs
    }
    config_repo = "xpkg.crossplane.io/configuration-multigres"
    assert rewrites == {
        dep: "${REGISTRY}/function-multigres",
        config_repo: "${REGISTRY}/configuration-multigres",
    }
    assert f"crossplane xpkg install configuration {config_repo}:" in block
    assert "kubectl apply -f apis/rbac.yaml" in block
