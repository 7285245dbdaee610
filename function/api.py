"""The XMultigres API: pydantic models that are the single source of truth.

`apis/definition.yaml` is generated from these models (`make generate`); the
schema keywords and CEL rules attached here with `json_schema_extra` are what the
API server enforces, and the validators below enforce the same rules inside the
function, so `crossplane render` and a live cluster reject the same input.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict, Field, field_validator
from pydantic.config import JsonDict

from function import k8s
from function.api_parts import (
    Autoscaling,
    BackupStorage,
    Images,
    MultiorchTiming,
    PgBackRestTLS,
    PoolerAutoscaling,
    Resources,
    Scheduling,
    Storage,
    resources_field,
    storage_field,
)
from function.api_pg import Postgres
from function.api_types import (
    DNS_LABEL_PATTERN,
    NO_SCHEMA_DEFAULT,
    AnnotationKey,
    LabelKey,
    LabelValue,
    Model,
    SpecError,
)
from function.defaults import spec as d
from function.defaults.upstream import LOG_LEVELS

__all__ = ["DNS_LABEL_PATTERN", "Postgres", "Resources", "Scheduling", "SpecError"]

API_GROUP = "multigres.com"
API_VERSION = "v1alpha1"
KIND = "XMultigres"
INPUT_GROUP = "multigres.fn.crossplane.io"
INPUT_VERSION = "v1beta1"


class Cell(Model):
    name: str = Field(
        min_length=1,
        max_length=d.MAX_CELL_NAME,
        pattern=DNS_LABEL_PATTERN,
        description="Cell name: a DNS label of at most 19 characters, so generated names fit.",
    )
    zone: str | None = Field(
        default=None,
        max_length=63,
        pattern=k8s.LABEL_VALUE_PATTERN,
        description="Pins the cell's pods to nodes labelled topology.kubernetes.io/zone=<zone>.",
    )


_ODD: JsonDict = {
    "x-kubernetes-validations": [
        {"rule": "self % 2 == 1", "message": "etcd replicas must be odd (1, 3, 5 or 7)"},
        {
            "rule": "self == oldSelf",
            "message": "etcd replicas can not change after creation "
            "(membership changes need etcdctl; see docs/operations.md#etcd)",
        },
    ]
}


class Etcd(Model):
    replicas: int = Field(default=d.ETCD_REPLICAS, ge=1, le=7, json_schema_extra=_ODD)
    storage: Storage = storage_field(d.ETCD_STORAGE)
    resources: Resources = resources_field("etcd")
    scheduling: Scheduling | None = None

    @field_validator("replicas")
    @classmethod
    def _odd(cls, v: int) -> int:
        if v % 2 == 0:
            raise ValueError("etcd replicas must be odd (1, 3, 5 or 7)")
        return v


class GatewayService(Model):
    type: Literal["ClusterIP", "NodePort", "LoadBalancer"] = "ClusterIP"
    annotations: dict[AnnotationKey, str] = Field(default_factory=dict)
    port: int = Field(default=d.POSTGRES_PORT, ge=1, le=65535)


def _per_cell(default: int, most: int, why: str) -> Any:
    return Field(default=default, ge=1, le=most, description=f"Per cell. At least 1: {why}")


class Multigateway(Model):
    replicas: int = _per_cell(d.GATEWAY_REPLICAS, 128, "the gateways are the only endpoint.")
    resources: Resources = resources_field("multigateway")
    service: GatewayService = Field(default_factory=GatewayService)
    autoscaling: Autoscaling = Field(default_factory=Autoscaling)
    scheduling: Scheduling | None = None


class Multiorch(Model):
    replicas: int = _per_cell(
        d.ORCH_REPLICAS, 16, "without multiorch nothing bootstraps or fails over."
    )
    resources: Resources = resources_field("multiorch")
    autoscaling: Autoscaling = Field(default_factory=Autoscaling)
    scheduling: Scheduling | None = None
    timing: MultiorchTiming = Field(default_factory=MultiorchTiming)


class PoolerResources(Model):
    multipooler: Resources = resources_field("multipooler")
    postgres: Resources = resources_field("postgres")


class Multipooler(Model):
    replicas_per_cell: int = Field(
        default=d.POOLER_REPLICAS_PER_CELL, ge=1, le=32, description="Postgres instances per cell."
    )
    storage: Storage = storage_field(d.POOLER_STORAGE)
    resources: PoolerResources = Field(
        default_factory=PoolerResources, json_schema_extra=NO_SCHEMA_DEFAULT
    )
    autoscaling: PoolerAutoscaling = Field(
        default_factory=PoolerAutoscaling,
        description="Opt-in. Scale-down removes the highest ordinal, which may be the primary.",
    )
    scheduling: Scheduling | None = None


class Backup(Model):
    path: str = Field(default=d.BACKUP_PATH, pattern=r"^/[^\s]*$", max_length=255)
    existing_claim: str = Field(
        default="",
        max_length=253,
        description="Use this PVC for backups instead of composing one. Fixed at creation: "
        "switching would delete the composed backup volume.",
        json_schema_extra={
            "x-kubernetes-validations": [
                {
                    "rule": "self == oldSelf",
                    "message": "backup.existingClaim can not change after creation: switching "
                    "would delete the composed backup volume and its backups",
                }
            ]
        },
    )
    storage: BackupStorage = Field(default_factory=BackupStorage)
    pgbackrest_tls: PgBackRestTLS = Field(default_factory=PgBackRestTLS, alias="pgbackrestTLS")


class PvcRetention(Model):
    when_deleted: Literal["Retain", "Delete"] = "Retain"
    when_scaled: Literal["Retain", "Delete"] = "Retain"


class NetworkPolicy(Model):
    enabled: bool = False


class Usages(Model):
    enabled: bool = Field(
        default=True,
        description="Compose protection.crossplane.io Usages so etcd outlives poolers and orchs "
        "on deletion (needs Crossplane v2 with Usages enabled).",
    )


_CELLS_RULES: JsonDict = {
    "x-kubernetes-validations": [
        {
            "rule": "self.all(c, self.exists_one(o, o.name == c.name))",
            "message": "cell names must be unique",
        },
        {
            "rule": "oldSelf.all(o, self.exists(c, c.name == o.name))",
            "message": "cells are append-only: an existing cell can not be removed or renamed",
        },
        {
            "rule": "oldSelf.all(o, !self.exists(c, c.name == o.name) || self.exists(c, "
            "c.name == o.name && has(c.zone) == has(o.zone) && "
            "(!has(o.zone) || c.zone == o.zone)))",
            "message": "a cell's zone can not change: its volumes live in that zone",
        },
    ]
}

POOLER_COUNT_MESSAGE = (
    "replicasPerCell x cells must be at least 2: every durability policy needs a standby "
    "to bootstrap"
)
POOLER_AUTOSCALING_MESSAGE = (
    "multipooler autoscaling minReplicas x cells must be at least 2: every durability policy "
    "needs a standby"
)

_SPEC_RULES: JsonDict = {
    "x-kubernetes-validations": [
        {
            "rule": "!has(self.postgres) || !has(self.postgres.durabilityPolicy) || "
            "self.postgres.durabilityPolicy != 'MULTI_CELL_AT_LEAST_2' || "
            "(has(self.cells) && self.cells.size() >= 2)",
            "message": "durabilityPolicy MULTI_CELL_AT_LEAST_2 needs at least 2 cells",
            "fieldPath": ".postgres.durabilityPolicy",
        },
        {
            "rule": "!has(self.multipooler) || !has(self.multipooler.replicasPerCell) || "
            "!has(self.cells) || self.multipooler.replicasPerCell * self.cells.size() >= 2",
            "message": POOLER_COUNT_MESSAGE,
            "fieldPath": ".multipooler.replicasPerCell",
        },
        {
            "rule": "!has(self.multipooler) || !has(self.multipooler.autoscaling) || "
            "!has(self.multipooler.autoscaling.enabled) || "
            "!self.multipooler.autoscaling.enabled || "
            "!has(self.multipooler.autoscaling.minReplicas) || !has(self.cells) || "
            "self.multipooler.autoscaling.minReplicas * self.cells.size() >= 2",
            "message": POOLER_AUTOSCALING_MESSAGE,
            "fieldPath": ".multipooler.autoscaling.minReplicas",
        },
    ]
}


class XMultigresSpec(Model):
    model_config = ConfigDict(json_schema_extra=_SPEC_RULES)

    images: Images = Field(default_factory=Images, json_schema_extra=NO_SCHEMA_DEFAULT)
    cells: list[Cell] = Field(
        default_factory=lambda: [Cell(name=d.DEFAULT_CELL)],
        min_length=1,
        max_length=d.MAX_CELLS,
        json_schema_extra=_CELLS_RULES,
    )
    etcd: Etcd = Field(default_factory=Etcd)
    multigateway: Multigateway = Field(default_factory=Multigateway)
    multiorch: Multiorch = Field(default_factory=Multiorch)
    multipooler: Multipooler = Field(default_factory=Multipooler)
    postgres: Postgres
    backup: Backup = Field(default_factory=Backup)
    pvc_retention: PvcRetention = Field(default_factory=PvcRetention)
    scheduling: Scheduling = Field(
        default_factory=Scheduling,
        description="Default placement for every component.",
        json_schema_extra=NO_SCHEMA_DEFAULT,
    )
    pod_labels: dict[LabelKey, LabelValue] = Field(default_factory=dict)
    pod_annotations: dict[AnnotationKey, str] = Field(default_factory=dict)
    network_policy: NetworkPolicy = Field(default_factory=NetworkPolicy)
    usages: Usages = Field(default_factory=Usages)
    log_level: Literal[LOG_LEVELS] = "info"  # type: ignore[valid-type]
    crossplane: dict[str, Any] | None = Field(
        default=None,
        exclude=True,
        description="Reserved for Crossplane (compositionRef, resourceRefs, ...).",
        json_schema_extra={"x-fn-skip": True},
    )

    @field_validator("cells")
    @classmethod
    def _unique_cells(cls, cells: list[Cell]) -> list[Cell]:
        seen: set[str] = set()
        for i, c in enumerate(cells):
            if c.name in seen:
                raise ValueError(f"cell names must be unique: {c.name!r} repeats at index {i}")
            seen.add(c.name)
        return cells

    def cross_field_error(self) -> SpecError | None:
        """Rules spanning several fields, reported at the field the user should change."""
        if self.postgres.durability_policy == "MULTI_CELL_AT_LEAST_2" and len(self.cells) < 2:
            return SpecError(
                "spec.postgres.durabilityPolicy",
                "durabilityPolicy MULTI_CELL_AT_LEAST_2 needs at least 2 cells",
            )
        pooler = self.multipooler
        if pooler.replicas_per_cell * len(self.cells) < 2:
            return SpecError("spec.multipooler.replicasPerCell", POOLER_COUNT_MESSAGE)
        if pooler.autoscaling.enabled and pooler.autoscaling.min_replicas * len(self.cells) < 2:
            return SpecError("spec.multipooler.autoscaling.minReplicas", POOLER_AUTOSCALING_MESSAGE)
        return None
