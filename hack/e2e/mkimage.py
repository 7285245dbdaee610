#!/usr/bin/env python3
"""Pack directory trees into a container image without a Docker engine.

The output is a docker-archive tarball (what `docker save` writes), the format
`ctr -n k8s.io images import` reads, under exactly the name the rendered manifests use,
so Pods with `imagePullPolicy: IfNotPresent` run it unmodified.

Reproducible by construction: entries sorted, every mtime clamped to one fixed epoch,
owners and modes as on disk, no timestamps in the config. The same trees give the same
layer digests and the same image id, which `--print-id` prints (a test compares two
builds).

A layer is a directory (packed here) or an already packed `.tar` (reused as is, so a big
base layer shared by two images is packed once and imported once).

    mkimage.py --tag NAME:TAG --out image.tar --layer rootfs.tar --layer bindir:/multigres/bin \
        --user 65532:65532 --env PATH=/usr/bin --workdir /multigres --entrypoint '["/bin/tail"]'
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import sys
import tarfile
from pathlib import Path

#: Every mtime in a layer (2000-01-01T00:00:00Z): fixed, so digests do not depend on
#: when a file was built or unpacked.
EPOCH = 946684800
#: Directories whose contents a runtime mounts over; packed empty.
EMPTY_DIRS = ("dev", "proc", "sys")
CHUNK = 1 << 20


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


def _entries(root: Path, prefix: str) -> list[tuple[Path, str]]:
    """(path on disk, name in the layer), parents before children, sorted by name."""
    out: list[tuple[Path, str]] = []
    parts = [p for p in prefix.strip("/").split("/") if p]
    for i in range(len(parts)):  # the destination's parent directories
        out.append((Path("/"), "/".join(parts[: i + 1])))
    base = "/".join(parts)
    for dirpath, dirnames, filenames in os.walk(root):
        rel = os.path.relpath(dirpath, root)
        rel = "" if rel == "." else rel
        if rel.split("/")[0] in EMPTY_DIRS and rel and not base:
            dirnames[:] = []
            filenames = []
        dirnames.sort()
        for name in sorted(dirnames + filenames):
            arc = "/".join(x for x in (base, rel, name) if x)
            out.append((Path(dirpath) / name, arc))
    return sorted(out, key=lambda e: e[1])


def pack_layer(root: Path, prefix: str, dest: Path) -> None:
    """Write `root`'s tree as a tar layer at `dest`, under `prefix` inside the image."""
    tmp = dest.with_suffix(".tmp")
    with tarfile.open(tmp, "w", format=tarfile.PAX_FORMAT) as tar:
        for path, arc in _entries(root, prefix):
            if str(path) == "/":  # a synthesized parent directory
                ti = tarfile.TarInfo(arc)
                ti.type, ti.mode, ti.mtime = tarfile.DIRTYPE, 0o755, EPOCH
                tar.addfile(ti)
                continue
            # gettarinfo turns a second name of a hard-linked file into a link entry.
            ti = tar.gettarinfo(str(path), arcname=arc)
            ti.mtime = EPOCH
            ti.uname = ti.gname = ""
            if ti.isreg():
                with path.open("rb") as f:
                    tar.addfile(ti, f)
            else:
                tar.addfile(ti)
    tmp.replace(dest)


def build(args: argparse.Namespace) -> str:
    """Write the docker-archive; return the image id (sha256 of the config)."""
    work = Path(args.out).with_suffix(".layers")
    work.mkdir(parents=True, exist_ok=True)
    layers: list[tuple[Path, str]] = []
    for i, spec in enumerate(args.layer):
        src, _, prefix = spec.partition(":")
        p = Path(src)
        if p.is_file():
            tar_path = p
        else:
            tar_path = work / f"{i}.tar"
            pack_layer(p, prefix or "/", tar_path)
        layers.append((tar_path, _sha256_file(tar_path)))

    config = {
        "architecture": "amd64",
        "os": "linux",
        "config": {
            "User": args.user or "",
            "Env": args.env,
            "WorkingDir": args.workdir or "",
            "Entrypoint": args.entrypoint or None,
            "Cmd": args.cmd or None,
            "Labels": dict(kv.split("=", 1) for kv in args.label),
        },
        "rootfs": {"type": "layers", "diff_ids": [f"sha256:{d}" for _, d in layers]},
        "history": [{"created_by": "hack/e2e/mkimage.py"} for _ in layers],
    }
    config_bytes = json.dumps(config, sort_keys=True, separators=(",", ":")).encode()
    image_id = hashlib.sha256(config_bytes).hexdigest()
    manifest = [
        {
            "Config": f"{image_id}.json",
            "RepoTags": [args.tag],
            "Layers": [f"{d}/layer.tar" for _, d in layers],
        }
    ]

    tmp = Path(args.out + ".tmp")
    with tarfile.open(tmp, "w", format=tarfile.PAX_FORMAT) as tar:

        def add_bytes(name: str, data: bytes) -> None:
            ti = tarfile.TarInfo(name)
            ti.size, ti.mtime, ti.mode = len(data), EPOCH, 0o644
            tar.addfile(ti, io.BytesIO(data))

        add_bytes(f"{image_id}.json", config_bytes)
        for tar_path, digest in layers:
            ti = tarfile.TarInfo(f"{digest}/layer.tar")
            ti.size, ti.mtime, ti.mode = tar_path.stat().st_size, EPOCH, 0o644
            with tar_path.open("rb") as f:
                tar.addfile(ti, f)
        add_bytes("manifest.json", json.dumps(manifest, separators=(",", ":")).encode())
    tmp.replace(args.out)
    for tar_path, _ in layers:
        if tar_path.parent == work:
            tar_path.unlink()
    work.rmdir()
    return image_id


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--tag", help="image name exactly as the manifests use it")
    ap.add_argument("--out", help="docker-archive tarball to write")
    ap.add_argument("--layer", action="append", default=[], help="DIR[:PREFIX] or a .tar")
    ap.add_argument("--user")
    ap.add_argument("--env", action="append", default=[])
    ap.add_argument("--label", action="append", default=[])
    ap.add_argument("--workdir")
    ap.add_argument("--entrypoint", type=json.loads, help='a JSON array: \'["tail", "-f"]\'')
    ap.add_argument("--cmd", type=json.loads, help="a JSON array")
    ap.add_argument("--pack-layer", nargs=2, metavar=("DIR", "TAR"), help="only pack one layer")
    args = ap.parse_args(argv)
    if args.pack_layer:
        pack_layer(Path(args.pack_layer[0]), "/", Path(args.pack_layer[1]))
        print(_sha256_file(Path(args.pack_layer[1])))
        return 0
    if not (args.tag and args.out and args.layer):
        ap.error("--tag, --out and at least one --layer are required")
    print(build(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
