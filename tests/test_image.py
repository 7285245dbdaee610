"""The runtime image: its pins, the Dockerfile kept in step with `make image`, and the image
`make image` built, read back and run.

`make image` (hack/image/build.sh, no Docker) and the Dockerfile run the same scripts
(hack/image/setup.sh, wheel.sh, venv.sh) with the same pins (hack/image/versions.env,
requirements/*.txt). The unit tests here check the Dockerfile still does and sets the same
USER, ENV, LABEL and ENTRYPOINT; the `packages` tests read the built image and run the
function from it (chroot, as its non-root user) under the real `crossplane render`.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import json
import os
import re
import shlex
import shutil
import subprocess
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from hack.render import free_port, functions_file, render_cmd, wait_for_port
from tests.helpers import CROSSPLANE, EXAMPLES, ROOT
from tests.oci import RUNTIME_IMAGE, ImageTarball

IMAGE_DIR = ROOT / "hack" / "image"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
LOCK_LINE = re.compile(r"^([A-Za-z0-9_.-]+)==(\S+)")


def versions_env() -> dict[str, str]:
    out = {}
    for line in (IMAGE_DIR / "versions.env").read_text().splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            out[key] = shlex.split(value)[0] if value else ""
    return out


def lock(name: str) -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in (ROOT / "requirements" / name).read_text().splitlines():
        if m := LOCK_LINE.match(line):
            pins[canonicalize_name(m.group(1))] = m.group(2)
    return pins


def dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined."""
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            instr, _, args = line.partition(" ")
            out.append((instr.upper(), " ".join(args.split())))
    return out


def _pairs(instruction: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for instr, args in dockerfile():
        if instr == instruction:
            for kv in shlex.split(args):
                key, _, value = kv.partition("=")
                out[key] = value
    return out


def docker_env() -> dict[str, str]:
    return _pairs("ENV")


def docker_labels() -> dict[str, str]:
    return _pairs("LABEL")


# --- The pins --------------------------------------------------------------------------


def test_lock_pins_every_dependency_within_its_range() -> None:
    pins = lock("runtime.txt")
    for spec in PYPROJECT["project"]["dependencies"]:
        req = Requirement(spec)
        name = canonicalize_name(req.name)
        assert name in pins, f"{req.name} is not in requirements/runtime.txt: run `make lock`"
        assert req.specifier.contains(pins[name], prereleases=True), (
            f"{req.name}=={pins[name]} does not satisfy pyproject.toml's {spec}: run `make lock`"
        )


def test_lock_has_a_hash_for_every_pin() -> None:
    for name in ("runtime.txt", "build.txt"):
        text = (ROOT / "requirements" / name).read_text().replace("\\\n", " ")
        entries = [line for line in text.splitlines() if line and not line.startswith("#")]
        assert entries
        for entry in entries:
            assert LOCK_LINE.match(entry), entry
            assert re.search(r"--hash=sha256:[0-9a-f]{64}", entry), f"{name}: {entry} has no hash"


def test_lock_is_closed_under_requirements() -> None:
    """Every requirement of a locked distribution is locked too (read from the venv's
    metadata where it has the locked version; `pip check` in the image build does the
    rest)."""
    pins = lock("runtime.txt")
    env = {k: str(v) for k, v in default_environment().items()}
    env |= {"python_version": "3.11", "sys_platform": "linux"}
    checked = 0
    for name, version in pins.items():
        try:
            dist = importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            continue
        if dist.version != version:
            continue
        checked += 1
        for spec in dist.requires or []:
            req = Requirement(spec)
            if req.marker and not req.marker.evaluate(env | {"extra": ""}):
                continue
            dep = canonicalize_name(req.name)
            assert dep in pins, f"{name} needs {req.name}, which requirements/runtime.txt lacks"
            assert req.specifier.contains(pins[dep], prereleases=True), f"{name} needs {spec}"
    assert checked >= len(pins) // 2, (
        "the venv's versions differ from the lock: `make venv` installs the locked ones"
    )


def test_build_backend_pin_satisfies_build_system() -> None:
    pins = lock("build.txt")
    for spec in PYPROJECT["build-system"]["requires"]:
        req = Requirement(spec)
        assert req.specifier.contains(pins[canonicalize_name(req.name)])


# --- The Dockerfile, in step with make image ----------------------------------------------


def test_dockerfile_base_is_the_suite_make_image_debootstraps() -> None:
    v = versions_env()
    args = dict(a.split("=", 1) for i, a in dockerfile() if i == "ARG" and "=" in a)
    assert args["BASE_IMAGE"] == f"debian:{v['IMAGE_SUITE']}-slim"


def test_dockerfile_runs_the_same_scripts_with_the_same_pins() -> None:
    runs = " ".join(a for i, a in dockerfile() if i == "RUN")
    copies = " ".join(a for i, a in dockerfile() if i == "COPY")
    assert ". /opt/image/versions.env" in runs
    assert "apt-get install -y --no-install-recommends ${IMAGE_PACKAGES}" in runs
    assert "/opt/image/setup.sh" in runs
    assert "hack/image/wheel.sh /tmp/src /tmp/dist" in runs
    assert "hack/image/venv.sh /tmp/src/requirements/runtime.txt" in runs
    for path in ("hack/image/versions.env", "hack/image/setup.sh", "hack/image/", "requirements/"):
        assert path in copies, path
    # The scripts read their pins from files the build context must not drop.
    ignored = (ROOT / ".dockerignore").read_text().split()
    for path in ("hack", "requirements", "function", "pyproject.toml", "README.md"):
        assert path not in ignored, path


def test_dockerfile_config_is_what_make_image_sets() -> None:
    v = versions_env()
    instr = dict(dockerfile())
    assert instr["USER"] == v["IMAGE_USER"]
    assert json.loads(instr["ENTRYPOINT"]) == [v["IMAGE_ENTRYPOINT"]]
    assert docker_env() == {"PATH": v["IMAGE_PATH"], "LANG": "C.UTF-8"}
    assert docker_labels()["org.opencontainers.image.version"] == PYPROJECT["project"]["version"]
    build = (IMAGE_DIR / "build.sh").read_text()
    for flag in ('--user "${IMAGE_USER}"', '--env "PATH=${IMAGE_PATH}"', "--env LANG=C.UTF-8",
                 '--entrypoint "[\\"${IMAGE_ENTRYPOINT}\\"]"'):  # fmt: skip
        assert flag in build, flag
    for key, value in docker_labels().items():
        assert f"{key}={value}" in build.replace("${VERSION}", PYPROJECT["project"]["version"])


# --- The built image -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def image() -> ImageTarball:
    if not RUNTIME_IMAGE.exists():
        pytest.fail(f"{RUNTIME_IMAGE.relative_to(ROOT)} missing: run `make image`")
    return ImageTarball(RUNTIME_IMAGE)


@pytest.mark.packages
def test_image_config_matches_the_dockerfile(image: ImageTarball) -> None:
    cfg = image.config["config"]
    instr = dict(dockerfile())
    assert cfg["User"] == instr["USER"]
    assert cfg["Entrypoint"] == json.loads(instr["ENTRYPOINT"])
    assert dict(e.split("=", 1) for e in cfg["Env"]) == docker_env()
    assert cfg["Labels"] == docker_labels()
    assert image.config["architecture"] == "amd64"
    assert len(image.diff_ids) == 2  # the Debian base, then /venv/fn


@pytest.mark.packages
def test_image_venv_holds_exactly_the_lock_and_our_wheel(image: ImageTarball) -> None:
    files = image.layer_files(1)
    dists = {}
    for name in files:
        if m := re.fullmatch(
            r"venv/fn/lib/python3\.11/site-packages/([^/]+)-([^-/]+)\.dist-info", name
        ):
            dists[canonicalize_name(m.group(1))] = m.group(2)
    want = lock("runtime.txt") | {"function-multigres": PYPROJECT["project"]["version"]}
    assert dists == want  # and no pip or setuptools: nothing installs at run time
    script = image.layer_file(1, "venv/fn/bin/function").decode()
    assert script.startswith("#!/venv/fn/bin/python")
    assert files["venv/fn/bin/python"].linkname in ("python3", "/usr/bin/python3")
    # .pyc files that do not depend on mtimes (every mtime in the image is clamped).
    pyc = image.layer_file(1, next(n for n in files if n.endswith(".pyc") and "/function/" in n))
    flags = int.from_bytes(pyc[4:8], "little")
    assert flags == 0b01, "unchecked-hash .pyc expected"
    assert {m.mtime for m in files.values()} == {int(versions_env()["SOURCE_DATE_EPOCH"])}


@pytest.mark.packages
def test_image_base_has_debian_python_311(image: ImageTarball) -> None:
    files = image.layer_files(0)
    assert "usr/bin/python3.11" in files
    assert "etc/debian_version" in files
    assert image.layer_file(0, "etc/debian_version").decode().startswith("12.")
    assert not any(n.startswith("var/lib/apt/lists/") and files[n].isreg() for n in files)


@contextlib.contextmanager
def function_from_image(image: ImageTarball, rootfs: Path) -> Iterator[str]:
    """The image's ENTRYPOINT, run as its USER in a read-only chroot of its layers."""
    for name in image.manifest["Layers"]:
        with subprocess.Popen(
            ["tar", "-xOf", str(image.path), name], stdout=subprocess.PIPE
        ) as src:
            subprocess.run(["tar", "-x", "-C", str(rootfs)], stdin=src.stdout, check=True)
    cfg = image.config["config"]
    address = f"127.0.0.1:{free_port()}"
    argv = [*cfg["Entrypoint"], "--insecure", "--address", address, "--metrics-address", ""]
    script = (
        'mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" && '
        'mount -t proc proc "$1/proc" && mount -t tmpfs tmpfs "$1/tmp" && mount --rbind /dev "$1/dev" && '
        'shift && exec chroot --userspec="$USERSPEC" "$ROOTFS" env -i "$@"'
    )
    env = {"USERSPEC": cfg["User"], "ROOTFS": str(rootfs), "PATH": os.environ["PATH"]}
    log = rootfs.parent / "function.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            ["unshare", "--mount", "--propagation", "private", "--", "/bin/sh", "-c", script,
             "sh", str(rootfs), *cfg["Env"], *argv],
            stdout=out, stderr=subprocess.STDOUT, env=env,
        )  # fmt: skip
    try:
        try:
            wait_for_port("127.0.0.1", int(address.rsplit(":", 1)[1]), proc)
        except RuntimeError:
            raise AssertionError(log.read_text()) from None
        yield address
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.mark.packages
@pytest.mark.skipif(
    os.geteuid() != 0 or not shutil.which("unshare"), reason="needs root and unshare"
)
def test_the_image_runs_the_function_for_crossplane_render(
    image: ImageTarball, tmp_path: Path
) -> None:
    """The function as the image runs it (uid 65532, read-only root) answers real crank."""
    rootfs = tmp_path / "rootfs"
    rootfs.mkdir()
    with function_from_image(image, rootfs) as address:
        fns = functions_file(address, tmp_path)
        cmd = render_cmd(str(CROSSPLANE), str(EXAMPLES / "minimal.yaml"), fns, None,
                         str(EXAMPLES / "required"), True)  # fmt: skip
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    assert r.returncode == 0, r.stderr
    kinds = re.findall(r"^kind: (\w+)$", r.stdout, re.M)
    assert kinds[0] == "XMultigres"
    assert {"StatefulSet", "Deployment", "Service", "Job"} <= set(kinds)
