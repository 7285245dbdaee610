"""The e2e images are reproducible: the same trees give the same image id, whatever the
files' timestamps, and a changed byte gives another (hack/e2e/mkimage.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

MKIMAGE = Path(__file__).resolve().parents[1] / "hack" / "e2e" / "mkimage.py"


def build(tree: Path, out: Path) -> str:
    cmd = [
        sys.executable,
        str(MKIMAGE),
        "--tag",
        "e2e.local/t:1",
        "--out",
        str(out),
        "--layer",
        f"{tree}:/opt/app",
        "--user",
        "65532:65532",
        "--entrypoint",
        '["/opt/app/run"]',
    ]
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.strip()


def make_tree(root: Path) -> Path:
    (root / "bin").mkdir(parents=True)
    (root / "bin" / "run").write_text("#!/bin/sh\necho hi\n")
    (root / "bin" / "run").chmod(0o755)
    os.link(root / "bin" / "run", root / "bin" / "run2")
    (root / "lib").symlink_to("bin")
    return root


def test_same_trees_same_id_whatever_the_mtimes(tmp_path: Path) -> None:
    a = make_tree(tmp_path / "a")
    first = build(a, tmp_path / "1.tar")
    os.utime(a / "bin" / "run", (1, 1))
    b = make_tree(tmp_path / "b")  # a copy made later: other inodes, other times
    assert build(a, tmp_path / "2.tar") == first
    assert build(b, tmp_path / "3.tar") == first
    assert (tmp_path / "1.tar").read_bytes() == (tmp_path / "3.tar").read_bytes()


def test_a_changed_byte_changes_the_id(tmp_path: Path) -> None:
    a = make_tree(tmp_path / "a")
    first = build(a, tmp_path / "1.tar")
    (a / "bin" / "run").write_text("#!/bin/sh\necho ho\n")
    assert build(a, tmp_path / "2.tar") != first


def test_archive_is_what_ctr_import_reads(tmp_path: Path) -> None:
    image_id = build(make_tree(tmp_path / "a"), tmp_path / "i.tar")
    with tarfile.open(tmp_path / "i.tar") as t:
        manifest = json.load(t.extractfile("manifest.json"))  # type: ignore[arg-type]
        config = json.load(t.extractfile(f"{image_id}.json"))  # type: ignore[arg-type]
        layer = t.extractfile(manifest[0]["Layers"][0])
        with tarfile.open(fileobj=layer) as lt:
            members = {m.name: m for m in lt.getmembers()}
    assert manifest[0]["RepoTags"] == ["e2e.local/t:1"]
    assert config["config"]["User"] == "65532:65532"
    assert config["config"]["Entrypoint"] == ["/opt/app/run"]
    assert list(members) == sorted(members), "entries are not in a fixed order"
    assert {"opt", "opt/app", "opt/app/bin/run", "opt/app/lib"} <= set(members)
    assert members["opt/app/bin/run2"].islnk() and members["opt/app/lib"].issym()
    assert {m.mtime for m in members.values()} == {946684800}
    assert members["opt/app/bin/run"].mode & 0o777 == 0o755
