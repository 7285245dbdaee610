#!/usr/bin/env python3
"""Assemble the e2e tier's images from the cached binaries and rootfs (no Docker).

The Multigres images are named by `function.defaults.upstream.IMAGES`, the table the
function renders, so the manifests run unmodified with `imagePullPolicy: IfNotPresent`.
They follow upstream's Dockerfiles at the pinned commit, with one difference written in
docs/testing-e2e.md: both are made from one Debian trixie rootfs (PostgreSQL 17,
pgBackRest 2.55), because upstream installs pgBackRest from apt.postgresql.org, which
this machine cannot reach; one shared base layer also means one import.

Each tarball is cached under a key of everything it is made of (the rootfs, the
binaries' digests, this file and mkimage.py), and `images/index.json` lists what
`hack/e2e/cluster.py` imports into containerd.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from function.defaults.upstream import IMAGES, PATHS, UIDS  # noqa: E402

HERE = Path(__file__).resolve().parent
MKIMAGE = HERE / "mkimage.py"
PG_BIN = "/usr/lib/postgresql/17/bin"
PATH_ENV = f"/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:{PG_BIN}"

#: Images of the e2e tier's own add-ons (not rendered by the function).
LOCAL = {
    "pause": "e2e.local/pause:1",
    "coredns": "e2e.local/coredns:v1.15.0",
    "local-path-provisioner": "e2e.local/local-path-provisioner:v0.0.30",
    "busybox": "e2e.local/busybox:1",
}
MULTIGRES_BINARIES = ("multigateway", "multiorch", "multipooler", "multigres", "multiadmin")


def log(msg: str) -> None:
    print(f">> {msg}", file=sys.stderr, flush=True)


def digest(*paths: Path, extra: str = "") -> str:
    h = hashlib.sha256(extra.encode())
    for p in paths:
        h.update(p.name.encode())
        with p.open("rb") as f:
            while chunk := f.read(1 << 20):
                h.update(chunk)
    return h.hexdigest()[:16]


def stage(files: dict[str, Path], links: dict[str, str] | None = None) -> Path:
    """A temporary tree with `files` (path in image -> file on disk) and symlinks."""
    tree = Path(tempfile.mkdtemp(prefix="fmg-image-"))
    for dest, src in files.items():
        target = tree / dest.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, target)
        target.chmod(0o755)
    for dest, to in (links or {}).items():
        target = tree / dest.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.symlink_to(to)
    (tree / "tmp").mkdir(mode=0o1777, exist_ok=True)
    (tree / "tmp").chmod(0o1777)
    return tree


class Builder:
    def __init__(self, cache: Path) -> None:
        self.dir = cache / "images"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.tool_key = digest(MKIMAGE, Path(__file__))
        self.index: list[dict[str, str]] = []

    def image(self, tag: str, key: str, layers: list[str], *opts: str) -> None:
        name = tag.replace("/", "_").replace(":", "_")
        out = self.dir / f"{name}-{key}-{self.tool_key}.tar"
        if out.exists():
            log(f"image {tag} cached ({out.name})")
            image_id = (out.with_suffix(".id")).read_text().strip()
        else:
            t0 = time.monotonic()
            for stale in self.dir.glob(f"{name}-*.tar"):
                stale.unlink()
            cmd = [sys.executable, str(MKIMAGE), "--tag", tag, "--out", str(out)]
            for layer in layers:
                cmd += ["--layer", layer]
            image_id = subprocess.run(
                [*cmd, *opts], check=True, capture_output=True, text=True
            ).stdout.strip()
            out.with_suffix(".id").write_text(image_id + "\n")
            log(f"image {tag} built in {time.monotonic() - t0:.0f}s (id {image_id[:12]})")
        self.index.append({"name": tag, "tar": str(out), "id": image_id})


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--cache", type=Path, required=True)
    ap.add_argument("--rootfs", type=Path, required=True)
    ap.add_argument("--multigres-bin", type=Path, required=True)
    ap.add_argument("--tools", type=Path, required=True)
    a = ap.parse_args()
    b = Builder(a.cache)

    # The rootfs as one layer, packed once and shared by both Multigres images.
    layers = a.cache / "layers"
    layers.mkdir(exist_ok=True)
    base = layers / f"{a.rootfs.name}-{b.tool_key}.tar"
    if not base.exists():
        t0 = time.monotonic()
        for stale in layers.glob("*.tar"):
            stale.unlink()
        subprocess.run(
            [sys.executable, str(MKIMAGE), "--pack-layer", str(a.rootfs), str(base)], check=True
        )
        log(
            f"rootfs layer packed in {time.monotonic() - t0:.0f}s ({base.stat().st_size >> 20} MiB)"
        )

    mg = [a.multigres_bin / n for n in MULTIGRES_BINARIES]
    tree = stage({f"{PATHS['multigres_bin']}/{p.name}": p for p in mg})
    b.image(
        IMAGES["multigres"],
        digest(*mg, extra=base.name),
        [str(base), str(tree)],
        "--user",
        f"{UIDS['multigres']}:{UIDS['multigres']}",
        "--env",
        f"PATH={PATHS['multigres_bin']}:{PATH_ENV}",
        "--workdir",
        "/multigres",
    )
    shutil.rmtree(tree)

    pgctld = a.multigres_bin / "pgctld"
    tree = stage({PATHS["pgctld_bin"]: pgctld})
    b.image(
        IMAGES["pgctld"],
        digest(pgctld, extra=base.name),
        [str(base), str(tree)],
        "--user",
        "postgres",
        "--env",
        f"PATH={PATH_ENV}",
        "--env",
        "PGDATA=/var/lib/postgresql/data",
        "--env",
        "LANG=en_US.utf8",
        "--entrypoint",
        '["tail"]',
        "--cmd",
        '["-f", "/dev/null"]',
    )
    shutil.rmtree(tree)

    for tag, binary, dest, entry in (
        (IMAGES["etcd"], a.tools / "etcd" / "etcd", "/usr/local/bin/etcd", "/usr/local/bin/etcd"),
        (LOCAL["pause"], a.tools / "pause" / "pause", "/pause", "/pause"),
        (LOCAL["coredns"], a.tools / "coredns" / "coredns", "/coredns", "/coredns"),
        (
            LOCAL["local-path-provisioner"],
            a.tools / "local-path-provisioner" / "local-path-provisioner",
            "/usr/bin/local-path-provisioner",
            "local-path-provisioner",
        ),
    ):
        tree = stage({dest: binary})
        b.image(
            tag,
            digest(binary),
            [str(tree)],
            "--entrypoint",
            json.dumps([entry]),
            "--env",
            f"PATH={PATH_ENV}",
        )
        shutil.rmtree(tree)

    busybox = Path("/bin/busybox")
    applets = subprocess.run(
        [str(busybox), "--list"], check=True, capture_output=True, text=True
    ).stdout.split()
    tree = stage(
        {"/bin/busybox": busybox}, {f"/bin/{x}": "busybox" for x in applets if x != "busybox"}
    )
    b.image(LOCAL["busybox"], digest(busybox), [str(tree)], "--env", "PATH=/bin", "--cmd", '["sh"]')
    shutil.rmtree(tree)

    index = b.dir / "index.json"
    index.write_text(json.dumps(b.index, indent=2) + "\n")
    log(f"{len(b.index)} images listed in {index}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
