"""The pg_hba.conf template pgctld renders at initdb (`--pg-hba-template`).

pgctld's built-in template (config/postgres/pg_hba_template.conf at the pinned commit)
already asks scram-sha-256 of every connection, local socket included, but allows
replication only from 127.0.0.1 and ::1, so a standby in another pod is refused and a
synchronous primary can never commit. This template is the built-in one with replication
opened to every address, still with scram-sha-256 (the upstream operator ships the same
rules). No line says `trust`. The file goes through Go's text/template, so it must not
contain `{{`. It is only read when a data directory is first initialised.
"""

from __future__ import annotations

from typing import Final

#: Address ranges every `host` rule covers: the pod network is not known in advance, and
#: NetworkPolicies (spec.networkPolicy) are what narrow the sources, not pg_hba.
ANY_ADDRESS: Final = ("0.0.0.0/0", "::0/0")

METHOD: Final = "scram-sha-256"


def _rules() -> list[tuple[str, ...]]:
    rules: list[tuple[str, ...]] = [
        ("local", "all", "all", METHOD),
        ("local", "replication", "all", METHOD),
    ]
    rules += [("host", "replication", "all", a, METHOD) for a in ANY_ADDRESS]
    rules += [("host", "all", "all", a, METHOD) for a in ANY_ADDRESS]
    return rules


def template() -> str:
    head = [
        "# pg_hba.conf rendered by pgctld at initdb; composed by function-multigres.",
        "# Every connection, local socket included, authenticates with scram-sha-256:",
        "# standbys replicate from the primary's pod IP with the shared superuser password",
        "# (pgctld writes it to a passfile), clients arrive through multipooler.",
        "# TYPE  DATABASE  USER  [ADDRESS]  METHOD",
    ]
    return "\n".join(head + ["  ".join(r) for r in _rules()]) + "\n"
