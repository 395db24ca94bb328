"""Work routing: a job's experts dealt out over the live miners, the same deal whoever computes it, and an
expert whose miner stopped picked up by the others."""

from __future__ import annotations

from paris_node.roles.miner_daemon import mergeable
from paris_node.roles.routing import dealt, worth

MINERS = [f"0x{n:040x}" for n in range(1, 6)]


def deals(job_id: int, experts: int, miners: list[str]) -> dict[str, set[int]]:
    """What each miner takes when it hears every other one."""
    return {m: dealt(job_id, experts, m, [o for o in miners if o != m]) for m in miners}


def test_three_miners_on_two_experts_cover_both_and_two_cover_three_disjointly() -> None:
    for job_id in range(1, 20):
        three = deals(job_id, 2, MINERS[:3])
        assert all(len(e) == 1 for e in three.values()) and set().union(*three.values()) == {0, 1}
        two = deals(job_id, 3, MINERS[:2])
        first, second = two.values()
        assert first | second == {0, 1, 2} and not first & second
    spread = {frozenset(deals(job_id, 2, MINERS[:3])[MINERS[0]]) for job_id in range(1, 20)}
    assert spread == {frozenset({0}), frozenset({1})}  # who takes which differs from job to job


def test_a_miner_alone_takes_every_expert_and_a_stopped_miners_expert_is_picked_up() -> None:
    assert dealt(7, 4, MINERS[0], []) == {0, 1, 2, 3}
    for job_id in range(1, 20):
        before = deals(job_id, 2, MINERS[:3])
        lone = next(m for m, e in before.items() if list(before.values()).count(e) == 1)
        after = deals(job_id, 2, [m for m in MINERS[:3] if m != lone])
        assert set().union(*after.values()) == {0, 1}
    assert dealt(3, 2, MINERS[0].upper(), [MINERS[1]]) == dealt(3, 2, MINERS[0], [MINERS[1].upper()])


def test_a_delta_is_worth_its_reward_shared_with_the_miners_on_it_over_its_training_time() -> None:
    assert worth(10**18, 0, 100.0) > worth(10**18 // 2, 0, 100.0)  # a better paying job
    assert worth(10**18, 0, 100.0) > worth(10**18, 1, 100.0)  # an expert nobody else trains
    assert worth(10**18, 0, 50.0) > worth(10**18, 0, 100.0)  # a job this miner trains faster
    assert worth(3 * 10**18, 2, 100.0) == worth(10**18, 0, 100.0)  # a reward shared three ways


def test_a_delta_can_be_merged_while_its_expert_has_rounds_left_and_it_is_within_the_staleness_bound() -> None:
    assert mergeable(2, 2, rounds=3, staleness_bound=1) and mergeable(1, 2, rounds=3, staleness_bound=1)
    assert not mergeable(0, 2, rounds=3, staleness_bound=1)  # two merges stale
    assert not mergeable(2, 3, rounds=3, staleness_bound=1)  # the expert finished
