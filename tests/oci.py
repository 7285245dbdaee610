"""Read image tarballs back: the runtime image (`make image`) and the packages (`make xpkg`).

Both are docker-archive tarballs (what `docker save` writes): `manifest.json` naming one
config and the layers in order. mkimage.py writes layers uncompressed as
`<diff_id>/layer.tar`; crank (go-containerregistry's tarball.Write) gzips them as
`<digest>.tar.gz`. A Crossplane package marks its own layers with config labels
`io.crossplane.xpkg:<digest>`: `base` for package.yaml, `upbound` for the examples.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import tarfile
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "_out"
RUNTIME_IMAGE = OUT / "runtime-image.tar"
FUNCTION_XPKG = OUT / "function-multigres.xpkg"
CONFIGURATION_XPKG = OUT / "configuration-multigres.xpkg"
XPKG_LABEL = "io.crossplane.xpkg"


def cache_dir() -> Path:
    """hack/lib/gobuild.sh fmg_cache: where the install scripts put what they build."""
    if env := os.environ.get("FMG_CACHE"):
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "function-multigres"


@dataclass
class ImageTarball:
    path: Path
    _members: dict[str, tarfile.TarInfo] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        with tarfile.open(self.path) as tar:
            self._members = {m.name: m for m in tar.getmembers()}

    def _read(self, name: str) -> bytes:
        with tarfile.open(self.path) as tar:
            f = tar.extractfile(self._members[name])
            assert f is not None, name
            return f.read()

    @cached_property
    def manifest(self) -> dict[str, Any]:
        entries = json.loads(self._read("manifest.json"))
        assert len(entries) == 1, f"{self.path}: {len(entries)} images, want 1"
        entry: dict[str, Any] = entries[0]
        return entry

    @cached_property
    def config_bytes(self) -> bytes:
        return self._read(self.manifest["Config"])

    @cached_property
    def config(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.config_bytes)
        return data

    @property
    def image_id(self) -> str:
        return "sha256:" + hashlib.sha256(self.config_bytes).hexdigest()

    @property
    def diff_ids(self) -> list[str]:
        return list(self.config["rootfs"]["diff_ids"])

    def layer(self, index: int) -> bytes:
        """The layer's tar stream, uncompressed."""
        data = self._read(self.manifest["Layers"][index])
        return gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data

    def layer_digest(self, index: int) -> str:
        """The layer's digest as stored (compressed, for a package)."""
        name = self.manifest["Layers"][index]
        stem = name.removesuffix(".tar.gz")
        if len(stem) == 64 and name.endswith(".tar.gz"):
            return f"sha256:{stem}"
        return "sha256:" + hashlib.sha256(self._read(name)).hexdigest()

    def layer_files(self, index: int) -> dict[str, tarfile.TarInfo]:
        with tarfile.open(fileobj=io.BytesIO(self.layer(index))) as tar:
            return {m.name: m for m in tar.getmembers()}

    def layer_file(self, index: int, name: str) -> bytes:
        with tarfile.open(fileobj=io.BytesIO(self.layer(index))) as tar:
            f = tar.extractfile(name)
            assert f is not None, name
            return f.read()


@dataclass
class Package:
    """A Crossplane package (.xpkg): its image, package.yaml and examples."""

    image: ImageTarball

    def _annotated(self, annotation: str) -> int | None:
        labels = self.image.config["config"].get("Labels") or {}
        wanted = {k.removeprefix(f"{XPKG_LABEL}:") for k, v in labels.items() if v == annotation}
        small = range(len(self.image.manifest["Layers"]) - 1, -1, -1)  # package layers are last
        return next((i for i in small if self.image.layer_digest(i) in wanted), None)

    @cached_property
    def docs(self) -> list[dict[str, Any]]:
        index = self._annotated("base")
        assert index is not None, "no layer annotated io.crossplane.xpkg=base"
        return [d for d in yaml.safe_load_all(self.image.layer_file(index, "package.yaml")) if d]

    @property
    def meta(self) -> dict[str, Any]:
        return self.docs[0]

    @property
    def objects(self) -> list[dict[str, Any]]:
        return self.docs[1:]

    @cached_property
    def examples(self) -> list[dict[str, Any]]:
        index = self._annotated("upbound")
        if index is None:
            return []
        raw = self.image.layer_file(index, ".up/examples.yaml")
        return [d for d in yaml.safe_load_all(raw) if d]


def package(path: Path) -> Package:
    return Package(ImageTarball(path))
