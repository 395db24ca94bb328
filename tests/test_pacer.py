"""The test pacer's one decision: how far the chain's clock may jump, given the windows it reads off the chain."""

from __future__ import annotations

from helpers.pacer import DEADLINE_MARGIN_S, Window, jump_target

W = 60  # a vote window


def phases(revealed_at: int, sealed: bool, opened: bool = False, decided: bool = False) -> list[Window]:
    """A revealed delta's commit, reveal and trap phases, as the pacer builds them."""
    return [Window(revealed_at, revealed_at + W, sealed), Window(revealed_at + W + 1, revealed_at + 2 * W, opened),
            Window(revealed_at + 2 * W + 1, revealed_at + 3 * W, decided)]


def test_no_jump_while_a_vote_is_due_in_an_open_phase_however_close_its_end() -> None:
    # a sealed at 1000, b revealed 5 s later and not checked yet: jumping to a's commit end would leave b 4 s
    windows = phases(1000, sealed=True) + phases(1005, sealed=False)
    assert jump_target(windows, now=1020, most=W) is None
    sealed = phases(1000, sealed=True) + phases(1005, sealed=True)
    assert jump_target(sealed, now=1020, most=W) == 1000 + W + 1  # into a's reveal phase: b's commit has no vote due


def test_a_jump_lands_at_the_start_of_a_phase_that_waits_and_never_inside_it() -> None:
    windows = phases(1000, sealed=True)  # the votes can only be opened in the reveal phase: it is entered, not skipped
    assert jump_target(windows, now=1010, most=W) == 1000 + W + 1
    assert jump_target(windows, now=1000 + W + 1, most=W) is None


def test_a_jump_goes_at_most_its_cap_ahead_and_never_near_a_deadline() -> None:
    done = phases(1000, sealed=True, opened=True, decided=True)
    assert jump_target(done, now=1010, most=W // 2) == 1010 + W // 2
    assert jump_target(done, now=1010, most=10 * W) == 1000 + 3 * W + 1
    deadline = Window(1010, 1200, False, deadline=True)  # the trap window's end is within its margin
    assert jump_target([*done, deadline], now=1010, most=10 * W) == 1000 + 2 * W + 1
    assert 1000 + 3 * W + 1 > 1200 - DEADLINE_MARGIN_S >= 1000 + 2 * W + 1


def test_an_unrevealed_delta_or_a_fresh_merge_holds_the_clock() -> None:
    done = phases(1000, sealed=True, opened=True, decided=True)
    assert jump_target([*done, Window(1005, 1605, False)], now=1010, most=W) is None  # its miner still reveals
    assert jump_target([*done, Window(1008, 1008 + W, False)], now=1010, most=W) is None  # a merge not yet audited
    assert jump_target([*done, Window(1008, 1008 + W, True)], now=1010, most=10 * W) == 1000 + 3 * W + 1
