"""Whole-response golden files: the complete RunFunction answer for every example.

One case per XMultigres in `examples/*.yaml`, per observed state in `examples/observed/`
and per invalid example in `examples/invalid/`. Each request is what `crossplane render`
sends for it: the XR, the Composition's input, the observed resources, and — as a second
call, the way Crossplane answers the function's requirements — the required resources
from `examples/required/` that match what the first response asked for.

    python -m tests.goldens           # rewrite tests/golden/ (make golden)
    python -m tests.goldens --check   # exit 1 and name the stale files

The fast tier compares every file whole (tests/test_golden.py); the API-server tier
applies the desired objects of the same files to a real kube-apiserver.
"""

from __future__ import annotations

import argparse
import difflib
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from crossplane.function.proto.v1 import run_function_pb2 as fnv1
from google.protobuf import json_format

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
GOLDEN = ROOT / "tests" / "golden"
COMPOSITION = ROOT / "apis" / "composition.yaml"
RESOURCE_NAME = "crossplane.io/composition-resource-name"

Obj = dict[str, Any]


@dataclass(frozen=True)
class Case:
    name: str  # the golden file is tests/golden/<name>.json
    xr: Path
    observed: Path | None = None


def _docs(path: Path) -> list[Obj]:
    return [d for d in yaml.safe_load_all(path.read_text()) if isinstance(d, dict)]


def _xr_of_observed(path: Path) -> Path:
    """The example an observed file belongs to, from its first line
    ("# Observed resources of examples/<x>.yaml ..."); examples/minimal.yaml otherwise."""
    first = path.read_text().splitlines()[:1]
    m = re.search(r"examples/([\w.-]+\.yaml)", first[0]) if first else None
    return EXAMPLES / (m.group(1) if m else "minimal.yaml")


def cases() -> list[Case]:
    out = [
        Case(p.stem, p)
        for p in sorted(EXAMPLES.glob("*.yaml"))
        if any(d.get("kind") == "XMultigres" for d in _docs(p))
    ]
    out += [
        Case(f"observed-{p.stem}", _xr_of_observed(p), p)
        for p in sorted((EXAMPLES / "observed").glob("*.yaml"))
    ]
    out += [Case(f"invalid-{p.stem}", p) for p in sorted((EXAMPLES / "invalid").glob("*.yaml"))]
    return out


def composition_input() -> Obj | None:
    step = _docs(COMPOSITION)[0]["spec"]["pipeline"][0]
    value: Obj | None = step.get("input")
    return value


def _required() -> list[Obj]:
    return [d for p in sorted((EXAMPLES / "required").glob("*.yaml")) for d in _docs(p)]


def _matches(sel: fnv1.ResourceSelector, obj: Obj) -> bool:
    meta = obj.get("metadata") or {}
    if (obj.get("apiVersion"), obj.get("kind")) != (sel.api_version, sel.kind):
        return False
    if sel.namespace and meta.get("namespace") != sel.namespace:
        return False
    if sel.HasField("match_labels"):
        want = dict(sel.match_labels.labels)
        return want.items() <= (meta.get("labels") or {}).items()
    return bool(meta.get("name") == sel.match_name)


def request(case: Case) -> fnv1.RunFunctionRequest:
    """The first request for `case`: XR, Composition input and observed resources."""
    req = fnv1.RunFunctionRequest()
    xr = next(d for d in _docs(case.xr) if d.get("kind") == "XMultigres")
    req.observed.composite.resource.update(xr)
    raw_input = composition_input()
    if raw_input is not None:
        req.input.update(raw_input)
    if case.observed is not None:
        for d in _docs(case.observed):
            req.observed.resources[d["metadata"]["annotations"][RESOURCE_NAME]].resource.update(d)
    return req


def respond(case: Case) -> fnv1.RunFunctionResponse:
    """Run `case` as Crossplane does: a call, then one more with the required resources
    the first response asked for (when it asked for any)."""
    from function.fn import run

    req = request(case)
    rsp = run(req)
    if not rsp.requirements.resources:
        return rsp
    available = _required()
    for key, sel in rsp.requirements.resources.items():
        items = req.required_resources[key].items
        for obj in available:
            if _matches(sel, obj):
                items.add().resource.update(obj)
    return run(req)


def text(rsp: fnv1.RunFunctionResponse) -> str:
    """A response as stable JSON (sorted keys, one field per line)."""
    return json.dumps(json_format.MessageToDict(rsp), indent=1, sort_keys=True) + "\n"


def path(case: Case) -> Path:
    return GOLDEN / f"{case.name}.json"


def diff(want: str, got: str, name: str, lines: int = 80) -> str:
    d = difflib.unified_diff(
        want.splitlines(), got.splitlines(), f"golden/{name}", "now", lineterm="", n=2
    )
    out = list(d)
    more = f"\n... {len(out) - lines} more diff lines" if len(out) > lines else ""
    return "\n".join(out[:lines]) + more


def stale() -> list[str]:
    """Golden files that differ from what the function answers now, missing or extra."""
    want = {path(c): c for c in cases()}
    out = [p.name for p in sorted(GOLDEN.glob("*.json")) if p not in want]
    for p, c in want.items():
        if not p.exists() or p.read_text() != text(respond(c)):
            out.append(p.name)
    return sorted(out)


def write() -> list[str]:
    """Rewrite every golden file and delete those no case produces; return what changed."""
    GOLDEN.mkdir(parents=True, exist_ok=True)
    want = {path(c): c for c in cases()}
    changed = []
    for p in sorted(GOLDEN.glob("*.json")):
        if p not in want:
            p.unlink()
            changed.append(f"deleted {p.name}")
    for p, c in sorted(want.items()):
        new = text(respond(c))
        if not p.exists() or p.read_text() != new:
            p.write_text(new)
            changed.append(f"wrote {p.name}")
    return changed


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--check", action="store_true", help="only report stale files")
    args = ap.parse_args()
    if args.check:
        bad = stale()
        for name in bad:
            print(f"stale: tests/golden/{name}")
        return 1 if bad else 0
    for line in write() or ["golden files are current"]:
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
