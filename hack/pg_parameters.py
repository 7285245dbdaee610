"""Generate function/defaults/pg_parameters.json from the pinned PostgreSQL binary.

The table every `spec.postgres.parameters` entry is checked against (name, context,
type, unit, bounds, enum values) must be the one the Postgres we run has, not one typed
from memory or from another minor version. So it is read from the binary itself: the
pgctld image of the e2e tier is made of one Debian rootfs (hack/e2e/rootfs.sh, cached
in ~/.cache/function-multigres/rootfs/), and this script starts that rootfs's
`postgres` once, in a private mount namespace with tmpfs over its /tmp and /dev/shm (so
the cached rootfs is left exactly as it was), on a Unix socket only, and reads
`pg_settings`. `postgres --describe-config` gives the list of parameters a
postgresql.conf may set; `pg_settings` adds what describe-config lacks (units and enum
values). Needs root (chroot, unshare).

    python -m hack.pg_parameters            # write the table (make generate runs this)
    python -m hack.pg_parameters --check    # exit 1 if the checked-in table differs
    python -m hack.pg_parameters --print    # the table on stdout (the drift test)

Without root or without a cached rootfs it says so and leaves the checked-in table.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TABLE = ROOT / "function" / "defaults" / "pg_parameters.json"
CACHE = Path(os.environ.get("FMG_CACHE", Path.home() / ".cache" / "function-multigres"))
PG_BIN = "/usr/lib/postgresql/17/bin"

_SQL = (
    "COPY (SELECT name, context, vartype, coalesce(unit, ''), coalesce(min_val, ''), "
    "coalesce(max_val, ''), coalesce(array_to_string(enumvals, '|'), ''), "
    "coalesce(boot_val, ''), category, short_desc FROM pg_settings ORDER BY name) "
    "TO STDOUT WITH (FORMAT csv)"
)

# One shell in the chroot, as uid 999 (postgres refuses root): initdb, start on a socket
# in the tmpfs, read, stop. Nothing listens on TCP (listen_addresses='').
_IN_CHROOT = f"""
set -e
{PG_BIN}/postgres --version
echo ---
{PG_BIN}/postgres --describe-config
echo ---
{PG_BIN}/initdb -D /tmp/pgparams -A trust -U postgres >/dev/null
{PG_BIN}/pg_ctl -D /tmp/pgparams -s -w -l /tmp/pgparams.log \
  -o "-c listen_addresses='' -c unix_socket_directories=/tmp" start
{PG_BIN}/psql -XAtq -h /tmp -U postgres -d postgres -c "{_SQL}"
{PG_BIN}/pg_ctl -D /tmp/pgparams -s -m fast -w stop
"""


def find_rootfs() -> Path | None:
    """The cached rootfs the e2e images are made of (the one with PostgreSQL 17)."""
    explicit = os.environ.get("FMG_PG_ROOTFS")
    if explicit:
        return Path(explicit)
    found = sorted((CACHE / "rootfs").glob("*/.complete"), key=lambda p: p.stat().st_mtime)
    for marker in reversed(found):
        rootfs = marker.parent
        if (rootfs / PG_BIN.lstrip("/") / "postgres").exists():
            return rootfs
    return None


def available() -> str:
    """'' when the binary can be run here, else why not."""
    if os.geteuid() != 0:
        return "needs root (chroot into the cached rootfs)"
    if find_rootfs() is None:
        return f"no PostgreSQL rootfs cached under {CACHE}/rootfs (run make e2e-install)"
    return ""


def run_binary(rootfs: Path) -> str:
    script = (
        f"mount -t tmpfs tmpfs {rootfs}/tmp && mount -t tmpfs tmpfs {rootfs}/dev/shm && "
        f"exec chroot --userspec=999:999 {rootfs} /bin/sh -s"
    )
    out = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "--", "/bin/sh", "-c", script],
        input=_IN_CHROOT,
        check=True,
        capture_output=True,
        text=True,
        env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C"},
    )
    return out.stdout


def _number(s: str) -> int | float | None:
    if s == "":
        return None
    f = float(s)
    return int(f) if f.is_integer() and "." not in s and "e" not in s.lower() else f


def table(raw: str) -> dict[str, Any]:
    """The table from the binary's output: version, describe-config, pg_settings CSV."""
    version, describe, settings = raw.split("---\n")
    in_file = {line.split("\t")[0] for line in describe.splitlines() if line}
    params: dict[str, Any] = {}
    for name, context, vartype, unit, lo, hi, enum, boot, category, desc in csv.reader(
        io.StringIO(settings)
    ):
        if name not in in_file:
            continue  # not settable in postgresql.conf (GUC_NOT_IN_SAMPLE / disallowed)
        entry: dict[str, Any] = {"context": context, "type": vartype}
        if unit:
            entry["unit"] = unit
        if vartype in ("integer", "real"):
            entry["min"], entry["max"] = _number(lo), _number(hi)
        if enum:
            entry["enum"] = enum.split("|")
        entry["default"] = boot
        entry["category"] = category
        entry["description"] = desc
        params[name] = entry
    missing = sorted(in_file - params.keys())
    if missing:
        raise SystemExit(f"describe-config names missing from pg_settings: {missing}")
    return {
        "_comment": "Generated by `make generate` (hack/pg_parameters.py) from the pinned "
        "PostgreSQL binary. Do not edit.",
        "postgres": version.strip(),
        "parameters": params,
    }


def render(t: dict[str, Any]) -> str:
    return json.dumps(t, indent=1, sort_keys=True) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true")
    mode.add_argument("--print", action="store_true")
    a = ap.parse_args(argv)
    why = available()
    if why:
        print(f">> pg_parameters: not regenerated, {why}; keeping {TABLE.name}", file=sys.stderr)
        return 2 if (a.check or a.print) else 0
    rootfs = find_rootfs()
    assert rootfs is not None
    text = render(table(run_binary(rootfs)))
    if a.print:
        sys.stdout.write(text)
        return 0
    if a.check:
        same = TABLE.exists() and TABLE.read_text() == text
        if not same:
            print(f"{TABLE} differs from the binary in {rootfs}", file=sys.stderr)
        return 0 if same else 1
    TABLE.write_text(text)
    print(f">> wrote {TABLE.relative_to(ROOT)} from {rootfs.name}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
