"""Record what the API server tells watchers: every ADDED/MODIFIED/DELETED of some objects.

Crossplane's XR controller watches the XR and every kind it composes, and each event on
one of them costs the XR tokens of its watch circuit breaker (two for an update: the
mapping runs for the old and the new object). `Recorder` runs one `kubectl get --watch`
per kind, as that controller's informers see the same stream, and keeps each event with
its time, so a scenario can say which objects changed how often, what changed in each
(spec, status, metadata) and who wrote it (the newest managedFields entry), and in which
order pods went away on deletion.
"""

from __future__ import annotations

import json
import subprocess
import threading
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

from tests.e2e.kube import Kube

Obj = dict[str, Any]


@dataclass(frozen=True)
class Event:
    at: float
    type: str
    kind: str
    name: str
    obj: Obj

    @property
    def key(self) -> str:
        return f"{self.kind}/{self.name}"


class Recorder:
    """Watch `kinds` in `ns` (those matching `selector`, or all) until `stop()`."""

    def __init__(self, kube: Kube, ns: str, kinds: list[str], selector: str | None = None) -> None:
        self.kube, self.ns, self.kinds, self.selector = kube, ns, kinds, selector
        self.events: list[Event] = []
        self._lock = threading.Lock()
        self._procs: list[subprocess.Popen[str]] = []
        self._threads: list[threading.Thread] = []
        self.started = 0.0

    def __enter__(self) -> Recorder:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def start(self) -> None:
        self.started = time.time()
        c = self.kube.cluster
        for kind in self.kinds:
            args = ["get", kind, "-n", self.ns, "--watch", "--output-watch-events", "-o", "json"]
            if self.selector:
                args += ["-l", self.selector]
            cmd = c.in_node(
                str(c.lay.k8s_bin / "kubectl"), f"--kubeconfig={c.lay.kubeconfig}", *args
            )
            p = subprocess.Popen(
                cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, bufsize=1
            )
            t = threading.Thread(target=self._read, args=(p,), daemon=True)
            t.start()
            self._procs.append(p)
            self._threads.append(t)

    def _read(self, p: subprocess.Popen[str]) -> None:
        dec = json.JSONDecoder()
        buf = ""
        assert p.stdout is not None
        for line in p.stdout:
            buf += line
            while True:
                stripped = buf.lstrip()
                if not stripped:
                    buf = ""
                    break
                try:
                    ev, end = dec.raw_decode(stripped)
                except ValueError:
                    break  # an event split over lines: read on
                buf = stripped[end:]
                obj = ev.get("object") or {}
                meta = obj.get("metadata") or {}
                with self._lock:
                    self.events.append(
                        Event(
                            time.time(),
                            ev.get("type", ""),
                            obj.get("kind", ""),
                            meta.get("name", ""),
                            obj,
                        )
                    )

    def stop(self) -> None:
        for p in self._procs:  # only the watchers this recorder started
            if p.poll() is None:
                p.terminate()
        for p in self._procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        for t in self._threads:
            t.join(timeout=5)
        self._procs.clear()
        self._threads.clear()

    # --- reading ----------------------------------------------------------------------------
    def snapshot(self, since: float = 0.0) -> list[Event]:
        with self._lock:
            return [e for e in self.events if e.at >= since]

    def updates(self, since: float = 0.0, until: float | None = None) -> list[Event]:
        """MODIFIED events that are real changes (a watch's initial listing is ADDED)."""
        return [
            e
            for e in self.snapshot(since)
            if e.type == "MODIFIED" and (until is None or e.at <= until)
        ]

    def churn(self, since: float = 0.0, until: float | None = None) -> dict[str, Any]:
        """Updates per object, per part changed and per writer: what costs the breaker."""
        prev: dict[str, Obj] = {}
        by_object: Counter[str] = Counter()
        by_part: Counter[str] = Counter()
        by_writer: Counter[str] = Counter()
        for e in self.snapshot():
            if e.type == "MODIFIED" and e.at >= since and (until is None or e.at <= until):
                by_object[e.key] += 1
                for part in changed_parts(prev.get(e.key), e.obj):
                    by_part[f"{e.key} {part}"] += 1
                by_writer[f"{e.kind} by {latest_writer(e.obj)}"] += 1
            prev[e.key] = e.obj
        return {
            "updates": sum(by_object.values()),
            "by_object": dict(by_object.most_common()),
            "by_part": dict(by_part.most_common()),
            "by_writer": dict(by_writer.most_common()),
        }

    def deleted(self, since: float = 0.0) -> list[Event]:
        return [e for e in self.snapshot(since) if e.type == "DELETED"]


IGNORED_META = {"resourceVersion", "managedFields", "generation"}


def changed_parts(before: Obj | None, after: Obj) -> list[str]:
    """Top-level parts that differ: spec, status, metadata.<field>, data, ..."""
    if before is None:
        return ["(first seen)"]
    out = []
    for key in sorted(set(before) | set(after)):
        if key == "metadata":
            bm, am = before.get("metadata") or {}, after.get("metadata") or {}
            out += [
                f"metadata.{k}"
                for k in sorted(set(bm) | set(am))
                if k not in IGNORED_META and bm.get(k) != am.get(k)
            ]
        elif before.get(key) != after.get(key):
            if key == "status" and isinstance(after.get(key), dict):
                b, a = before.get(key) or {}, after[key]
                out += [f"status.{k}" for k in sorted(set(b) | set(a)) if b.get(k) != a.get(k)]
            else:
                out.append(key)
    return out or ["(nothing but resourceVersion)"]


def latest_writer(obj: Obj) -> str:
    """The field manager (and operation/subresource) with the newest managedFields time."""
    entries = (obj.get("metadata") or {}).get("managedFields") or []
    if not entries:
        return "?"
    newest = max(entries, key=lambda m: m.get("time") or "")
    sub = f"/{newest['subresource']}" if newest.get("subresource") else ""
    return f"{newest.get('manager', '?')} ({newest.get('operation', '?')}{sub})"
