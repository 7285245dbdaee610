"""The backup-stanza guard moves a first-backup leftover aside, and nothing else.

Each case lays out a pgBackRest repository as pgBackRest names its files, runs one turn of
the shipped script (bash, ONCE=1) and compares the whole tree after it. The leftover it
must move is what the e2e node's livelock left (docs/operations.md, "Bootstrap livelock"):
a stanza whose backup directory holds only backup.info and its copy, untouched for longer
than GRACE, seen from a pooler whose data directory is not initialised.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "function/builders/scripts/backup-stanza-guard.sh"
GRACE = 120
OLD = 1_790_000_000  # a fixed past mtime: the quarantine name is derived from it

STANZA_FILES = ["backup/multigres/backup.info", "backup/multigres/backup.info.copy",
                "archive/multigres/archive.info", "archive/multigres/archive.info.copy"]  # fmt: skip
WAL = "archive/multigres/17-1/0000000100000000/000000010000000000000002-5f1c.gz"
LABEL = "backup/multigres/20261201-182735F/backup.manifest"
HISTORY = "backup/multigres/backup.history/2026/20261201-182735F.manifest.gz"
MOVED = [f"quarantine/multigres-{OLD}/" + f.split("/", 2)[0] + "/" + f.split("/", 2)[2]
         for f in STANZA_FILES]  # fmt: skip

#: case -> (files in the repository, files that are recent, data directory initialised,
#:          the repository's files after one turn)
CASES: dict[str, tuple[list[str], list[str], bool, list[str]]] = {
    "leftover is moved": (STANZA_FILES, [], False, MOVED),
    "leftover with archived WAL is moved whole": (
        [*STANZA_FILES, WAL], [], False,
        [*MOVED, f"quarantine/multigres-{OLD}/archive/17-1/0000000100000000/"
                 "000000010000000000000002-5f1c.gz"],
    ),
    "a generation's leftover is moved": (
        [f"gen-1/{f}" for f in STANZA_FILES], [], False, [f"gen-1/{f}" for f in MOVED],
    ),
    "a complete backup is kept": ([*STANZA_FILES, LABEL], [], False, [*STANZA_FILES, LABEL]),
    "backup history is kept": ([*STANZA_FILES, HISTORY], [], False, [*STANZA_FILES, HISTORY]),
    "a stanza written to within GRACE is kept": (
        [*STANZA_FILES, WAL], [WAL], False, [*STANZA_FILES, WAL],
    ),
    "a just-created stanza is kept": (STANZA_FILES, STANZA_FILES[:1], False, STANZA_FILES),
    "a pooler with a data directory touches nothing": (STANZA_FILES, [], True, STANZA_FILES),
    "an empty repository stays empty": ([], [], False, []),
}  # fmt: skip


def _tree(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


@pytest.mark.parametrize("case", sorted(CASES))
def test_one_turn(case: str, tmp_path: Path) -> None:
    files, recent, initialised, after = CASES[case]
    repo, pgdata = tmp_path / "backups", tmp_path / "pg_data"
    repo.mkdir()
    pgdata.mkdir()
    if initialised:
        (pgdata / "PG_VERSION").write_text("17\n")
    for f in files:
        (repo / f).parent.mkdir(parents=True, exist_ok=True)
        (repo / f).write_text(f)
    for p in [repo, *repo.rglob("*")]:  # directories too: find -newermt sees them
        os.utime(p, (OLD, OLD))
    now = time.time()
    for f in recent:
        os.utime(repo / f, (now, now))
    env = {
        "PATH": os.environ["PATH"], "REPO": str(repo), "STANZA": "multigres",
        "PGDATA": str(pgdata), "GRACE": str(GRACE), "INTERVAL": "1",
        "ALIVE": str(tmp_path / "alive"), "ONCE": "1",
    }  # fmt: skip
    out = subprocess.run(["bash", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert _tree(repo) == sorted(after), out.stdout + out.stderr
    assert ("moving stanza" in out.stdout) == (after != files), out.stdout
    assert (tmp_path / "alive").exists()
