"""A miner reads a job's terms before it works on it: too little reward or too short a reveal window, and it
says why it skips the job."""

from __future__ import annotations

from paris_node.market.chain import Job
from paris_node.roles.miner_daemon import Terms


def _job(reward_per_round: int, experts: int = 2, reveal_window: int = 600) -> Job:
    return Job(requester="0x" + "01" * 20, experts=experts, rounds=3, staleness_bound=1, quorum=1, challenges=1,
               closed=False, aggregator="0x" + "02" * 20, deadline=10**10, reveal_window=reveal_window, spec_codec=0x55,
               escrow=3 * reward_per_round, reward_per_round=reward_per_round, validator_fee=0, fee_pool=0,
               spec_digest=bytes(32))


def test_the_default_terms_take_any_reward_and_a_reveal_window_of_two_minutes() -> None:
    assert Terms().refusal(_job(0, reveal_window=120)) is None
    assert "shorter than the 120s" in (Terms().refusal(_job(10**18, reveal_window=119)) or "")


def test_a_job_paying_less_per_expert_round_than_the_minimum_is_refused_with_the_figures() -> None:
    terms = Terms(min_reward_wei=10**17)
    assert terms.refusal(_job(2 * 10**17, experts=2)) is None  # 0.1 ETH per expert and round: enough
    why = terms.refusal(_job(2 * 10**17, experts=4))
    assert why == "it pays 50000000000000000 wei per expert round, below this miner's minimum of 100000000000000000"
