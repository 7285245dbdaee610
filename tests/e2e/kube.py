"""What the e2e scenarios ask of the real cluster: kubectl, bounded waits, failure logs.

Every wait has a timeout and, when it runs out, raises with what explains it: the
object's status, its events, and the logs of the pods named. Nothing here retries an
assertion: `wait_for` polls a condition until it holds or time is up.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

from hack.e2e.cluster.poll import Timeout, poll
from hack.e2e.cluster.run import Cluster, ClusterError

Obj = dict[str, Any]


class Kube:
    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster

    def kubectl(
        self, *args: str, input: str | None = None, check: bool = True, timeout: float = 120
    ) -> str:
        return self.cluster.kubectl(*args, input=input, check=check, timeout=timeout)

    def apply(self, objs: Iterable[Obj], field_manager: str = "e2e") -> None:
        items = list(objs)
        doc = json.dumps({"apiVersion": "v1", "kind": "List", "items": items})
        self.kubectl(
            "apply",
            "--server-side",
            "--force-conflicts",
            f"--field-manager={field_manager}",
            "-f",
            "-",
            input=doc,
        )

    def fresh_namespace(self, name: str, restricted: bool = True, timeout: float = 120) -> None:
        """(Re)create `name` empty: set-up is idempotent even on a reused cluster."""
        self.kubectl(
            "delete",
            "namespace",
            name,
            "--ignore-not-found",
            f"--timeout={timeout:.0f}s",
            timeout=timeout + 10,
        )
        self.apply([namespace(name, restricted)])

    def get(
        self, kind: str, name: str = "", ns: str | None = None, selector: str | None = None
    ) -> Obj:
        args = ["get", kind] + ([name] if name else []) + ["-o", "json"]
        if ns:
            args += ["-n", ns]
        if selector:
            args += ["-l", selector]
        return json.loads(self.kubectl(*args))

    def maybe(self, kind: str, name: str, ns: str | None = None) -> Obj | None:
        args = ["get", kind, name, "-o", "json", "--ignore-not-found"] + (["-n", ns] if ns else [])
        out = self.kubectl(*args)
        return json.loads(out) if out.strip() else None

    def pods(self, ns: str, selector: str | None = None) -> list[Obj]:
        return self.get("pods", ns=ns, selector=selector)["items"]

    def exec(
        self,
        ns: str,
        pod: str,
        *cmd: str,
        container: str | None = None,
        timeout: float = 60,
        check: bool = True,
        input: str | None = None,
    ) -> str:
        args = (
            ["exec", "-n", ns, pod]
            + (["-c", container] if container else [])
            + (["-i"] if input else [])
        )
        return self.kubectl(*args, "--", *cmd, timeout=timeout, check=check, input=input)

    def logs(
        self,
        ns: str,
        pod: str,
        container: str | None = None,
        previous: bool = False,
        tail: int = 60,
    ) -> str:
        args = ["logs", "-n", ns, pod, f"--tail={tail}"] + (["-c", container] if container else [])
        if previous:
            args.append("--previous")
        return self.kubectl(*args, check=False)

    def summary(self, ns: str, selector: str | None = None) -> str:
        """One line per pod: phase, ready containers, restarts, the first reason not ready.

        It comes first in a failure, so a CI log cut in the middle still says which pod was
        not ready and why; the logs follow."""
        lines = []
        for pod in self.pods(ns, selector):
            st = pod["status"]
            cs = st.get("containerStatuses", [])
            ready = sum(1 for c in cs if c["ready"])
            why = [
                f"{c['name']}:{next(iter(c['state']))}"
                + (f"({c['state']['waiting'].get('reason')})" if "waiting" in c["state"] else "")
                for c in cs
                if not c["ready"]
            ]
            not_ready = [
                f"{c['type']}={c.get('reason') or c['status']}"
                for c in st.get("conditions", [])
                if c["status"] != "True"
            ]
            lines.append(
                f"  {pod['metadata']['name']}: {st.get('phase')} ready {ready}/{len(cs)} "
                f"restarts {sum(c['restartCount'] for c in cs)} " + " ".join(why + not_ready)
            )
        return "\n".join(lines)

    def describe_failure(self, ns: str, selector: str | None = None) -> str:
        """A summary of the pods, then container states, recent events and logs of each."""
        out = []
        try:
            out.append(f"=== pods in {ns} ({selector or 'all'}):\n{self.summary(ns, selector)}")
            for pod in self.pods(ns, selector):
                name = pod["metadata"]["name"]
                out.append(f"=== pod {ns}/{name}: {pod['status'].get('phase')}")
                for cs in pod["status"].get("containerStatuses", []):
                    out.append(
                        f"  {cs['name']}: ready={cs['ready']} restarts={cs['restartCount']} state={cs['state']}"
                    )
                    out.append(self.logs(ns, name, cs["name"], tail=30))
                    if cs["restartCount"]:
                        out.append(
                            f"  --- previous {cs['name']} ---\n"
                            + self.logs(ns, name, cs["name"], True, 20)
                        )
            out.append(
                self.kubectl("get", "events", "-n", ns, "--sort-by=.lastTimestamp", check=False)[
                    -4000:
                ]
            )
        except ClusterError as e:
            out.append(f"(could not describe {ns}: {e})")
        return "\n".join(out)

    def wait_for(
        self,
        what: str,
        ok: Callable[[], bool],
        timeout: float,
        ns: str | None = None,
        selector: str | None = None,
        interval: float = 1.0,
    ) -> float:
        """Poll `ok` until it is true; return the seconds it took or fail with the logs of `ns`."""
        try:
            return poll(
                what, ok, timeout, interval, (ClusterError, KeyError, IndexError, ValueError)
            )
        except Timeout as e:
            detail = self.describe_failure(ns, selector) if ns else ""
            raise AssertionError(f"{e}\n{detail}") from None

    def pods_ready(self, ns: str, selector: str) -> list[str]:
        """The names of the pods that are Ready and not being deleted."""
        return [
            p["metadata"]["name"]
            for p in self.pods(ns, selector)
            if not p["metadata"].get("deletionTimestamp")
            and any(
                c["type"] == "Ready" and c["status"] == "True"
                for c in p["status"].get("conditions", [])
            )
        ]

    def wait_pods_ready(self, ns: str, selector: str, count: int, timeout: float) -> float:
        return self.wait_for(
            f"{count} Ready pod(s) {selector} in {ns}",
            lambda: len(self.pods_ready(ns, selector)) >= count,
            timeout,
            ns,
            selector,
        )


def namespace(name: str, restricted: bool = True) -> Obj:
    labels = {"pod-security.kubernetes.io/enforce": "restricted"} if restricted else {}
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}
