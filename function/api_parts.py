"""Building blocks of the XMultigres spec: images, resources, scheduling, storage, autoscaling."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict, Field, model_validator
from pydantic.config import JsonDict

from function import k8s
from function.api_types import (
    NO_SCHEMA_DEFAULT,
    LabelKey,
    LabelValue,
    Model,
    Quantity,
    ResourceName,
    StorageSize,
)
from function.defaults import spec as d
from function.defaults.upstream import IMAGES
from function.quantity import quantity


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


def resources_field(component: str) -> Any:
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


def storage_field(size: str) -> Any:
    return Field(default_factory=lambda: Storage(size=size))


AccessMode = Literal["ReadWriteOnce", "ReadWriteMany", "ReadOnlyMany", "ReadWriteOncePod"]


def _backup_modes() -> list[AccessMode]:
    return list(d.BACKUP_ACCESS_MODES)


class BackupStorage(Model):
    size: StorageSize = d.BACKUP_STORAGE
    storage_class_name: str | None = Field(default=None, max_length=253)
    access_modes: list[AccessMode] = Field(
        default_factory=_backup_modes,
        min_length=1,
        max_length=4,
        description="ReadWriteMany (default): every pooler, on any node, mounts the one "
        "backup repository standbys are restored from, so the StorageClass must support it "
        "(the claim stays Pending otherwise and the XR says so). ReadWriteOnce only works "
        "when every pooler runs on one node.",
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


DURATION_PATTERN = r"^([0-9]+(ms|s|m))+$"


def _duration(key: str, what: str) -> Any:
    return Field(
        default=d.MULTIORCH_TIMING[key],
        max_length=16,
        pattern=DURATION_PATTERN,
        description=f"{what} (a Go duration such as 2s or 1500ms).",
    )


class MultiorchTiming(Model):
    """multiorch's failover timing flags; defaults and reasons in docs/operations.md."""

    grace_period_base: str = _duration(
        "grace_period_base", "Wait before acting on a lost or unhealthy primary"
    )
    grace_period_max_jitter: str | None = Field(
        default=None,
        max_length=16,
        pattern=DURATION_PATTERN,
        description="Up to this much random extra wait, so the orchestrators of several cells "
        f"do not race (a Go duration). Unset: {d.MULTIORCH_JITTER_ALONE} when one orchestrator "
        f"watches the shard (one cell, one replica, no autoscaling), "
        f"{d.MULTIORCH_JITTER_SEVERAL} otherwise.",
    )
    pooler_health_check_interval: str = _duration(
        "pooler_health_check_interval", "How often each pooler's health is polled"
    )
    recovery_cycle_interval: str = _duration(
        "recovery_cycle_interval", "How often detected problems are re-evaluated"
    )


class IssuerRef(Model):
    name: str = Field(min_length=1, max_length=253)
    kind: Literal["Issuer", "ClusterIssuer"] = "Issuer"
    group: str = Field(default="cert-manager.io", max_length=253)


class PgBackRestTLS(Model):
    issuer_ref: IssuerRef | None = Field(
        default=None,
        description="Have cert-manager issue the pgBackRest CA (a Certificate with isCA) from "
        "this issuer instead of the composed one-shot Job. Each pooler signs its own "
        "certificate with that CA at start (its pod IP and DNS name).",
    )
