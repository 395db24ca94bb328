"""The validator daemon on the devnet: challenge randomness, restarts mid-check, and outages."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from eth_abi import encode as abi_encode
from eth_utils import keccak

import paris_validator.daemon as daemon_module
from paris_node.content.store import IpfsStore
from paris_node.learning.trace import challenged_segments
from paris_node.market.chain import Chain, ContractRevert, DeltaState, EventCursor
from paris_node.runtime.devnet import DevnetInfo, devnet_account
from paris_validator.cli import main as validator_main
from paris_validator.daemon import DeltaRecord, ValidatorDaemon, check_first

from helpers.chain import warp
from helpers.miners import Honest, Market, open_market
from helpers.processes import command, frozen
from helpers.wait import wait_for


@pytest.fixture
def market(devnet: DevnetInfo, tmp_path: Path) -> Market:
    return open_market(devnet, tmp_path, rounds=1)


def _validator(market: Market, work_dir: Path, timeout_s: float = 30.0) -> ValidatorDaemon:
    devnet = market.devnet
    return ValidatorDaemon(Chain(devnet.rpc_url, devnet.contract, devnet_account(4)),
                           IpfsStore(devnet.ipfs_api, timeout_s=timeout_s), work_dir, devnet.deploy_block,
                           jobs={market.job_id})


def _revealed(miner: Honest, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not miner.reveal(0):
        assert time.monotonic() < deadline, "the challenge never became ready"
        time.sleep(0.3)


def _scores(chain: Chain, delta_id: int) -> list[bool]:
    """The delta's opened votes."""
    return [e.args["pass"] for e in chain.events(EventCursor(0), {"VoteRevealed"})
            if e.args["deltaId"] == delta_id]


def _finish(validator: ValidatorDaemon, delta_id: int, timeout_s: float = 60.0) -> None:
    """Step the validator until it is done with the delta, moving the chain's clock through the vote phases."""
    deadline = time.monotonic() + timeout_s
    while True:
        validator.step()
        if validator.records[delta_id].stage == "done":
            return
        assert time.monotonic() < deadline, validator.records[delta_id].notes
        if validator.records[delta_id].stage != "pending":
            warp(validator.chain, validator.chain.vote_window // 2)


def test_checks_run_disputes_first_then_the_experts_furthest_behind_oldest_first() -> None:
    def record(name: int, expert: int, base_version: int, block: int, segments: int = 10) -> DeltaRecord:
        return DeltaRecord(name, 1, expert, base_version, "0xminer", "cid", "00", segments, (block, 0))

    records = [record(1, 0, 2, 10), record(2, 1, 0, 30), record(3, 0, 1, 5), record(4, 1, 0, 20),
               record(5, 0, 3, 40, segments=0)]
    assert [r.delta_id for r in sorted(records, key=check_first)] == [5, 4, 2, 3, 1]


def test_challenge_is_unknowable_at_submission_and_recomputable_off_chain(market: Market) -> None:
    miner = Honest(market, "seeded")
    delta_id = miner.submit(0)
    submitted = miner.chain.delta(delta_id).submitted_block
    with pytest.raises(ContractRevert) as raised:  # at submission the seed's block does not exist yet
        miner.chain.challenge_seed(delta_id, block=submitted)
    assert raised.value.error == "ChallengeNotFixed"
    _revealed(miner)
    delta = miner.chain.delta(delta_id)
    target = miner.chain.w3.eth.get_block(delta.submitted_block + 2)["mixHash"]  # its prevrandao
    seed = keccak(abi_encode(["bytes32", "uint256"], [target, delta_id]))
    assert miner.chain.challenge_seed(delta_id) == seed
    assert challenged_segments(seed, delta.segments, 1) == miner.chain.challenged_segments(delta_id)
    picked = challenged_segments(seed, 50, 7)
    assert picked[0] == 49 and len(set(picked)) == 8  # the last segment, then 7 distinct draws among the others
    assert challenged_segments(seed, 1, 7) == [0]


def test_a_validator_killed_mid_check_and_after_voting_finishes_once(market: Market, tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    miner = Honest(market, "restart")
    delta_id = miner.submit(0)
    _revealed(miner)
    work_dir = tmp_path / "validator"

    def killed(*_: object) -> None:
        raise SystemExit("killed during the replay")

    monkeypatch.setattr(daemon_module, "replay", killed)
    first = _validator(market, work_dir)
    first.ensure_stake()
    first.on_events(first.index.sync())  # events read, no check run: the delta and its reveal move here meanwhile
    record = first.records[delta_id]
    wait_for(lambda: first.cache.has(record.delta_cid) and first.cache.has(record.reveal_cid), 30,
             "the delta and its reveal in the validator's cache before its check")
    with pytest.raises(SystemExit):
        first.step()
    assert first.records[delta_id].stage == "pending"  # nothing decided, nothing sent
    assert _scores(first.chain, delta_id) == []
    monkeypatch.undo()

    second = _validator(market, work_dir)  # a new process on the same work dir
    real_commit = second.chain.commit_vote

    def vote_then_die(*args: object) -> None:
        real_commit(*args)  # type: ignore[arg-type]
        raise SystemExit("killed after the vote was mined, before it was recorded")

    second.chain.commit_vote = vote_then_die  # type: ignore[method-assign]
    with pytest.raises(SystemExit):
        second.step()
    assert second.records[delta_id].stage == "decided"

    third = _validator(market, work_dir)  # opens the sealed vote with the salt derived again, not kept
    _finish(third, delta_id)
    assert third.records[delta_id].passed and third.records[delta_id].outcome == "passed"
    assert _scores(third.chain, delta_id) == [True]  # one vote, not two
    assert third.chain.delta(delta_id).state == DeltaState.PASSED

    status = command(validator_main, "status", str(work_dir))
    assert f"{delta_id:#x}" in status.stdout and "pass" in status.stdout, status.stdout + status.stderr


def test_an_ipfs_outage_is_recorded_and_never_passed(market: Market, tmp_path: Path) -> None:
    miner = Honest(market, "outage")
    delta_id = miner.submit(0)
    _revealed(miner)
    validator = _validator(market, tmp_path / "validator", timeout_s=2.0)
    with frozen(market.devnet.pids["ipfs"]):
        validator.step()
    record = validator.records[delta_id]
    assert record.stage == "pending" and "no answer from IPFS" in record.notes[-1]
    assert _scores(validator.chain, delta_id) == []
    _finish(validator, delta_id)
    assert validator.records[delta_id].passed


def test_a_slow_miner_still_reveals_after_the_seed_block_ages_out(devnet: DevnetInfo, tmp_path: Path) -> None:
    market = open_market(devnet, tmp_path, rounds=1, reveal_window_s=3600)
    miner = Honest(market, "slow")
    delta_id = miner.submit(0)
    validator = _validator(market, tmp_path / "validator")

    def mine(blocks: int) -> None:
        miner.chain.w3.provider.make_request("anvil_mine", [hex(blocks)])

    mine(daemon_module.FIX_SEED_AFTER_BLOCKS + 5)
    validator.step()  # the delta is still unrevealed half-way through its seed's 256 blocks
    assert miner.chain.challenge_fixed(delta_id)
    assert any("recorded the challenge seed" in note for note in validator.records[delta_id].notes)
    mine(300)  # blockhash() of the seed block is gone now; without the recorded seed, reveal would revert
    assert miner.reveal(0) and miner.chain.delta(delta_id).revealed
    _finish(validator, delta_id)
    assert validator.records[delta_id].passed and miner.chain.delta(delta_id).state == DeltaState.PASSED
