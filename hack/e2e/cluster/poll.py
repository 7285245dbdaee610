"""The one polling loop of the e2e tier (cluster set-up and tests alike).

Every wait has a timeout and tells why it failed: `poll` returns how long it took or
raises `Timeout` carrying the last expected error, and the caller adds the logs that
explain its own failure (daemon logs for set-up, pod events and logs for tests).
"""

from __future__ import annotations

import time
from collections.abc import Callable


class Timeout(Exception):
    """`ok` never held within the timeout; `last` is the last error it raised, if any."""

    def __init__(self, what: str, timeout: float, last: Exception | None) -> None:
        super().__init__(f"timed out after {timeout:.0f}s waiting for {what} (last error: {last})")
        self.last = last


def poll(
    what: str,
    ok: Callable[[], bool],
    timeout: float,
    interval: float,
    expected: tuple[type[Exception], ...] = (),
    check: Callable[[], None] | None = None,
) -> float:
    """Call `ok` every `interval` s until it is true; return the seconds it took.

    Errors of the `expected` types count as "not yet" (the last is reported on timeout);
    `check` runs between attempts and may raise to end the wait early (a daemon died).
    """
    t0 = time.monotonic()
    last: Exception | None = None
    while time.monotonic() - t0 < timeout:
        try:
            if ok():
                return time.monotonic() - t0
        except expected as e:
            last = e
        if check is not None:
            check()
        time.sleep(interval)
    raise Timeout(what, timeout, last)
