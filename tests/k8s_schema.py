"""kubernetes-validate's strict schemas with the validator built once per kind.

`kubernetes_validate.validate` re-reads the 2 MB definitions file on every call;
property tests validate thousands of objects, so they use this cached equivalent
(same schema files, same Draft 2020-12 validator, same registry).
"""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
from referencing import Registry, Resource

VERSION = "1.37.0"
_DIR = (
    Path(kubernetes_validate.__file__).parent
    / "kubernetes-json-schema"
    / f"v{VERSION}-local-strict"
)


@functools.cache
def _definitions() -> Resource[Any]:
    return Resource.from_contents(json.loads((_DIR / "_definitions.json").read_text()))


@functools.cache
def validator(kind: str, api_version: str) -> jsonschema.protocols.Validator:
    group_version = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    schema = json.loads((_DIR / f"{kind.lower()}-{group_version}.json").read_text())
    registry: Registry[Any] = Resource.from_contents(schema) @ Registry()
    registry = _definitions() @ registry
    return jsonschema.validators.Draft202012Validator(schema, registry=registry)


def validate(obj: dict[str, Any]) -> None:
    """Raise jsonschema.ValidationError if `obj` breaks its kind's strict schema."""
    validator(obj["kind"], obj["apiVersion"]).validate(obj)
