"""Every flag we emit is one the pinned binary has: each Multigres container of every
example, as `crossplane render` prints it, against `--help` of the binary the e2e images
were built from (the same files, from the install cache)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from function.defaults.upstream import PATHS
from hack.e2e.cluster.layout import cache_dir
from tests.e2e.render import ROOT, composed

EXAMPLES = sorted(
    p for p in (ROOT / "examples").glob("*.yaml") if "kind: XMultigres" in p.read_text()
)
BIN = cache_dir() / "multigres"
FLAG = re.compile(r"^(--[a-z0-9][a-z0-9-]*)")


def binary(name: str) -> Path:
    found = sorted(BIN.glob(f"*/bin/{name}"))
    assert found, f"{name} is not in {BIN}: run hack/e2e/install.sh"
    return found[-1]


def containers(obj: dict[str, Any]) -> list[dict[str, Any]]:
    spec = obj.get("spec", {})
    pod = spec.get("template", {}).get("spec") or spec.get("jobTemplate", {}).get("spec", {}).get(
        "template", {}
    ).get("spec")
    return [*pod.get("initContainers", []), *pod["containers"]] if pod else []


def invocations(example: Path) -> list[tuple[str, list[str], list[str]]]:
    """(binary, subcommand words, flags) of every Multigres container of `example`."""
    out = []
    for obj in composed(example):
        for c in containers(obj):
            cmd = c.get("command") or []
            if len(cmd) != 1 or not (
                cmd[0].startswith(PATHS["multigres_bin"]) or cmd[0] == PATHS["pgctld_bin"]
            ):
                continue
            args = c.get("args") or []
            sub = [a for a in args if not a.startswith("-")][:1]
            flags = [m.group(1) for a in args if (m := FLAG.match(a))]
            out.append((Path(cmd[0]).name, sub, flags))
    return out


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_every_emitted_flag_is_in_the_binarys_help(example: Path) -> None:
    seen = invocations(example)
    assert {b for b, _, _ in seen} >= {"multigateway", "multiorch", "multipooler", "pgctld"}, seen
    for name, sub, flags in seen:
        help_text = subprocess.run(
            [str(binary(name)), *sub, "--help"], capture_output=True, text=True, timeout=30
        ).stdout
        known = set(re.findall(r"(--[a-z0-9][a-z0-9-]*)", help_text))
        missing = sorted(set(flags) - known)
        assert not missing, f"{name} {' '.join(sub)}: flags not in --help: {missing}"
