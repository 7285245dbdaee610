"""The containers' long-running shell scripts end on SIGTERM while they are PID 1.

In a container the script is PID 1 of its PID namespace, and the kernel drops a signal
to PID 1 that it has no handler for: without a trap the kubelet waits out the pod's
whole grace period (60 s for poolers) before SIGKILL, on every delete and every roll.
The e2e tier saw exactly that (a pooler roll at 75 s a pod). Here each script runs as
PID 1 of a new PID namespace (`unshare`, root), in its waiting loop, and gets SIGTERM.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).resolve().parent.parent / "function" / "builders" / "scripts"

#: script -> environment that keeps it in its loop (nothing to reload, etcd refusing).
LOOPING = {
    "postgres-config-reload.sh": {
        "EXTRA_CONF": "/nonexistent/postgresql.conf",
        "INTERVAL": "5",
        "SOCKET_DIR": "/nonexistent",
        "PGPORT": "5432",
        "POSTGRES_USER": "postgres",
        "POSTGRES_PASSWORD_FILE": "/nonexistent",
    },
    "backup-stanza-guard.sh": {
        "REPO": "/nonexistent",
        "STANZA": "multigres",
        "PGDATA": "/nonexistent",
        "GRACE": "120",
        "INTERVAL": "5",
    },
}
# wait-for-etcd.sh has no trap yet, on purpose: its text is part of the topology Job's
# pod template, which is immutable, and Crossplane keeps an existing composed object's
# name, so a changed template would be refused on every upgraded XR (docs/operations.md,
# "The topology Job's template"). It waits seconds, as an init container only.

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("unshare") is None, reason="needs root and unshare"
)


def _child(pid: int, timeout: float = 5.0) -> int:
    """The pid (on the host) of the process `unshare --fork` started: PID 1 inside."""
    end = time.monotonic() + timeout
    path = Path(f"/proc/{pid}/task/{pid}/children")
    while time.monotonic() < end:
        kids = path.read_text().split() if path.exists() else []
        if kids:
            return int(kids[0])
        time.sleep(0.05)
    raise AssertionError(f"unshare {pid} started no child within {timeout}s")


@pytest.mark.parametrize("script", sorted(LOOPING))
def test_script_as_pid_1_ends_on_sigterm(script: str, tmp_path: Path) -> None:
    env = {"PATH": os.environ["PATH"], "ALIVE": str(tmp_path / "alive"), **LOOPING[script]}
    proc = subprocess.Popen(
        ["unshare", "--pid", "--fork", "--kill-child", "bash", str(SCRIPTS / script)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        pid1 = _child(proc.pid)
        time.sleep(1.0)  # into the loop: sleeping between turns
        assert proc.poll() is None, f"{script} ended by itself ({proc.returncode})"
        t0 = time.monotonic()
        os.kill(pid1, signal.SIGTERM)
        try:
            proc.wait(timeout=3)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"{script} as PID 1 ignored SIGTERM for 3 s") from None
        assert time.monotonic() - t0 < 3
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
