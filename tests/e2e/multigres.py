"""A Multigres cluster on the real node, as the scenarios drive it.

`Demo` applies what `crossplane render` gives for an example (tests/e2e/render.py),
finds the primary by asking each Postgres, talks SQL through the gateway Service from a
client pod (the pgctld image: psql 17 and bash), and runs the writer the failover
scenarios measure: one INSERT every 100 ms through the gateway, each acknowledged id
logged with its time, so a lost write is an acknowledged id missing afterwards.
"""

from __future__ import annotations

import base64
import itertools
import time
from pathlib import Path
from typing import Any

import yaml

from function.defaults.upstream import IMAGES, PATHS
from hack.e2e.cluster.run import ClusterError
from tests.e2e.kube import Kube
from tests.e2e.render import ROOT, composed

CLIENT = "e2e-psql"
#: The examples' password Secret (what `Demo` applies, and xr.py with the XR).
SECRET = ROOT / "examples" / "required" / "demo-pg.yaml"
WRITER_LOG = "/tmp/acked"


class Demo:
    def __init__(self, kube: Kube, example: Path, name: str = "demo", ns: str = "default") -> None:
        self.kube, self.example, self.name, self.ns = kube, example, name, ns
        secret = yaml.safe_load(SECRET.read_text())
        self.secret = secret
        self.password = base64.b64decode(secret["data"]["password"]).decode()
        self.gateway = f"{name}-multigateway.{ns}.svc"

    # --- objects ------------------------------------------------------------------------
    def objects(self, example: Path | None = None) -> list[dict[str, Any]]:
        return composed(example or self.example)

    def apply(self, example: Path | None = None) -> list[dict[str, Any]]:
        objs = self.objects(example)
        self.kube.apply([self.secret, *objs], field_manager="function-multigres-e2e")
        return objs

    def selector(self, component: str | None = None) -> str:
        sel = f"app.kubernetes.io/instance={self.name}"
        return f"{sel},app.kubernetes.io/component={component}" if component else sel

    def expected_pods(self, objs: list[dict[str, Any]]) -> int:
        return sum(
            int(o["spec"].get("replicas", 1))
            for o in objs
            if o["kind"] in ("StatefulSet", "Deployment")
        )

    def wait_ready(self, objs: list[dict[str, Any]], timeout: float = 300) -> float:
        return self.kube.wait_pods_ready(
            self.ns, self.selector(), self.expected_pods(objs), timeout
        )

    def wait_rolled(self, objs: list[dict[str, Any]], timeout: float = 420) -> None:
        """Every StatefulSet and Deployment of `objs` rolled out, then a write commits."""
        deadline = time.monotonic() + timeout
        for o in objs:
            if o["kind"] in ("StatefulSet", "Deployment"):
                left = max(deadline - time.monotonic(), 1)
                ref = f"{o['kind'].lower()}/{o['metadata']['name']}"
                try:
                    self.kube.kubectl(
                        "rollout",
                        "status",
                        "-n",
                        self.ns,
                        ref,
                        f"--timeout={left:.0f}s",
                        timeout=left + 10,
                    )
                except ClusterError as e:
                    raise AssertionError(
                        f"{ref} did not roll out: {e}\n{self.kube.describe_failure(self.ns, self.selector())}"
                    ) from e
        self.wait_writable(max(deadline - time.monotonic(), 60))

    def wait_writable(self, timeout: float = 120) -> float:
        return self.kube.wait_for("a committed write through the gateway", lambda: self.sql("select 1") == "1\n",
                                  timeout, self.ns, self.selector())  # fmt: skip

    def delete_all(self, keep_pvcs: bool = True) -> None:
        kinds = "statefulsets,deployments,jobs,services,poddisruptionbudgets,serviceaccounts,configmaps,horizontalpodautoscalers"
        self.kube.kubectl(
            "delete",
            kinds,
            "-n",
            self.ns,
            "-l",
            f"crossplane.io/composite={self.name}",
            "--ignore-not-found",
            "--wait=true",
            "--timeout=180s",
            timeout=200,
        )
        if not keep_pvcs:
            self.kube.kubectl(
                "delete",
                "pvc",
                "-n",
                self.ns,
                "-l",
                f"app.kubernetes.io/instance={self.name}",
                "--ignore-not-found",
                "--wait=true",
                "--timeout=120s",
                timeout=140,
            )
            self.kube.kubectl(
                "delete", "pvc", "-n", self.ns, "--all", "--ignore-not-found", "--timeout=120s"
            )

    # --- SQL ------------------------------------------------------------------------------
    def client(self) -> None:
        if self.kube.maybe("pod", CLIENT, self.ns):
            return
        restricted = {
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
            "runAsNonRoot": True,
            "runAsUser": 999,
            "runAsGroup": 999,
            "seccompProfile": {"type": "RuntimeDefault"},
            "readOnlyRootFilesystem": True,
        }
        self.kube.apply(
            [
                {
                    "apiVersion": "v1",
                    "kind": "Pod",
                    "metadata": {"name": CLIENT, "namespace": self.ns, "labels": {"app": CLIENT}},
                    "spec": {
                        "terminationGracePeriodSeconds": 1,
                        "containers": [
                            {
                                "name": "psql",
                                "image": IMAGES["pgctld"],
                                "imagePullPolicy": "IfNotPresent",
                                "command": ["sleep", "infinity"],
                                "securityContext": restricted,
                                "env": [
                                    {"name": "PGPASSWORD", "value": self.password},
                                    {"name": "PGCONNECT_TIMEOUT", "value": "10"},
                                ],
                                "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
                            }
                        ],
                        "volumes": [{"name": "tmp", "emptyDir": {}}],
                    },
                }
            ]
        )
        self.kube.wait_pods_ready(self.ns, f"app={CLIENT}", 1, 60)

    def dsn(self) -> str:
        return f"host={self.gateway} port=5432 user=postgres dbname=postgres sslmode=disable"

    def must_sql(self, query: str, timeout: float = 30) -> str:
        """sql() for a statement that must succeed now (not one polled until it does): a
        failure or a hang fails the scenario with what each instance says of itself and
        the logs of every pod of the cluster, not only psql's error."""
        try:
            return self.sql(query, timeout=timeout)
        except ClusterError as e:
            raise AssertionError(f"{e}\n{self.explain()}") from None

    def explain(self, table: str | None = None) -> str:
        """shard_state(), then the phases, states, events and logs of every pod of the
        cluster: what a failed statement through the gateway is reported with."""
        return f"{self.shard_state(table)}\n{self.kube.describe_failure(self.ns, self.selector())}"

    def sql(self, query: str, check: bool = True, timeout: float = 30) -> str:
        return self.kube.exec(
            self.ns,
            CLIENT,
            "psql",
            self.dsn(),
            "-v",
            "ON_ERROR_STOP=1",
            "-qAt",
            "-c",
            query,
            timeout=timeout,
            check=check,
        )

    # --- Postgres instances ----------------------------------------------------------------
    def poolers(self) -> list[str]:
        pods = self.kube.pods(self.ns, self.selector("multipooler"))
        return sorted(
            p["metadata"]["name"] for p in pods if not p["metadata"].get("deletionTimestamp")
        )

    def local_sql(self, pod: str, query: str, timeout: float = 15) -> str:
        """SQL on one instance's own socket, from its postgres container."""
        return self.kube.exec(
            self.ns, pod, "env", f"PGPASSWORD={self.password}", "psql", "-h", PATHS["pg_socket_dir"],
            "-U", "postgres", "-d", "postgres", "-qAt", "-c", query, container="postgres", timeout=timeout,
        )  # fmt: skip

    def primary(self) -> str | None:
        found = []
        for pod in self.poolers():
            try:
                if self.local_sql(pod, "select pg_is_in_recovery()").strip() == "f":
                    found.append(pod)
            except Exception:  # an instance that does not answer is not the primary
                continue
        return found[0] if len(found) == 1 else None

    def shard_state(self, table: str | None = None) -> str:
        """What each instance says of itself (and whether `table` exists there), then
        multiorch's and the gateways' last log lines: the first things to read when SQL
        through the gateway fails while every pod is Ready (a failure message's head is what
        a CI excerpt keeps)."""
        query = (
            "select pg_is_in_recovery(), (select count(*) from pg_stat_replication"
            " where state = 'streaming')"
        )
        head = "=== each instance: in recovery | standbys streaming"
        if table is not None:
            query += f", to_regclass('{table}') is not null"
            head += f" | {table} exists"
        out = [head]
        for pod in self.poolers():
            try:
                out.append(f"  {pod}: {self.local_sql(pod, query).strip()}")
            except ClusterError as e:
                out.append(f"  {pod}: no answer ({e})")
        for comp in ("multiorch", "multigateway"):
            for p in self.kube.pods(self.ns, self.selector(comp)):
                name = p["metadata"]["name"]
                out.append(f"=== {name} (last 25 lines)\n{self.kube.logs(self.ns, name, tail=25)}")
        return "\n".join(out)

    # --- the writer -------------------------------------------------------------------------
    def start_writer(self, table: str, seconds: int) -> None:
        """Insert 1, 2, 3, ... every 100 ms for up to `seconds` (or until `stop_writer`),
        logging each acknowledged id with its time, and each failure with its time."""
        script = f"""
rm -f {WRITER_LOG} /tmp/writer.done /tmp/writer.err /tmp/writer.stop
i=0; end=$((SECONDS+{seconds}))
while [ $SECONDS -lt $end ] && [ ! -e /tmp/writer.stop ]; do
  i=$((i+1))
  if out=$(psql -h {self.gateway} -p 5432 -U postgres -d postgres -qAt \\
      -c "insert into {table}(id) values ($i)" 2>&1)
  then echo "$i $(date +%s.%N)" >> {WRITER_LOG}
  else echo "$i $(date +%s.%N) $out" | head -1 >> /tmp/writer.err; fi
  sleep 0.1
done
echo done > /tmp/writer.done
"""
        self.kube.exec(self.ns, CLIENT, "bash", "-c", "cat > /tmp/writer.sh", input=script)
        self.kube.exec(self.ns, CLIENT, "bash", "-c", "nohup bash /tmp/writer.sh >/dev/null 2>&1 &")

    def stop_writer(self, timeout: float = 60) -> None:
        self.kube.exec(self.ns, CLIENT, "touch", "/tmp/writer.stop")
        self.kube.wait_for("the writer to stop", self.writer_done, timeout, self.ns)

    def acked(self) -> list[tuple[int, float]]:
        out = self.kube.exec(self.ns, CLIENT, "bash", "-c", f"cat {WRITER_LOG} 2>/dev/null || true")
        rows = [line.split() for line in out.splitlines() if line.strip()]
        return [(int(i), float(t)) for i, t in rows]

    def writer_done(self) -> bool:
        return "done" in self.kube.exec(
            self.ns, CLIENT, "bash", "-c", "cat /tmp/writer.done 2>/dev/null || true"
        )

    def writer_errors(self) -> str:
        return self.kube.exec(
            self.ns, CLIENT, "bash", "-c", "tail -5 /tmp/writer.err 2>/dev/null || true"
        )


def max_gap(acked: list[tuple[int, float]], after: float) -> float:
    """The longest time between consecutive acknowledged writes around `after`."""
    times = [t for _, t in acked]
    gaps = [b - a for a, b in itertools.pairwise(times) if b >= after]
    return max(gaps) if gaps else float("inf")


def now() -> float:
    return time.time()
