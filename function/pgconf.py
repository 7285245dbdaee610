"""The postgresql.conf the cluster runs: validation, layering, rendering and the split
into what a reload applies and what needs a restart.

Layers, per parameter: the XR's `spec.postgres.parameters` > the Composition input's
`defaults.postgres.parameters` > the sizing from resources (pgsizing.py) > pgctld's own
template. Every user value is checked against the pinned server's table (pgparams.py)
before anything is composed. The rendered file is live-included by pgctld
(`--pg-initdb-extra-conf`), so its lines win over pgctld's template and lose only to
postgresql.auto.conf, which holds what multipooler sets with ALTER SYSTEM (the owned
parameters, refused here for that reason).
"""

from __future__ import annotations

import difflib
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property

from function.api_parts import Resources
from function.api_pg import MAX_PARAMETERS, MAX_VALUE_LENGTH
from function.api_types import SpecError
from function.defaults.pg_owned import OWNED
from function.pgparams import Param, base_value, quote, server_version, table, value_error
from function.pgsizing import Sizing, size

SPEC_PARAMS = "spec.postgres.parameters"
INPUT_PARAMS = "input.defaults.postgres.parameters"


def _unknown(name: str) -> str:
    params = table()
    if name.lower() in params:
        return f"parameter names are lowercase: use {name.lower()!r}"
    if "." in name:
        return (
            "extension parameters (with a dot) are not in the pinned server's table, so "
            "they can not be checked; only built-in PostgreSQL 17 parameters are accepted"
        )
    hint = difflib.get_close_matches(name, params, n=1)
    also = f" (did you mean {hint[0]!r}?)" if hint else ""
    return f"not a parameter of {server_version()}{also}"


def param_error(prefix: str, params: Mapping[str, str]) -> SpecError | None:
    """The first parameter (in name order) the cluster refuses, as a SpecError naming it."""
    if len(params) > MAX_PARAMETERS:
        return SpecError(prefix, f"at most {MAX_PARAMETERS} parameters (got {len(params)})")
    for name in sorted(params):
        where = f"{prefix}.{name}"
        if not isinstance(params[name], str):
            return SpecError(where, "values are strings: quote it (for example '200')")
        if len(params[name]) > MAX_VALUE_LENGTH:
            return SpecError(where, f"at most {MAX_VALUE_LENGTH} characters")
        if name in OWNED:
            return SpecError(where, f"owned by the cluster, can not be set: {OWNED[name]}")
        p = table().get(name)
        if p is None:
            return SpecError(where, _unknown(name))
        if why := value_error(p, params[name]):
            return SpecError(where, why)
    return None


def _int(params: Mapping[str, str], name: str) -> int:
    p = table()[name]
    return int(base_value(p, params.get(name, p.default)))


def cross_error(pg: PgConfig, own: Mapping[str, str]) -> SpecError | None:
    """Rules across parameters that the server (or the kernel) checks at start: Postgres
    would not start, or would be killed. Named at the XR's parameter when the XR set it,
    else at the Composition input's."""

    def at(name: str) -> str:
        return f"{SPEC_PARAMS if name in own else INPUT_PARAMS}.{name}"

    eff, user = pg.parameters, pg.user
    reserved = _int(eff, "superuser_reserved_connections") + _int(eff, "reserved_connections")
    conns = _int(eff, "max_connections")
    if reserved >= conns:
        name = next(
            (n for n in ("max_connections", "superuser_reserved_connections") if n in user),
            "reserved_connections",
        )
        return SpecError(
            at(name),
            f"superuser_reserved_connections + reserved_connections ({reserved}) must be less "
            f"than max_connections ({conns}), or Postgres does not start",
        )
    limit = pg.sizing.memory_limit
    shared_kb = _int(eff, "shared_buffers") * 8
    if "shared_buffers" in user and limit and shared_kb * 1024 >= limit:
        return SpecError(
            at("shared_buffers"),
            f"{eff['shared_buffers']} is not below the postgres container's memory limit "
            f"({limit // 1024 // 1024}Mi): shared memory counts against it, so Postgres "
            "would be OOM-killed; raise spec.multipooler.resources.postgres.limits.memory",
        )
    return None


@dataclass(frozen=True)
class PgConfig:
    """The effective parameters (sized and user-set) and how they reach Postgres.

    The derived views are cached on the instance (no slots, so cached_property can): the
    builders read restart_hash once per pooler object, 60-odd times per call at 20 cells.
    """

    parameters: dict[str, str]
    user: frozenset[str]
    sizing: Sizing

    def _params(self) -> dict[str, Param]:
        return {n: table()[n] for n in self.parameters}

    @cached_property
    def restart(self) -> dict[str, str]:
        """postmaster parameters: a new value needs a Postgres restart."""
        params = self._params()
        return {n: v for n, v in self.parameters.items() if params[n].needs_restart}

    @cached_property
    def reload(self) -> dict[str, str]:
        """Every other parameter: a reload (SIGHUP) applies it to new sessions."""
        params = self._params()
        return {n: v for n, v in self.parameters.items() if not params[n].needs_restart}

    @cached_property
    def restart_hash(self) -> str:
        """Hash of only the restart parameters: the pod template carries it, so a change
        to a reloadable parameter never restarts a pod."""
        return digest(self.restart)

    @cached_property
    def reload_hash(self) -> str:
        return digest(self.reload)

    def render(self) -> str:
        """The file pgctld live-includes, one `name = 'value'` line per parameter."""
        lines = [
            "# Generated by function-multigres from the XMultigres "
            "(spec.postgres.parameters, Composition input, sizing). Do not edit.",
            f"# {self.sizing.basis}",
        ]
        for name, v in self.parameters.items():
            origin = "set" if name in self.user else "sized"
            ctx = "restart" if table()[name].needs_restart else "reload"
            lines.append(f"{name} = {quote(v)}  # {origin}, {ctx}")
        return "\n".join(lines) + "\n"


def digest(params: Mapping[str, str]) -> str:
    text = "\n".join(f"{n}={params[n]}" for n in sorted(params))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def config(params: Mapping[str, str], resources: Resources, storage: str) -> PgConfig:
    """Sized defaults under the (already validated, merged) user parameters."""
    sizing = size(resources, storage, params)
    merged = {**sizing.parameters, **params}
    return PgConfig(dict(sorted(merged.items())), frozenset(params), sizing)
