"""Resolve an observed XR (+ optional function input) into a validated `Cluster`.

Precedence is XR > Composition input > built-in defaults. The XR and the input
are merged as plain dicts before validation, so an error always names the field
the user wrote; the built-in defaults are the models' own defaults.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from function import k8s, pgconf
from function.api import XMultigresSpec
from function.api_input import Input
from function.api_types import DNS_LABEL_PATTERN, SpecError, error_path
from function.defaults.spec import MAX_XR_NAME
from function.defaults.upstream import PORTS, TOPO_GLOBAL_ROOT

_DNS_LABEL = re.compile(DNS_LABEL_PATTERN)

# Leaves that replace whole rather than merge key by key: a user who sets
# `limits` means exactly those limits, not those plus an inherited one.
_ATOMIC = frozenset(
    {"requests", "limits", "nodeSelector", "affinity", "tolerations", "topologySpreadConstraints"}
)


@dataclass(frozen=True, slots=True)
class Cluster:
    """Everything a builder needs: identity of the XR and its resolved spec."""

    name: str
    namespace: str
    spec: XMultigresSpec
    pg: pgconf.PgConfig

    @property
    def etcd_service(self) -> str:
        return f"{self.name}-etcd"

    @property
    def topo_address(self) -> str:
        return f"{self.etcd_service}.{self.namespace}.svc:{PORTS['etcd']['client']}"

    @property
    def topo_root(self) -> str:
        return TOPO_GLOBAL_ROOT

    @property
    def cell_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.spec.cells)


def merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """Deep-merge `over` onto `base` (over wins); lists and `_ATOMIC` keys replace whole."""
    out = dict(base)
    for k, v in over.items():
        b = out.get(k)
        if isinstance(v, dict) and isinstance(b, dict) and k not in _ATOMIC:
            out[k] = merge(b, v)
        else:
            out[k] = v
    return out


#: Where a `scheduling` may appear (None: at the top), and its verbatim pod-spec fragments.
_SCHEDULED = (None, "etcd", "multigateway", "multiorch", "multipooler")
_FRAGMENTS = (
    ("tolerations", "tolerations", "toleration"),
    ("affinity", "affinity", "affinity"),
    ("topology_spread_constraints", "topologySpreadConstraints", "topologySpreadConstraint"),
)


def fragment_error(prefix: str, holder: Any) -> SpecError | None:
    """The first toleration, affinity or topology spread constraint the API server would
    refuse, anywhere in a spec (or input defaults), as a SpecError with its full path."""
    for comp in _SCHEDULED:
        owner = holder if comp is None else getattr(holder, comp, None)
        sched = getattr(owner, "scheduling", None)
        if sched is None:
            continue
        where = f"{prefix}.{comp}.scheduling" if comp else f"{prefix}.scheduling"
        for attr, field, root in _FRAGMENTS:
            value = getattr(sched, attr)
            items = list(enumerate(value)) if isinstance(value, list) else [(None, value)]
            for i, item in items:
                if item is None:
                    continue
                if problem := k8s.fragment(root, item):
                    at = f"{where}.{field}" + (f"[{i}]" if i is not None else "") + problem[0]
                    return SpecError(at, problem[1])
    return None


def parse_input(raw: dict[str, Any] | None) -> dict[str, Any]:
    """Validate the function input and return its defaults as a spec-shaped dict."""
    if not raw:
        return {}
    try:
        parsed = Input.model_validate(raw)
    except ValidationError as e:
        raise error_path("input", e) from None
    if err := fragment_error("input.defaults", parsed.defaults):
        raise err
    pg = parsed.defaults.postgres
    if pg and pg.parameters and (err := pgconf.param_error(pgconf.INPUT_PARAMS, pg.parameters)):
        raise err
    return parsed.defaults.model_dump(by_alias=True, exclude_none=True, exclude_unset=True)


def resolve(name: str, namespace: str, spec: Any, raw_input: dict[str, Any] | None) -> Cluster:
    """Validate one XR's identity and spec, under the function input, into a Cluster.

    These four are all a builder can ever see: the build cache keys on exactly them
    (cache.BuildInput). Raises SpecError naming the field.
    """
    if not name:
        raise SpecError("metadata.name", "required field is missing")
    if len(name) > MAX_XR_NAME or not _DNS_LABEL.match(name):
        raise SpecError(
            "metadata.name",
            f"must be a DNS label of at most {MAX_XR_NAME} characters so every generated "
            f"name fits its Kubernetes limit (got {name!r})",
        )
    if not namespace:
        raise SpecError("metadata.namespace", "XMultigres is namespaced: namespace is required")
    if not isinstance(spec, dict):
        raise SpecError("spec", "required field is missing")
    defaults = parse_input(raw_input)
    merged = merge(defaults, spec) if defaults else spec
    try:
        resolved = XMultigresSpec.model_validate(merged)
    except ValidationError as e:
        raise error_path("spec", e) from None
    if err := resolved.cross_field_error() or fragment_error("spec", resolved):
        raise err
    own = ((spec.get("postgres") or {}).get("parameters")) or {}
    if err := pgconf.param_error(pgconf.SPEC_PARAMS, own):
        raise err
    mp = resolved.multipooler
    pg = pgconf.config(resolved.postgres.parameters, mp.resources.postgres, mp.storage.size)
    if err := pgconf.cross_error(pg, own):
        raise err
    return Cluster(name=name, namespace=namespace, spec=resolved, pg=pg)


def resolve_xr(xr: dict[str, Any], raw_input: dict[str, Any] | None = None) -> Cluster:
    """`resolve` for an XR as a dict (tests and tools): reads only name, namespace, spec."""
    meta = xr.get("metadata") or {}
    return resolve(meta.get("name") or "", meta.get("namespace") or "", xr.get("spec"), raw_input)
