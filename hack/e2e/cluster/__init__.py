"""The e2e tier's single-node Kubernetes, run inside namespaces of its own.

`python3 -m hack.e2e.cluster up|down|status` (what `make cluster-up`/`cluster-down`
call); tests use `Cluster` directly. Only the standard library: it runs before and
without the project's virtualenv.
"""
