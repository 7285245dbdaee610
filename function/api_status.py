"""The XMultigres status the function writes (part of the generated XRD)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from function.api_types import Model


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


class PostgresStatus(Model):
    sizing: str = Field(default="", description="What Postgres was sized from (or why not).")
    restart_hash: str = ""
    reload_hash: str = ""
    restart_parameters: dict[str, str] = Field(
        default_factory=dict,
        description="The restart (postmaster) parameters in effect on every pooler pod.",
    )


class XMultigresStatus(Model):
    phase: Literal["Initializing", "Progressing", "Healthy", "Degraded"] = "Initializing"
    message: str = ""
    endpoints: Endpoints = Field(default_factory=Endpoints)
    etcd: ReplicaStatus = Field(default_factory=ReplicaStatus)
    topology: TopologyStatus = Field(default_factory=TopologyStatus)
    cells: dict[str, CellStatus] = Field(default_factory=dict)
    postgres: PostgresStatus = Field(default_factory=PostgresStatus)
    observed_generation: int = 0
