"""Polling with a timeout that names what was awaited."""

from __future__ import annotations

import time
from collections.abc import Callable


def wait_for(condition: Callable[[], object], timeout_s: float = 15.0, what: str = "condition",
             poll_s: float = 0.05) -> None:
    """Poll `condition` until it is true, or fail naming `what` was awaited."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(poll_s)
    raise AssertionError(f"timed out waiting for {what}")
