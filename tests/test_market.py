"""The whole market on the devnet through paris_node.market.chain: a job, stakes, deltas, reveals, scores, a merge,
payouts and a slash, each checked by balances, state and events."""

from __future__ import annotations

import hashlib

import pytest
from eth_abi import encode
from eth_utils import keccak
from multiformats import CID

from paris_node.content.store import IpfsStore
from paris_node.market.chain import (ROLE_MINER, ROLE_VALIDATOR, Chain, ContractRevert, DeltaState, EventCursor,
                                     JobTerms, SlashReason, cid_to_chain)
from paris_node.roles.aggregator import bond_as_aggregator
from paris_node.runtime.devnet import DevnetInfo, devnet_account

from helpers.chain import SALT, funded_chain, settle, vote, warp

ETH = 10**18
FEE = ETH // 100


def _cid(label: str) -> CID:
    return CID("base32", 1, "raw", ("sha2-256", hashlib.sha256(label.encode()).digest()))


def _mine(chain: Chain, blocks: int) -> None:
    chain.w3.provider.make_request("anvil_mine", [blocks])


def _clients(devnet: DevnetInfo, *indices: int) -> list[Chain]:
    return [Chain(devnet.rpc_url, devnet.contract, devnet_account(i)) for i in indices]


def test_a_round_from_job_to_payouts_and_a_slash(devnet: DevnetInfo) -> None:
    requester, aggregator, validator1, validator2 = _clients(devnet, 1, 2, 3, 4)
    honest1, honest2, cheater = (funded_chain(devnet) for _ in range(3))  # accounts no other test has staked
    market = requester.contract.address
    balance = requester.w3.eth.get_balance
    cursor = EventCursor(requester.w3.eth.block_number + 1)

    now = requester.w3.eth.get_block("latest")["timestamp"]
    terms = JobTerms(spec=_cid("spec"), experts=2, rounds=2, reward_per_round_wei=2 * ETH, deadline=now + 86_400,
                     aggregator=aggregator.account.address, validator_fee_wei=FEE, reveal_window_s=600,
                     quorum=2, challenges=2)
    job_id = requester.create_job(terms, escrow_wei=5 * ETH)
    job = requester.job(job_id)
    assert (job.escrow, job.fee_pool, job.experts, job.aggregator) == (4 * ETH, ETH, 2, aggregator.account.address)

    for chain, role in ((validator1, ROLE_VALIDATOR), (validator2, ROLE_VALIDATOR), (honest1, ROLE_MINER),
                        (honest2, ROLE_MINER), (cheater, ROLE_MINER)):
        chain.stake(role, wei=ETH)
    assert honest1.stake_of(honest1.account.address).amount == ETH

    ids = [c.submit_delta(job_id, 0, 0, _cid(f"delta-{i}"), b"\x01" * 32, segments=8)
           for i, c in enumerate((honest1, honest2, cheater))]
    assert ids[0] == honest1.delta_id_of(job_id, 0, 0, honest1.account.address)
    with pytest.raises(ContractRevert, match="ChallengeNotFixed"):  # as of its submission (the devnet ticks on)
        honest1.challenge_seed(ids[0], block=honest1.delta(ids[0]).submitted_block)
    _mine(requester, 3)
    target = requester.w3.eth.get_block(honest1.delta(ids[0]).submitted_block + requester.challenge_delay)
    seed = validator1.fix_challenge(ids[0])  # anyone may, with the header of the challenge block
    assert seed == keccak(encode(["bytes32", "uint256"], [bytes(target["mixHash"]), ids[0]]))
    segments = honest1.challenged_segments(ids[0])
    assert segments[0] == 7 and len(set(segments)) == 3 and all(0 <= s < 8 for s in segments)  # the last, always
    with pytest.raises(ContractRevert, match="VoteBeforeReveal"):
        validator1.commit_vote(ids[2], False, 0, SALT)
    assert honest1.reveal(ids[0], _cid("reveal-0")) == honest1.challenge_seed(ids[0])
    honest2.reveal(ids[1], _cid("reveal-1"))
    cheater.reveal(ids[2], _cid("reveal-2"))

    vote([(validator, delta_id, passed, score) for validator in (validator1, validator2)
          for delta_id, passed, score in ((ids[0], True, 1500), (ids[1], True, 1000), (ids[2], False, 0))])
    assert [requester.delta(i).state for i in ids] == [DeltaState.PASSED, DeltaState.PASSED, DeltaState.FAILED]
    with pytest.raises(ContractRevert, match="NotSettled"):  # a trap could still turn the verdict
        validator1.collect(ids[:2])
    settle(requester, ids)
    assert validator1.collect(ids[:2]) == 2 * FEE  # votes that matched the verdict earn, from the fee pool
    assert requester.job(job_id).fee_pool == ETH - 2 * FEE

    with pytest.raises(ContractRevert, match=r"NotAggregator.*only the job's aggregator"):
        requester.finalize(job_id, 0, 1, _cid("ckpt-1"), ids[:2])
    bond_as_aggregator(aggregator)
    finalized = aggregator.finalize(job_id, 0, 1, _cid("ckpt-1"), ids[:2])
    assert finalized.args["mergedDeltaIds"] == ids[:2] and finalized.args["reward"] == ETH
    digest, codec = cid_to_chain(_cid("ckpt-1"))
    expected_record = keccak(encode(["bytes32", "uint32", "bytes32"],
                                    [digest, codec, keccak(encode(["uint256[]"], [ids[:2]]))]))
    assert aggregator.merge_record(job_id, 0, 1) == expected_record
    assert aggregator.version_of(job_id, 0) == 1
    assert [requester.delta(i).payout for i in ids[:2]] == [ETH * 3 // 5, ETH * 2 // 5]

    with pytest.raises(ContractRevert, match="MergeNotSettled"):  # the merge may still be disputed
        honest2.claim(ids[:2])
    warp(requester, requester.vote_window + 1)
    honest2.claim(ids[:2])
    held = balance(market)
    assert honest1.withdraw() == ETH * 3 // 5
    assert balance(market) == held - ETH * 3 // 5
    assert honest1.owed(honest1.account.address) == 0

    with IpfsStore(devnet.ipfs_api) as store:
        evidence = store.add(b'{"delta": "spot check failed at segment 3"}', name="evidence.json")
    escrow_before = requester.job(job_id).escrow
    slashed = validator1.slash(ids[2], SlashReason.FAILED_SPOT_CHECK, evidence)
    assert slashed.args["amount"] == ETH and slashed.args["miner"] == cheater.account.address
    assert requester.job(job_id).escrow == escrow_before + ETH // 2
    assert validator1.collect([ids[2]]) == FEE + ETH // 4  # the fail voters share the other half
    assert validator2.collect(ids) == 3 * FEE + ETH // 4
    assert cheater.stake_of(cheater.account.address).slashed
    with pytest.raises(ContractRevert, match=r"IsSlashed.*can no longer take part"):
        cheater.request_unbond()
    paid = validator1.withdraw()
    assert paid == 3 * FEE + ETH // 4

    names = [e.name for e in requester.events(cursor)]
    assert names[0] == "JobCreated"
    for name in ("Staked", "DeltaSubmitted", "Revealed", "VoteCommitted", "VoteRevealed", "DeltaDecided",
                 "ExpertFinalized", "DeltaPaid", "Withdrawn", "Slashed", "Collected"):
        assert name in names, name
    assert names.count("DeltaSubmitted") == 3 and names.count("DeltaPaid") == 2


def test_an_aggregator_that_leaves_out_a_passed_delta_or_merges_wrongly_loses_its_bond(devnet: DevnetInfo) -> None:
    requester, validator1, validator2 = _clients(devnet, 1, 3, 4)
    aggregator, successor, miner1, miner2, disputer = (funded_chain(devnet) for _ in range(5))
    now = requester.w3.eth.get_block("latest")["timestamp"]
    terms = JobTerms(spec=_cid("spec-bonded"), experts=1, rounds=2, reward_per_round_wei=2 * ETH,
                     deadline=now + 86_400, aggregator=aggregator.account.address, validator_fee_wei=FEE,
                     reveal_window_s=600, quorum=2, challenges=2)
    job_id = requester.create_job(terms, escrow_wei=5 * ETH)
    for chain in (validator1, validator2):  # as the first test staked them: more would shrink others' committees
        if not chain.stake_of(chain.account.address).roles & ROLE_VALIDATOR:
            chain.stake(ROLE_VALIDATOR, wei=ETH)
    for chain in (miner1, miner2):
        chain.stake(ROLE_MINER, wei=ETH)
    ids = [c.submit_delta(job_id, 0, 0, _cid(f"bonded-{i}"), b"\x01" * 32, segments=8)
           for i, c in enumerate((miner1, miner2))]
    _mine(requester, 3)
    for chain, delta_id in zip((miner1, miner2), ids, strict=True):
        chain.reveal(delta_id, _cid(f"bonded-reveal-{delta_id}"))
    vote([(validator, delta_id, True, 1000) for validator in (validator1, validator2) for delta_id in ids])
    with pytest.raises(ContractRevert, match="NotStaked"):  # unbonded, it cannot merge
        aggregator.finalize(job_id, 0, 1, _cid("ckpt-friend"), [ids[1]])
    bond_as_aggregator(aggregator)
    warp(requester, requester.vote_window + 1)  # both were decidable a whole window before the merge
    aggregator.finalize(job_id, 0, 1, _cid("ckpt-friend"), [ids[1]])  # a friend's delta takes the whole share

    reported = miner1.report_omission(ids[0], _cid("ckpt-friend"), [ids[1]])
    assert reported.args["reward"] == ETH // 2  # half the aggregator's bond; the rest burned
    assert requester.version_of(job_id, 0) == 0 and requester.delta(ids[1]).state == DeltaState.PASSED
    assert requester.stake_of(aggregator.account.address).slashed

    requester.set_aggregator(job_id, successor.account.address)
    bond_as_aggregator(successor)
    successor.finalize(job_id, 0, 1, _cid("ckpt-wrong"), ids)  # now complete, but a wrong checkpoint
    dispute_id = disputer.dispute_merge(job_id, 0, bond_wei=ETH)
    with pytest.raises(ContractRevert, match="MergeNotSettled"):
        miner1.claim(ids)
    _mine(requester, 3)
    validator1.fix_challenge(dispute_id)  # its committee is drawn from a later block's prevrandao, like a delta's
    vote([(validator, dispute_id, False, 0) for validator in (validator1, validator2)])  # they rebuilt another
    resolved = disputer.resolve_dispute(dispute_id, _cid("ckpt-wrong"), ids)
    assert resolved.args["paidTo"] == disputer.account.address
    assert resolved.args["amount"] == ETH + ETH // 2  # its bond back, half the successor's
    assert requester.version_of(job_id, 0) == 0
    assert [requester.delta(i).state for i in ids] == [DeltaState.PASSED] * 2  # to be merged again
    assert requester.stake_of(successor.account.address).slashed


def test_wrong_calls_come_back_as_actionable_errors(devnet: DevnetInfo) -> None:
    (outsider,) = _clients(devnet, 0)  # the deployer: never staked, owed nothing
    with pytest.raises(ContractRevert) as caught:
        outsider.submit_delta(987654, 0, 0, _cid("x"), b"\x00" * 32, segments=8)
    assert caught.value.error == "UnknownJob" and caught.value.arguments == {"jobId": 987654}
    assert "check the id and the contract address" in str(caught.value)
    with pytest.raises(ContractRevert, match=r"StakeTooSmall\(amount=1, minimum=1000000000000000000\)"):
        outsider.stake(ROLE_MINER, wei=1)
    with pytest.raises(ContractRevert, match="NothingOwed"):
        outsider.withdraw()
    with pytest.raises(ContractRevert, match="ZeroEscrow"):
        now = outsider.w3.eth.get_block("latest")["timestamp"]
        outsider.create_job(JobTerms(spec=_cid("s"), experts=1, rounds=1, reward_per_round_wei=0, deadline=now + 60,
                                     aggregator=outsider.account.address), escrow_wei=0)
