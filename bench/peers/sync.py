"""Write go-templating/composition.yaml from go-templating/template.gotmpl.

The template is edited as a file of its own; the Composition embeds it inline, as a
platform team would ship it. tests/test_bench.py fails when the two drift apart.
Run: python bench/peers/sync.py
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent / "go-templating"
TEMPLATE = HERE / "template.gotmpl"
COMPOSITION = HERE / "composition.yaml"

HEAD = """\
# The peer for bench/: XMultigres composed by function-go-templating instead of
# function-multigres. Generated from template.gotmpl by bench/peers/sync.py; edit the
# template, then run that script. The benchmark sends this step's input to the peer.
apiVersion: apiextensions.crossplane.io/v1
kind: Composition
metadata:
  name: xmultigres-go-templating
spec:
  compositeTypeRef:
    apiVersion: multigres.com/v1alpha1
    kind: XMultigres
  mode: Pipeline
  pipeline:
    - step: render
      functionRef:
        name: function-go-templating
      input:
        apiVersion: gotemplating.fn.crossplane.io/v1beta1
        kind: GoTemplate
        source: Inline
        inline:
          template: |
"""


def render() -> str:
    body = TEMPLATE.read_text()
    lines = [("            " + line) if line.strip() else "" for line in body.splitlines()]
    return HEAD + "\n".join(lines) + "\n"


def main() -> int:
    text = render()
    if "--check" in sys.argv:
        if COMPOSITION.read_text() != text:
            print(f"{COMPOSITION} is stale: run python bench/peers/sync.py", file=sys.stderr)
            return 1
        return 0
    COMPOSITION.write_text(text)
    print(f"wrote {COMPOSITION}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
