"""Serve ours with bench/prototypes.py applied: `function` CLI, fn.run swapped first.

BENCH_PROTOTYPES=fast,lean,cache python bench/patched_server.py --insecure --address ...
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import prototypes

DEFAULT_PATCHES = "fast,allow"
DEFAULT_PROTOTYPES = "fast,allow,cache"


def main() -> None:
    import function.fn as fn  # imported first so main.cli's import finds it patched

    if hasattr(fn, "observed_view"):
        names = os.environ.get("BENCH_PATCHES", DEFAULT_PATCHES)
        prototypes.patch_current({n for n in names.split(",") if n})
    else:
        names = os.environ.get("BENCH_PROTOTYPES", DEFAULT_PROTOTYPES)
        prototypes.apply({n for n in names.split(",") if n})
    from function.main import cli

    cli()


if __name__ == "__main__":
    main()
