"""The one check of a job setting: a value of the right kind within its bounds, or a `SettingError` naming the
setting. `JobRequest` (the SDK and the `paris` CLI), `JobSpec` (what every daemon reads) and `JobTerms` (what
the contract takes) all check their fields with it, so a bad setting is refused before anything is uploaded or
escrowed, and a daemon refuses a job whose spec holds one instead of failing on it mid-round."""

from __future__ import annotations

import math
from collections.abc import Collection

# the largest value of each unsigned type the contract's fields use
UINT8, UINT16, UINT24, UINT32, UINT40, UINT64, UINT96 = (2**bits - 1 for bits in (8, 16, 24, 32, 40, 64, 96))


class SettingError(ValueError):
    """A job setting that cannot be used: `setting` names it, `value` is what was given."""

    def __init__(self, setting: str, value: object, problem: str) -> None:
        super().__init__(f"{setting} {value!r}: {problem}")
        self.setting, self.value, self.problem = setting, value, problem


def check(setting: str, value: object, low: float | None = None, high: float | None = None, *,
          integer: bool = True, above: bool = False, below: bool = False) -> None:
    """Refuse `value` unless it is an integer (a finite number when not `integer`) in [low, high]; `above` and
    `below` make the bound at that end exclusive."""
    if isinstance(value, bool) or not isinstance(value, int if integer else (int, float)):
        raise SettingError(setting, value, "must be a whole number" if integer else "must be a number")
    if not math.isfinite(value):
        raise SettingError(setting, value, "must be a finite number")
    if low is not None and (value <= low if above else value < low):
        raise SettingError(setting, value, f"must be {'above' if above else 'at least'} {low:g}")
    if high is not None and (value >= high if below else value > high):
        raise SettingError(setting, value, f"must be {'below' if below else 'at most'} {high:g}")


def check_choice(setting: str, value: object, choices: Collection[str]) -> None:
    """Refuse `value` unless it is one of `choices`."""
    if value not in choices:
        raise SettingError(setting, value, f"must be one of {', '.join(choices)}")
