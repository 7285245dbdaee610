"""`make render`: start the function on loopback, run `crossplane render`, stop the function.

Prints the desired objects (and the XR with its status, and the function's results)
as YAML. Exits with crossplane's exit code.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FUNCTIONS = ROOT / "examples" / "functions.yaml"
COMPOSITION = ROOT / "apis" / "composition.yaml"
TARGET_ANNOTATION = "render.crossplane.io/runtime-development-target"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(host: str, port: int, proc: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"function exited early with code {proc.returncode}")
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
            return
        time.sleep(0.1)
    raise RuntimeError(f"function did not listen on {host}:{port} within {timeout}s")


@contextlib.contextmanager
def running_function(address: str, *extra: str) -> Iterator[None]:
    """Run `function --insecure` on `address` for the duration of the block.

    Its log goes to a temporary file (a pipe nobody reads could fill and stall it) and is
    printed to stderr if the function fails to start.
    """
    host, port = address.rsplit(":", 1)
    exe = Path(sys.executable).parent / "function"
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(
            [str(exe), "--insecure", "--address", address, "--metrics-address", "", *extra],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            try:
                wait_for_port(host, int(port), proc)
            except RuntimeError:
                log.seek(0)
                sys.stderr.write(log.read().decode(errors="replace"))
                raise
            yield
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def functions_file(address: str, tmp: Path) -> Path:
    """examples/functions.yaml with the development target pointed at `address`."""
    text = FUNCTIONS.read_text()
    lines = [
        f"    {TARGET_ANNOTATION}: {address}" if TARGET_ANNOTATION in line else line
        for line in text.splitlines()
    ]
    out = tmp / "functions.yaml"
    out.write_text("\n".join(lines) + "\n")
    return out


def render_cmd(
    crossplane: str,
    example: str,
    functions: Path,
    observed: str | None,
    required: str | None,
    xrd: bool,
) -> list[str]:
    cmd = [crossplane, "render", example, str(COMPOSITION), str(functions)]
    cmd += ["--include-full-xr", "--include-function-results"]
    if xrd:
        cmd += ["--xrd", str(ROOT / "apis" / "definition.yaml")]
    if observed:
        cmd += ["--observed-resources", observed]
    if required:
        cmd += ["--required-resources", required]
    return cmd


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--crossplane", default=str(ROOT / "bin" / "crossplane"))
    ap.add_argument("--example", default=str(ROOT / "examples" / "minimal.yaml"))
    ap.add_argument("--observed", help="file or directory of observed composed resources")
    ap.add_argument(
        "--required",
        default=str(ROOT / "examples" / "required"),
        help="file or directory of required resources (the password Secret)",
    )
    ap.add_argument("--address", default="", help="host:port for the function (default: free port)")
    ap.add_argument("--no-xrd", action="store_true", help="do not apply XRD defaults")
    args = ap.parse_args()
    address = args.address or f"127.0.0.1:{free_port()}"
    if args.address:
        host, port = address.rsplit(":", 1)
        with socket.socket() as s:
            if s.connect_ex((host, int(port))) == 0:
                address = f"127.0.0.1:{free_port()}"
    print(
        f">> rendering {os.path.relpath(args.example)} with function on {address}", file=sys.stderr
    )
    with tempfile.TemporaryDirectory() as tmp, running_function(address):
        fns = functions_file(address, Path(tmp))
        required = args.required if args.required and os.path.exists(args.required) else None
        cmd = render_cmd(
            args.crossplane, args.example, fns, args.observed, required, not args.no_xrd
        )
        return subprocess.run(cmd, check=False).returncode


if __name__ == "__main__":
    sys.exit(main())
