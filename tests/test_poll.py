"""The e2e tier's one polling loop: it ends, it says why, and it stops early when told."""

from __future__ import annotations

import pytest

from hack.e2e.cluster.poll import Timeout, poll


def test_returns_once_ok_holds() -> None:
    calls = iter([False, False, True])
    assert poll("third time", lambda: next(calls), 5, 0.01) < 1


def test_times_out_with_the_last_expected_error() -> None:
    def ok() -> bool:
        raise ValueError("not yet")

    with pytest.raises(Timeout, match=r"waiting for x \(last error: not yet\)") as e:
        poll("x", ok, 0.05, 0.01, (ValueError,))
    assert isinstance(e.value.last, ValueError)


def test_an_unexpected_error_is_not_swallowed() -> None:
    def ok() -> bool:
        raise KeyError("bug")

    with pytest.raises(KeyError):
        poll("x", ok, 5, 0.01, (ValueError,))


def test_check_ends_the_wait_early() -> None:
    def died() -> None:
        raise RuntimeError("daemon exited")

    with pytest.raises(RuntimeError, match="daemon exited"):
        poll("x", lambda: False, 5, 0.01, (), died)
