"""The `spec.postgres` part of the API, with the parameter map and its schema rules.

The function checks every parameter against the pinned server's table (pgconf.py);
the XRD carries the checks the API server can make simply (CEL), so `kubectl apply`
refuses a cluster-owned or malformed name at once, before Crossplane calls the function.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic.config import JsonDict, JsonValue

from function.api_parts import SecretKeyRef
from function.api_types import Model
from function.defaults.pg_owned import OWNED
from function.defaults.upstream import DURABILITY_POLICIES

MAX_PARAMETERS = 128
MAX_VALUE_LENGTH = 1024
NAME_PATTERN = "^[a-z][a-z0-9_]*$"

# One rule per owned name: a map key lookup costs the same whatever the keys' length (a
# filter over the keys did not fit the API server's cost budget), and each message can
# give that parameter's reason.
_OWNED_RULES: list[JsonValue] = [
    {
        "rule": f"!('{name}' in self)",
        "message": f"{name} is owned by the cluster, can not be set: {why}",
    }
    for name, why in sorted(OWNED.items())
]

PARAMETERS_RULES: JsonDict = {
    "maxProperties": MAX_PARAMETERS,
    "additionalProperties": {
        "type": "string",
        "maxLength": MAX_VALUE_LENGTH,
        "pattern": "^[^\\n\\r]*$",
    },
    "x-kubernetes-validations": [
        {
            "rule": f"self.all(k, size(k) <= 63 && k.matches('{NAME_PATTERN}'))",
            "message": "parameter names are lower-case PostgreSQL names (letters, digits, "
            "underscores; at most 63): extension parameters are not accepted",
        },
        *_OWNED_RULES,
    ],
}


class Postgres(Model):
    password_secret_ref: SecretKeyRef
    durability_policy: Literal[DURABILITY_POLICIES] = "AT_LEAST_2"  # type: ignore[valid-type]
    initdb_args: str = Field(default="", max_length=1024)
    parameters: dict[str, str] = Field(
        default_factory=dict,
        description="postgresql.conf parameters (name -> value as a string, e.g. "
        "work_mem: '64MB'). Over the Composition input's and the sizing from "
        "multipooler.resources.postgres. Checked against PostgreSQL 17's own table; "
        "a restart parameter rolls the poolers, the rest are reloaded "
        "(docs/postgres-configuration.md).",
        json_schema_extra=PARAMETERS_RULES,
    )


class PostgresDefaults(Model):
    """Composition input: organisation-wide parameters, under each XR's own."""

    parameters: dict[str, str] | None = Field(default=None, json_schema_extra=PARAMETERS_RULES)
