"""The function input (Composition-level defaults that sit between built-ins and the XR)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from function.api import INPUT_GROUP, INPUT_VERSION, PoolerResources
from function.api_parts import LocalObjectReference, Resources, Scheduling
from function.api_pg import PostgresDefaults
from function.api_types import Model


class _Partial(Model):
    pass


class ImagesDefaults(_Partial):
    multigres: str | None = None
    pgctld: str | None = None
    etcd: str | None = None
    pull_policy: Literal["Always", "IfNotPresent", "Never"] | None = None
    pull_secrets: list[LocalObjectReference] | None = None


class ComponentDefaults(_Partial):
    resources: Resources | None = None
    scheduling: Scheduling | None = None


class PoolerDefaults(_Partial):
    resources: PoolerResources | None = None
    scheduling: Scheduling | None = None


class InputDefaults(_Partial):
    images: ImagesDefaults | None = None
    scheduling: Scheduling | None = None
    etcd: ComponentDefaults | None = None
    multigateway: ComponentDefaults | None = None
    multiorch: ComponentDefaults | None = None
    multipooler: PoolerDefaults | None = None
    postgres: PostgresDefaults | None = None


class Input(Model):
    """Function input: organisation defaults that sit between built-ins and the XR."""

    api_version: Literal[f"{INPUT_GROUP}/{INPUT_VERSION}"] = Field(  # type: ignore[valid-type]
        default=f"{INPUT_GROUP}/{INPUT_VERSION}", alias="apiVersion"
    )
    kind: Literal["Input"] = "Input"
    metadata: dict[str, Any] | None = Field(default=None, json_schema_extra={"x-fn-skip": True})
    defaults: InputDefaults = Field(default_factory=InputDefaults)
