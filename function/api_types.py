"""Shared pieces of the API models: the error type, constrained strings, the base model.

Quantities, label keys and values, annotation keys and resource names are checked the
way the API server checks them (function/k8s.py, function/quantity.py), so an input it
would refuse is a Fatal naming the field instead of a partial apply.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel
from pydantic.config import JsonDict

from function import k8s
from function.quantity import QUANTITY_PATTERN, quantity

DNS_LABEL_PATTERN = r"^[a-z]([-a-z0-9]*[a-z0-9])?$"
_QUANTITY_RE = re.compile(QUANTITY_PATTERN)


class SpecError(ValueError):
    """Invalid input, with the field path (as the user wrote it) and the reason."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


def _quantity(v: Any) -> Any:
    """Accept quantities as strings or numbers (protobuf Structs turn 2 into 2.0)."""
    if isinstance(v, bool):
        return v
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    if isinstance(v, int | float):
        v = str(v)
    if isinstance(v, str) and not _QUANTITY_RE.fullmatch(v):
        raise ValueError(f"{v!r} is not a Kubernetes quantity (for example 500m, 2, 10Gi)")
    return v


def _not_negative(v: str) -> str:
    if quantity(v) < 0:
        raise ValueError(f"{v!r} can not be negative")
    return v


def _positive(v: str) -> str:
    if quantity(v) <= 0:
        raise ValueError(f"{v!r} must be more than zero")
    return v


def _check(rule: Any) -> Any:
    """A validator from a k8s syntax rule (which returns why not, or None)."""

    def check(v: str) -> str:
        if why := rule(v):
            raise ValueError(why)
        return v

    return AfterValidator(check)


Quantity = Annotated[
    str,
    BeforeValidator(_quantity),
    AfterValidator(_not_negative),
    Field(json_schema_extra={"x-kubernetes-int-or-string": True}),
]
StorageSize = Annotated[
    str,
    BeforeValidator(_quantity),
    AfterValidator(_positive),
    Field(
        json_schema_extra={
            "pattern": QUANTITY_PATTERN,
            "x-kubernetes-validations": [
                {
                    "rule": "quantity(self).compareTo(quantity(oldSelf)) >= 0",
                    "message": "storage size can not shrink; expand the PVCs instead "
                    "(see docs/operations.md#storage-resize)",
                }
            ],
        }
    ),
]
LabelKey = Annotated[str, _check(k8s.qualified_name)]
LabelValue = Annotated[str, _check(k8s.label_value)]
AnnotationKey = Annotated[str, _check(k8s.annotation_key)]
ResourceName = Annotated[str, _check(k8s.resource_name)]

# A key in json_schema_extra that the generator strips: the field's default is
# applied by the function (so Composition input can sit between), not the schema.
NO_SCHEMA_DEFAULT: JsonDict = {"x-fn-no-schema-default": True}


class Model(BaseModel):
    """Base: camelCase on the wire, unknown fields rejected with their path."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        frozen=True,
    )


def error_path(prefix: str, err: ValidationError) -> SpecError:
    """Turn the first pydantic error into a SpecError with a dotted/indexed field path."""
    e = err.errors(include_url=False)[0]
    path = prefix
    for part in e["loc"]:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part in ("function-after", "function-before") or "[" in str(part):
            continue
        else:
            path += f".{part}"
    msg = e["msg"]
    for noise in ("Value error, ", "Assertion failed, "):
        msg = msg.removeprefix(noise)
    if e["type"] == "extra_forbidden":
        msg = "unknown field"
    elif e["type"] == "missing":
        msg = "required field is missing"
        if path == "spec.postgres":
            msg += " (set spec.postgres.passwordSecretRef.name: the Secret with the password)"
    return SpecError(path, msg)
