"""Polling, and stepping daemons run in the test's process, with a timeout that names what was awaited."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Protocol


def wait_for(condition: Callable[[], object], timeout_s: float = 15.0, what: str = "condition",
             poll_s: float = 0.05) -> None:
    """Poll `condition` until it is true, or fail naming `what` was awaited."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(poll_s)
    raise AssertionError(f"timed out waiting for {what}")


class Stepper(Protocol):
    def step(self) -> object: ...


def step_until(condition: Callable[[], object], steppers: Iterable[Stepper], what: str, timeout_s: float = 120.0,
               poll_s: float = 0.2) -> None:
    """Step each of `steppers` (daemons run in this process, a pacer) in turn until `condition` is true, or fail
    naming `what` was awaited."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        for stepper in steppers:
            stepper.step()
        time.sleep(poll_s)
