"""Start the functions as real processes on loopback and read their /proc counters."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
PEER_BIN = ROOT / "bin" / "function-go-templating"
PYTHONIC_VERSION = "0.6.3"
#: The cache outside the clone the install scripts share (hack/lib/gobuild.sh fmg_cache).
CACHE = Path(
    os.environ.get("FMG_CACHE")
    or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "function-multigres"
)
#: Where hack/install-pythonic.sh puts function-pythonic.
PYTHONIC_DIR = CACHE / f"pythonic-{PYTHONIC_VERSION}"
PYTHONIC_BIN = PYTHONIC_DIR / "bin" / "function-pythonic"
CLK_TCK = os.sysconf("SC_CLK_TCK")

#: ours, the floor, the peers; floor_rsp is the floor answering with a stored response as
#: large as ours. "pythonic" (function-pythonic from PyPI) is the peer CI always has;
#: "go-templating" runs only where bin/function-go-templating could be built.
FUNCTIONS = ("ours", "floor", "floor_rsp", "pythonic", "go-templating")
PEERS = ("pythonic", "go-templating")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def command(name: str, address: str, response: Path | None = None) -> list[str]:
    """The command line that serves function `name` at `address` without TLS."""
    if name == "ours":
        exe = VENV_BIN / "function"
        return [str(exe), "--insecure", "--address", address, "--metrics-address", ""]
    if name in ("floor", "floor_rsp"):
        cmd = [sys.executable, str(ROOT / "bench" / "floor.py"), "--insecure", "--address", address]
        if name == "floor_rsp":
            if response is None:
                raise ValueError("floor_rsp needs a response file")
            cmd += ["--response", str(response)]
        return cmd
    if name == "go-templating":
        return [str(PEER_BIN), "--insecure", "--address", address]
    if name == "pythonic":
        return [str(PYTHONIC_BIN), "grpc", "--insecure", "--address", address]
    raise ValueError(name)


def peer_missing_reason(name: str = "go-templating") -> str | None:
    """Why a peer can't run here, or None when it can."""
    if name == "pythonic":
        if not PYTHONIC_BIN.exists():
            return f"{PYTHONIC_BIN} not installed (run hack/install-pythonic.sh {PYTHONIC_VERSION})"
        return None
    if not PEER_BIN.exists():
        return f"{PEER_BIN.relative_to(ROOT)} not built (run hack/install-peer.sh)"
    return None


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads), from /proc/<pid>/stat."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def memory_kib(pid: int) -> dict[str, int]:
    """VmHWM (peak RSS) and VmRSS of a process, in KiB."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmHWM", "VmRSS"):
            out[key] = int(value.split()[0])
    return out


@dataclass
class Server:
    name: str
    address: str
    proc: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.proc.pid


def _wait_ready(server: Server, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    with grpc.insecure_channel(server.address) as ch:
        while True:
            if server.proc.poll() is not None:
                raise RuntimeError(
                    f"{server.name} exited with {server.proc.returncode}; log:\n"
                    + server.log.read_text()[-2000:]
                )
            try:
                grpc.channel_ready_future(ch).result(timeout=0.2)
                return
            except grpc.FutureTimeoutError:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{server.name} not serving at {server.address}") from None


def _start(name: str, logdir: Path, response: Path | None) -> Server:
    address = f"127.0.0.1:{free_port()}"
    log = logdir / f"{name}-{address.rsplit(':', 1)[1]}.log"
    env = {**os.environ, "PYTHONUNBUFFERED": "0"}
    env.pop("OTEL_EXPORTER_OTLP_ENDPOINT", None)
    env.pop("OTEL_TRACES_EXPORTER", None)
    with log.open("wb") as out:
        proc = subprocess.Popen(
            command(name, address, response),
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=ROOT,
        )
    return Server(name, address, proc, log)


def _stop(server: Server) -> None:
    proc = server.proc
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


#: Servers started once by `kept` and shared by every serve_many inside it (the peers).
KEPT: dict[str, Server] = {}


@contextlib.contextmanager
def kept(names: list[str], logdir: Path, timeout: float = 60.0) -> Iterator[None]:
    """Run `names` once for the whole block: serve_many hands them out instead of
    starting them again. For the peers, which cache nothing, so a call costs the same
    on a fresh process: function-pythonic takes 5.5 s to start on this machine kind, and
    bench-quick used to start it five times. Their peak RSS is then over the run so far."""
    with serve_many(names, logdir, timeout) as started:
        KEPT.update(started)
        try:
            yield
        finally:
            for name in started:
                KEPT.pop(name, None)


@contextlib.contextmanager
def serve_many(
    names: list[str], logdir: Path, timeout: float = 60.0, response: Path | None = None
) -> Iterator[dict[str, Server]]:
    """Run several functions at once (started together, so their start-up overlaps);
    those `kept` runs already are handed out as they are, and not stopped here."""
    started: dict[str, Server] = {}
    try:
        for name in names:
            if name not in KEPT:
                started[name] = _start(name, logdir, response)
        for server in started.values():
            _wait_ready(server, timeout)
        yield {name: KEPT.get(name) or started[name] for name in names}
    finally:
        for server in started.values():
            _stop(server)


@contextlib.contextmanager
def serve(
    name: str, logdir: Path, timeout: float = 60.0, response: Path | None = None
) -> Iterator[Server]:
    """Run function `name` for the duration of the block; it is stopped (SIGTERM) after."""
    with serve_many([name], logdir, timeout, response) as started:
        yield started[name]
