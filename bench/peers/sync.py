"""Write each peer's composition.yaml from the source file it embeds.

- go-templating/composition.yaml embeds go-templating/template.gotmpl;
- pythonic/composition.yaml embeds pythonic/composite.py (a BaseComposite subclass), with
  its ASSETS line replaced by the files a platform team ships beside the Composition: the
  init containers' shell scripts (function/builders/scripts/) and the pg_hba template
  (function/defaults/pg_hba.py), so the copies cannot drift from ours.

The sources are edited as files of their own; the Compositions embed them inline, as a
platform team would ship them. tests/test_bench.py fails when they drift apart.
Run: python bench/peers/sync.py   (--check: exit 1 if a Composition is stale)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

PEERS = Path(__file__).resolve().parent
ROOT = PEERS.parent.parent
SCRIPTS = ROOT / "function" / "builders" / "scripts"
#: The line of composite.py that render() replaces with the assets.
ASSETS_LINE = "ASSETS = {}  # inlined by bench/peers/sync.py"

HEAD = """\
# The peer for bench/: XMultigres composed by {function} instead of
# function-multigres. Generated from {source} by bench/peers/sync.py;
# edit that file, then run the script. The benchmark sends this step's input to the peer.
apiVersion: apiextensions.crossplane.io/v1
kind: Composition
metadata:
  name: xmultigres-{peer}
spec:
  compositeTypeRef:
    apiVersion: multigres.com/v1alpha1
    kind: XMultigres
  mode: Pipeline
  pipeline:
    - step: render
      functionRef:
        name: {function}
      input:
"""

#: peer -> (function name, source file, input fields before the embedded block, block key)
SOURCES = {
    "go-templating": (
        "function-go-templating",
        "template.gotmpl",
        "apiVersion: gotemplating.fn.crossplane.io/v1beta1\nkind: GoTemplate\nsource: Inline\n"
        "inline:\n",
        "  template: |\n",
    ),
    "pythonic": (
        "function-pythonic",
        "composite.py",
        "apiVersion: pythonic.fn.crossplane.io/v1alpha1\nkind: Composite\n",
        "composite: |\n",
    ),
}


def render(peer: str) -> str:
    function, source, fields, block = SOURCES[peer]
    indent = "        "
    head = HEAD.format(function=function, source=f"{peer}/{source}", peer=peer)
    head += "".join(indent + line + "\n" for line in fields.splitlines())
    head += indent + block
    body_indent = indent + " " * (len(block) - len(block.lstrip()) + 2)
    body = (PEERS / peer / source).read_text()
    if peer == "pythonic":
        if ASSETS_LINE not in body.splitlines():
            raise SystemExit(f"{peer}/{source}: no line {ASSETS_LINE!r}")
        body = body.replace(ASSETS_LINE, f"ASSETS = {json.dumps(assets(), indent=4)}")
    lines = [(body_indent + line) if line.strip() else "" for line in body.splitlines()]
    return head + "\n".join(lines) + "\n"


def assets() -> dict[str, str]:
    """The shell scripts, the pg_hba template and the postmaster parameters, by name."""
    sys.path.insert(0, str(ROOT))
    from function.defaults import pg_hba

    out = {p.name: p.read_text() for p in sorted(SCRIPTS.glob("*.sh"))}
    out["pg_hba_template.conf"] = pg_hba.template()
    # Which parameters need a restart (context postmaster), from the pinned server's table.
    from function.pgparams import table

    out["postmaster-parameters"] = "\n".join(n for n, p in table().items() if p.needs_restart)
    return out


def composition(peer: str) -> Path:
    return PEERS / peer / "composition.yaml"


def main() -> int:
    stale = []
    for peer in SOURCES:
        text = render(peer)
        path = composition(peer)
        if "--check" in sys.argv:
            if not path.exists() or path.read_text() != text:
                stale.append(path)
            continue
        path.write_text(text)
        print(f"wrote {path}")
    for path in stale:
        print(f"{path} is stale: run python bench/peers/sync.py", file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
