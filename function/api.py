"""The XMultigres API: pydantic models that are the single source of truth.

`apis/definition.yaml` is generated from these models (`make generate`); the
schema keywords and CEL rules attached here with `json_schema_extra` are what the
API server enforces, and the validators below enforce the same rules inside the
function, so `crossplane render` and a live cluster reject the same input.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel
from pydantic.config import JsonDict

from function import k8s
from function.defaults import spec as d
from function.defaults.upstream import DURABILITY_POLICIES, IMAGES, LOG_LEVELS
from function.quantity import QUANTITY_PATTERN, quantity

API_GROUP = "multigres.com"
API_VERSION = "v1alpha1"
KIND = "XMultigres"
INPUT_GROUP = "multigres.fn.crossplane.io"
INPUT_VERSION = "v1beta1"

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


class LocalObjectReference(Model):
    name: str = Field(min_length=1, max_length=253)


class SecretKeyRef(Model):
    name: str = Field(
        min_length=1,
        max_length=253,
        description="Secret in the XR's namespace holding the postgres superuser password.",
    )
    key: str = Field(default="password", min_length=1, max_length=253)


class Images(Model):
    multigres: str = Field(
        default=IMAGES["multigres"],
        min_length=1,
        description="Image with multigateway, multiorch, multipooler and the multigres CLI.",
        json_schema_extra=NO_SCHEMA_DEFAULT,
    )
    pgctld: str = Field(
        default=IMAGES["pgctld"],
        min_length=1,
        description="Image with Postgres and pgctld.",
        json_schema_extra=NO_SCHEMA_DEFAULT,
    )
    etcd: str = Field(
        default=IMAGES["etcd"],
        min_length=1,
        description="etcd image for the topology store.",
        json_schema_extra=NO_SCHEMA_DEFAULT,
    )
    pull_policy: Literal["Always", "IfNotPresent", "Never"] = Field(
        default="IfNotPresent", json_schema_extra=NO_SCHEMA_DEFAULT
    )
    pull_secrets: list[LocalObjectReference] = Field(
        default_factory=list, max_length=16, json_schema_extra=NO_SCHEMA_DEFAULT
    )


class Resources(Model):
    """Container resources; `requests` and `limits` each replace the default whole."""

    requests: dict[ResourceName, Quantity] = Field(default_factory=dict)
    limits: dict[ResourceName, Quantity] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _requests_within_limits(self) -> Resources:
        for name, limit in self.limits.items():
            request = self.requests.get(name)
            if request is not None and quantity(request) > quantity(limit):
                raise ValueError(
                    f"requests.{name} ({request}) must not exceed limits.{name} ({limit})"
                )
        return self


def _resources(component: str) -> Any:
    return Field(
        default_factory=lambda: Resources.model_validate(d.RESOURCES[component]),
        json_schema_extra=NO_SCHEMA_DEFAULT,
    )


class Scheduling(Model):
    """Pod placement. A component's own `scheduling` replaces the top-level one field by field."""

    node_selector: dict[LabelKey, LabelValue] | None = None
    tolerations: list[dict[str, Any]] | None = Field(
        default=None, json_schema_extra={"items": {"x-kubernetes-preserve-unknown-fields": True}}
    )
    affinity: dict[str, Any] | None = Field(
        default=None,
        description="A core/v1 Affinity. Replaces the default soft anti-affinity by hostname.",
        json_schema_extra={"x-kubernetes-preserve-unknown-fields": True},
    )
    topology_spread_constraints: list[dict[str, Any]] | None = Field(
        default=None, json_schema_extra={"items": {"x-kubernetes-preserve-unknown-fields": True}}
    )
    priority_class_name: str | None = Field(
        default=None, max_length=253, pattern=k8s.DNS_SUBDOMAIN_PATTERN
    )


class Storage(Model):
    size: StorageSize
    storage_class_name: str | None = Field(default=None, max_length=253)


def _storage(size: str) -> Any:
    return Field(default_factory=lambda: Storage(size=size))


AccessMode = Literal["ReadWriteOnce", "ReadWriteMany", "ReadOnlyMany", "ReadWriteOncePod"]


def _rwo() -> list[AccessMode]:
    return ["ReadWriteOnce"]


class BackupStorage(Model):
    size: StorageSize = d.BACKUP_STORAGE
    storage_class_name: str | None = Field(default=None, max_length=253)
    access_modes: list[AccessMode] = Field(
        default_factory=_rwo,
        min_length=1,
        max_length=4,
        description="ReadWriteOnce (default) works when all poolers share a node; "
        "use ReadWriteMany storage (or existingClaim) when they spread across nodes.",
    )


_MIN_LE_MAX: JsonDict = {
    "x-kubernetes-validations": [
        {
            "rule": "!has(self.minReplicas) || !has(self.maxReplicas) || "
            "self.minReplicas <= self.maxReplicas",
            "message": "minReplicas must be less than or equal to maxReplicas",
        }
    ]
}


class Autoscaling(Model):
    model_config = ConfigDict(json_schema_extra=_MIN_LE_MAX)

    enabled: bool = False
    min_replicas: int = Field(default=1, ge=1, le=128)
    max_replicas: int = Field(default=4, ge=1, le=128)
    target_cpu_utilization_percentage: int = Field(
        default=d.AUTOSCALING_TARGET_CPU,
        ge=1,
        le=100,
        alias="targetCPUUtilizationPercentage",
        description="Average CPU utilisation (percent of requests) the autoscaler aims for.",
    )

    @model_validator(mode="after")
    def _min_le_max(self) -> Autoscaling:
        if self.min_replicas > self.max_replicas:
            raise ValueError("minReplicas must be less than or equal to maxReplicas")
        return self


class PoolerAutoscaling(Autoscaling):
    min_replicas: int = Field(default=2, ge=1, le=32)
    max_replicas: int = Field(default=4, ge=1, le=32)


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
    storage: Storage = _storage(d.ETCD_STORAGE)
    resources: Resources = _resources("etcd")
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


class Multigateway(Model):
    replicas: int = Field(
        default=d.GATEWAY_REPLICAS,
        ge=1,
        le=128,
        description="Per cell. At least 1: the gateways are the cluster's only endpoint.",
    )
    resources: Resources = _resources("multigateway")
    service: GatewayService = Field(default_factory=GatewayService)
    autoscaling: Autoscaling = Field(default_factory=Autoscaling)
    scheduling: Scheduling | None = None


class Multiorch(Model):
    replicas: int = Field(
        default=d.ORCH_REPLICAS,
        ge=1,
        le=16,
        description="Per cell. At least 1: without multiorch nothing bootstraps or fails over.",
    )
    resources: Resources = _resources("multiorch")
    autoscaling: Autoscaling = Field(default_factory=Autoscaling)
    scheduling: Scheduling | None = None


class PoolerResources(Model):
    multipooler: Resources = _resources("multipooler")
    postgres: Resources = _resources("postgres")


class Multipooler(Model):
    replicas_per_cell: int = Field(
        default=d.POOLER_REPLICAS_PER_CELL, ge=1, le=32, description="Postgres instances per cell."
    )
    storage: Storage = _storage(d.POOLER_STORAGE)
    resources: PoolerResources = Field(
        default_factory=PoolerResources, json_schema_extra=NO_SCHEMA_DEFAULT
    )
    autoscaling: PoolerAutoscaling = Field(
        default_factory=PoolerAutoscaling,
        description="Opt-in. Scale-down removes the highest ordinal, which may be the primary.",
    )
    scheduling: Scheduling | None = None


class Postgres(Model):
    password_secret_ref: SecretKeyRef
    durability_policy: Literal[DURABILITY_POLICIES] = "AT_LEAST_2"  # type: ignore[valid-type]
    initdb_args: str = Field(default="", max_length=1024)


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


# --- Function input (Composition-level defaults) -------------------------------------


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


class Input(Model):
    """Function input: organisation defaults that sit between built-ins and the XR."""

    api_version: Literal[f"{INPUT_GROUP}/{INPUT_VERSION}"] = Field(  # type: ignore[valid-type]
        default=f"{INPUT_GROUP}/{INPUT_VERSION}", alias="apiVersion"
    )
    kind: Literal["Input"] = "Input"
    metadata: dict[str, Any] | None = Field(default=None, json_schema_extra={"x-fn-skip": True})
    defaults: InputDefaults = Field(default_factory=InputDefaults)


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


# --- Status (written by the function; part of the generated XRD) ---------------------


class ReplicaStatus(Model):
    replicas: int = 0
    ready_replicas: int = 0
    ready: bool = False


class CellStatus(Model):
    multigateway: ReplicaStatus = Field(default_factory=ReplicaStatus)
    multiorch: ReplicaStatus = Field(default_factory=ReplicaStatus)
    multipooler: ReplicaStatus = Field(default_factory=ReplicaStatus)


class Endpoints(Model):
    postgres: str = Field(default="", description="host:port of the cluster's Postgres Service.")


class TopologyStatus(Model):
    registered: bool = False
    job: str = ""


class XMultigresStatus(Model):
    phase: Literal["Initializing", "Progressing", "Healthy", "Degraded"] = "Initializing"
    message: str = ""
    endpoints: Endpoints = Field(default_factory=Endpoints)
    etcd: ReplicaStatus = Field(default_factory=ReplicaStatus)
    topology: TopologyStatus = Field(default_factory=TopologyStatus)
    cells: dict[str, CellStatus] = Field(default_factory=dict)
    observed_generation: int = 0
