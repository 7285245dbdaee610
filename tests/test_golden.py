"""The complete RunFunction response for every example, compared whole with tests/golden/.

A change in anything the function answers (an object, a flag, a condition, a result, the
TTL, the requirements) fails here until `make golden` rewrites the files and the diff is
read and committed.
"""

from __future__ import annotations

import json

import pytest

from tests import goldens

CASES = goldens.cases()


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_response_matches_golden(case: goldens.Case) -> None:
    p = goldens.path(case)
    assert p.exists(), f"{p.name} missing: run `make golden`"
    want, got = p.read_text(), goldens.text(goldens.respond(case))
    assert got == want, "response differs (`make golden` to accept):\n" + goldens.diff(
        want, got, p.name
    )


def test_no_stale_or_missing_golden_files() -> None:
    """Drift: exactly one file per case, none left over from a removed example."""
    have = {p.name for p in goldens.GOLDEN.glob("*.json")}
    want = {goldens.path(c).name for c in CASES}
    assert have == want, f"extra: {sorted(have - want)}, missing: {sorted(want - have)}"


def test_cases_cover_every_example() -> None:
    kinds = {c.name.split("-")[0] for c in CASES}
    assert {"minimal", "observed", "invalid"} <= kinds
    assert sum(c.observed is not None for c in CASES) == len(
        list((goldens.EXAMPLES / "observed").glob("*.yaml"))
    )
    assert sum(c.name.startswith("invalid-") for c in CASES) == len(
        list((goldens.EXAMPLES / "invalid").glob("*.yaml"))
    )


def test_valid_goldens_compose_and_invalid_ones_are_one_fatal() -> None:
    """The files themselves say what they should: a sanity check on what was accepted."""
    for c in CASES:
        rsp = json.loads(goldens.path(c).read_text())
        severities = [r.get("severity") for r in rsp.get("results", [])]
        if c.name.startswith("invalid-"):
            assert severities == ["SEVERITY_FATAL"], c.name
            assert not rsp["desired"], c.name
        else:
            assert "SEVERITY_FATAL" not in severities, c.name
            assert len(rsp["desired"]["resources"]) >= 10, c.name


def test_a_changed_response_is_caught() -> None:
    """The comparison bites: one changed flag in one object is a difference."""
    case = next(c for c in CASES if c.name == "minimal")
    rsp = goldens.respond(case)
    sts = rsp.desired.resources["zone1-pooler-statefulset"].resource
    pooler = sts["spec"]["template"]["spec"]["containers"][1]
    assert pooler["name"] == "multipooler"
    del pooler["args"][0]
    assert goldens.text(rsp) != goldens.path(case).read_text()
