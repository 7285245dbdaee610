"""The node's namespaces, mounts, cgroups and processes, and the proof that they are gone.

One holder process owns a new PID, network and mount namespace (`unshare`, mount
propagation slave: mounts flow from the host in, never out). Its PID 1 is our static
`pause`, which reaps orphans (containerd's shims are re-parented to it). Every daemon is
started with `nsenter -t <holder> -p -m -n`, so it, its children and every container
live in that PID namespace: killing PID 1 makes the kernel kill all of them, which is
what teardown relies on, and no process outside it is ever signalled.

Inside the mount namespace the run directory is bound over /run, /var/lib and /var/log
(paths containerd 1.6 and the kubelet hard-code) and fixed values over the sysctls the
kubelet checks, so nothing on the host is created or written.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

from . import layout as L
from .layout import Layout

CGROUP_FS = Path("/sys/fs/cgroup")
#: Host paths a leaked mount of the node would show up under.
OURS = (
    "/run/netns",
    "/run/containerd",
    "/var/lib/kubelet",
    "/var/lib/containerd",
    "/var/lib/cni",
    "/var/log/pods",
)


def _children(pid: int) -> list[int]:
    try:
        return [int(x) for x in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _ns_inode(pid: int | str, kind: str) -> int | None:
    try:
        return os.stat(f"/proc/{pid}/ns/{kind}").st_ino
    except OSError:
        return None


def processes_in(pid_ns: int) -> list[int]:
    """Host PIDs of every process in the PID namespace with inode `pid_ns`."""
    return [int(d) for d in os.listdir("/proc") if d.isdigit() and _ns_inode(d, "pid") == pid_ns]


def cgroup_dirs(root: str) -> list[Path]:
    """Our top-level cgroup in each mounted hierarchy (v1 controllers and unified)."""
    out = []
    for h in sorted(CGROUP_FS.iterdir()):
        if h.is_dir() and not h.is_symlink() and (h / "cgroup.procs").exists():
            out.append(h / root)
    return out


class Node:
    def __init__(self, lay: Layout) -> None:
        self.lay = lay
        self.ns_file = lay.p("namespaces.json")

    # --- the holder ------------------------------------------------------------------
    def holder(self) -> int | None:
        """PID 1 of the node's namespaces, if it is alive and is ours."""
        try:
            rec = json.loads(self.ns_file.read_text())
        except (OSError, ValueError):
            return None
        pid = int(rec["holder"])
        return pid if _ns_inode(pid, "pid") == rec["pid_ns"] else None

    def create(self) -> int:
        self.lay.logs.mkdir(parents=True, exist_ok=True)
        pause = self.lay.tools / "pause" / "pause"
        with (self.lay.logs / "holder.log").open("ab") as log:
            p = subprocess.Popen(
                [
                    "unshare",
                    "--pid",
                    "--fork",
                    "--kill-child",
                    "--mount-proc",
                    "--net",
                    "--mount",
                    "--propagation",
                    "slave",
                    str(pause),
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + 10
        while not (kids := _children(p.pid)):
            if p.poll() is not None or time.monotonic() > deadline:
                text = (self.lay.logs / "holder.log").read_text()
                raise RuntimeError(f"unshare did not start the holder: {text}")
            time.sleep(0.02)
        holder = kids[0]
        while _ns_inode(holder, "pid") == _ns_inode("self", "pid"):  # not yet in the new namespace
            time.sleep(0.01)
        rec = {
            "holder": holder,
            "unshare": p.pid,
            **{f"{k}_ns": _ns_inode(holder, k) for k in ("pid", "net", "mnt")},
        }
        self.ns_file.write_text(json.dumps(rec))
        self.lay.holder_pid_file.write_text(f"{holder}\n")
        return holder

    def enter(self, holder: int, net_only: bool = False) -> list[str]:
        return ["nsenter", "-t", str(holder), "-n"] + ([] if net_only else ["-p", "-m"]) + ["--"]

    def sh(self, holder: int, script: str) -> None:
        r = subprocess.run(
            [*self.enter(holder), "sh", "-euc", script], capture_output=True, text=True
        )
        if r.returncode:
            raise RuntimeError(
                f"node set-up failed ({r.returncode}): {r.stderr}\n--- script ---\n{script}"
            )

    def setup(self, holder: int) -> None:
        """Mounts and the network inside the node's namespaces; cgroups on the host."""
        lines = []
        for target in L.BIND_OVER:
            src = self.lay.p("node", target.strip("/").replace("/", "-"))
            src.mkdir(parents=True, exist_ok=True)
            lines.append(f"mount --bind {src} {target}")
        sysctl = self.lay.p("sysctl")
        sysctl.mkdir(exist_ok=True)
        for key, value in L.KERNEL_DEFAULTS.items():
            f = sysctl / key.replace("/", ".")
            f.write_text(value + "\n")
            lines.append(f"mount --bind -o ro {f} /proc/sys/{key}")
        lines += [
            "ip link set lo up",
            f"ip addr add {L.NODE_IP}/32 dev lo",
            # The bridge the CNI plugin would make, made first so the Service range has a
            # route from the node itself (the plugin adopts an existing bridge).
            f"ip link add {L.BRIDGE} type bridge",
            f"ip addr add {L.BRIDGE_IP}/24 dev {L.BRIDGE}",
            f"ip link set {L.BRIDGE} up",
            f"ip route add {L.SERVICE_CIDR} dev {L.BRIDGE} src {L.NODE_IP}",
            "echo 1 > /proc/sys/net/ipv4/ip_forward",
            "echo 1 > /proc/sys/net/bridge/bridge-nf-call-iptables",
            "echo 1 > /proc/sys/net/bridge/bridge-nf-call-ip6tables",
        ]
        self.sh(holder, "\n".join(lines))
        for d in cgroup_dirs(self.lay.cgroup_root):
            d.mkdir(exist_ok=True)
            if d.parent.name == "cpuset":  # a cpuset cgroup takes no task until these are set
                for knob in ("cpuset.cpus", "cpuset.mems"):
                    (d / knob).write_text((d.parent / knob).read_text())

    # --- daemons -----------------------------------------------------------------------
    def start(
        self, holder: int, name: str, argv: list[str], env: dict[str, str] | None = None
    ) -> int:
        log = (self.lay.logs / f"{name}.log").open("ab")
        p = subprocess.Popen(
            [*self.enter(holder), *argv],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, **(env or {})},
        )
        log.close()
        pids = self.lay.p("pids")
        pids.mkdir(exist_ok=True)
        (pids / f"{name}.json").write_text(json.dumps({"nsenter": p.pid, "argv": argv}))
        return p.pid

    def alive(self, name: str) -> bool:
        try:
            pid = json.loads(self.lay.p("pids", f"{name}.json").read_text())["nsenter"]
        except (OSError, ValueError):
            return False
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        return (
            Path(f"/proc/{pid}").exists()
            and "zombie" not in Path(f"/proc/{pid}/status").read_text()
        )

    # --- teardown ------------------------------------------------------------------------
    def destroy(self, timeout: float = 30) -> None:
        """Kill everything in the node's namespaces, remove its cgroups and run directory."""
        try:
            rec = json.loads(self.ns_file.read_text())
        except (OSError, ValueError):
            rec = None
        if rec:
            if self.holder() is not None:
                os.kill(int(rec["holder"]), signal.SIGKILL)  # PID 1: the kernel kills the rest
            deadline = time.monotonic() + timeout
            while procs := processes_in(rec["pid_ns"]) + [
                p for p in (rec["unshare"],) if self._is_our_unshare(p)
            ]:
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"processes of the node are still alive after {timeout}s: {procs}"
                    )
                time.sleep(0.1)
        self._remove_cgroups(timeout)
        leaked = [m for m in mountpoints() if m.startswith(str(self.lay.run))]
        if leaked:
            raise RuntimeError(f"mounts under {self.lay.run} on the host: {leaked}")
        if self.lay.run.exists():
            keep = L.ROOT / "_out" / "e2e" / "logs"
            if self.lay.logs.exists():
                shutil.rmtree(keep, ignore_errors=True)
                keep.parent.mkdir(parents=True, exist_ok=True)
                shutil.copytree(self.lay.logs, keep)
            shutil.rmtree(self.lay.run)

    def _is_our_unshare(self, pid: int) -> bool:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            state = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            return False
        return cmd[:1] == [b"unshare"] and "zombie" not in state

    def _remove_cgroups(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        for top in cgroup_dirs(self.lay.cgroup_root):
            if not top.exists():
                continue
            dirs = sorted(
                (Path(d) for d, _, _ in os.walk(top)), key=lambda p: len(p.parts), reverse=True
            )
            for d in dirs:
                while True:
                    try:
                        d.rmdir()
                        break
                    except FileNotFoundError:
                        break
                    except OSError:
                        if time.monotonic() > deadline:
                            raise
                        time.sleep(0.1)


def mountpoints() -> list[str]:
    return [line.split()[4] for line in Path("/proc/self/mountinfo").read_text().splitlines()]


def host_state(lay: Layout) -> dict[str, object]:
    """What a run must leave as it found: namespaces, links, mounts, cgroups, processes."""
    netns = sorted(os.listdir("/run/netns")) if os.path.isdir("/run/netns") else []
    links = subprocess.run(
        ["ip", "-o", "link", "show"], capture_output=True, text=True, check=True
    ).stdout
    return {
        "netns": netns,
        "links": sorted(line.split(":")[1].strip().split("@")[0] for line in links.splitlines()),
        # Mounts of the run, or at the paths the node's daemons use (others on the host
        # may come and go meanwhile).
        "mounts": sorted(m for m in mountpoints() if m.startswith((*OURS, str(lay.run)))),
        "cgroups": [str(d) for d in cgroup_dirs(lay.cgroup_root) if d.exists()],
        "run_dir": lay.run.exists(),
        "processes": sorted(
            int(d)
            for d in os.listdir("/proc")
            if d.isdigit() and str(lay.run).encode() in _cmdline(d)
        ),
    }


def _cmdline(pid: str) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""
