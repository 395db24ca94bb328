"""Gas per market call, measured from real transaction receipts on a local devnet, against the goals:
submitDelta <= 90k, finalize <= 120k + 15k per merged delta, withdraw <= 40k. The court's calls (sealed votes,
decisions, traps, slashing a wrong voter) run through the market's fallback by delegatecall, and are listed too.

finalize is measured merging 1, 2, 4 and 7 deltas (one round each); its fixed and per-delta parts are the
intercept and slope through the 1- and 7-delta points.

    .venv/bin/python benchmarks/gas_report.py
"""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path

from eth_account import Account
from multiformats import CID

from paris_node.market.chain import (ROLE_AGGREGATOR, ROLE_MINER, ROLE_VALIDATOR, Chain, JobTerms, cid_to_chain,
                                     trap_commitment, vote_commitment)
from paris_node.runtime.devnet import Devnet, devnet_account

ETH = 10**18
SALT = b"\x5a" * 32
MINERS = (0, 1, 5, 6, 7, 8, 9)
MERGE_SIZES = (1, 2, 4, 7)


def _cid(label: str) -> CID:
    return CID("base32", 1, "raw", ("sha2-256", hashlib.sha256(label.encode()).digest()))


def main() -> None:
    with tempfile.TemporaryDirectory() as scratch:
        devnet = Devnet(Path(scratch))
        info = devnet.start()
        try:
            measure(info.rpc_url, info.contract)
        finally:
            devnet.stop()


def measure(rpc_url: str, contract: str) -> None:
    chains = {i: Chain(rpc_url, contract, devnet_account(i)) for i in range(10)}
    requester, aggregator, validator = chains[1], chains[2], chains[3]
    gas: dict[str, list[int]] = {}
    window = requester.vote_window

    def send(chain: Chain, label: str, fn: str, *args: object, value: int = 0) -> dict:
        receipt = chain.transact(fn, *args, value=value)
        gas.setdefault(label, []).append(receipt["gasUsed"])
        return receipt

    def fix(chain: Chain, delta_id: int) -> None:
        """fixChallenge with the header of the delta's challenge block (mined by then)."""
        send(chain, "fixChallenge", "fixChallenge", delta_id, chain.challenge_header(delta_id))

    def later(seconds: int) -> None:
        requester.w3.provider.make_request("evm_increaseTime", [seconds])
        requester.w3.provider.make_request("evm_mine", [])

    def vote(ballots: list[tuple[Chain, int, bool]]) -> None:
        """Seal, open and decide: the court's three steps, a vote window apart."""
        for chain, delta_id, passed in ballots:
            send(chain, "commitVote", "commitVote", delta_id,
                 vote_commitment(delta_id, chain.signer.address, passed, 5000, SALT))
        later(window + 1)
        for chain, delta_id, passed in ballots:
            send(chain, "revealVote", "revealVote", delta_id, passed, 5000, SALT)
        later(window + 1)
        for delta_id in dict.fromkeys(delta_id for _, delta_id, _ in ballots):
            send(requester, "decide", "decide", delta_id)

    now = requester.w3.eth.get_block("latest")["timestamp"]
    terms = JobTerms(spec=_cid("spec"), experts=1, rounds=len(MERGE_SIZES), reward_per_round_wei=ETH,
                     deadline=now + 86_400, aggregator=aggregator.account.address, validator_fee_wei=ETH // 1000,
                     quorum=1, challenges=2)
    receipt = send(requester, "createJob", "createJob", terms.as_tuple(), value=10 * ETH)
    job_id = requester._log_event(receipt, "JobCreated").args["jobId"]
    send(validator, "stake", "stake", ROLE_VALIDATOR, value=ETH)
    send(aggregator, "stake", "stake", ROLE_AGGREGATOR, value=ETH)
    for index in MINERS:  # the minimum stake backs one unsettled delta: one per round, claimed at the end
        send(chains[index], "stake", "stake", ROLE_MINER, value=len(MERGE_SIZES) * ETH)

    finalize_gas = {}
    merged: list[int] = []
    for version, size in enumerate(MERGE_SIZES):
        if version:
            later(window + 1)  # deltas on a merge wait until it is settled
        ids = []
        for index in MINERS[:size]:
            miner = chains[index]
            digest, codec = cid_to_chain(_cid(f"delta-{version}-{index}"))
            send(miner, "submitDelta", "submitDelta", job_id, 0, version, digest, codec, b"\x01" * 32, 8)
            ids.append(miner.delta_id_of(job_id, 0, version, miner.account.address))
        requester.w3.provider.make_request("anvil_mine", [3])
        for index, delta_id in zip(MINERS[:size], ids, strict=True):
            digest, codec = cid_to_chain(_cid(f"reveal-{delta_id}"))
            fix(chains[index], delta_id)
            send(chains[index], "reveal", "reveal", delta_id, digest, codec)
        vote([(validator, delta_id, True) for delta_id in ids])
        digest, codec = cid_to_chain(_cid(f"ckpt-{version + 1}"))
        receipt = send(aggregator, f"finalize ({size})", "finalize", job_id, 0, version + 1, digest, codec, ids, 0)
        finalize_gas[size] = receipt["gasUsed"]
        merged += ids
    receipt = send(requester, "disputeMerge", "disputeMerge", job_id, 0, value=ETH)  # upheld: the bond goes
    dispute_id = requester._log_event(receipt, "MergeDisputed").args["disputeId"]
    requester.w3.provider.make_request("anvil_mine", [3])
    fix(validator, dispute_id)
    vote([(validator, dispute_id, True)])
    send(requester, "resolveDispute", "resolveDispute", dispute_id, digest, codec, ids)
    send(requester, "claim (1 delta)", "claim", merged[:1])
    send(requester, "claim (7 deltas)", "claim", merged[-7:])
    later(window + 1)  # past the last merge's trap window
    send(validator, "collect (1 delta)", "collect", merged[:1])
    send(validator, "collect (7 deltas)", "collect", merged[-7:])
    for index in MINERS[:3]:
        send(chains[index], "withdraw", "withdraw")

    trap_and_lazy_voter(requester, validator, send, vote, later, fix)

    per_delta = (finalize_gas[7] - finalize_gas[1]) / 6
    fixed = finalize_gas[1] - per_delta
    goals = {
        "submitDelta": (max(gas["submitDelta"]), 90_000),
        "withdraw": (max(gas["withdraw"]), 40_000),
        "finalize fixed part": (round(fixed), 120_000),
        "finalize per merged delta": (round(per_delta), 15_000),
    }
    print("gas per call (transaction gasUsed, includes the 21k base and calldata):")
    for label, used in gas.items():
        shown = f"{min(used)}..{max(used)}" if min(used) != max(used) else str(used[0])
        print(f"  {label:22s} {shown:>15s}   ({len(used)} calls)")
    print("against the goals:")
    for label, (used, goal) in goals.items():
        verdict = "met" if used <= goal else "NOT met"
        print(f"  {label:26s} {used:>7d} / {goal:>7d}  = {used / goal:.2f}x  {verdict}")
    for size, used in finalize_gas.items():
        budget = 120_000 + 15_000 * size
        print(f"  finalize merging {size} delta(s) {used:>7d} / {budget:>7d}  = {used / budget:.2f}x")


def trap_and_lazy_voter(requester: Chain, validator: Chain, send, vote, later, fix) -> None:  # type: ignore[no-untyped-def]
    """A requester seals a trap and plants it from an account of its own; a lazy validator passes it unchecked
    (alone, so it passes); the requester exposes the trap and anyone slashes the lazy voter."""
    endpoint = requester.w3.provider.endpoint_uri  # type: ignore[attr-defined]
    trapper, lazy = (Chain(endpoint, requester.contract.address, Account.create()) for _ in range(2))
    for chain in (trapper, lazy):
        requester.w3.provider.make_request("anvil_setBalance", [chain.signer.address, hex(10 * ETH)])
    now = requester.w3.eth.get_block("latest")["timestamp"]
    terms = JobTerms(spec=_cid("trap job"), experts=1, rounds=1, reward_per_round_wei=ETH, deadline=now + 86_400,
                     aggregator=requester.signer.address, validator_fee_wei=ETH // 1000)
    job_id = requester._log_event(requester.transact("createJob", terms.as_tuple(), value=2 * ETH),
                                  "JobCreated").args["jobId"]
    trap_id = requester.delta_id_of(job_id, 0, 0, trapper.signer.address)
    send(requester, "commitTraps", "commitTraps", job_id, trap_commitment(job_id, [trap_id], SALT))
    send(trapper, "stake", "stake", ROLE_MINER, value=ETH)
    send(lazy, "stake", "stake", ROLE_VALIDATOR, value=ETH)
    digest, codec = cid_to_chain(_cid("trap delta"))
    send(trapper, "submitDelta", "submitDelta", job_id, 0, 0, digest, codec, b"\x02" * 32, 8)
    requester.w3.provider.make_request("anvil_mine", [3])
    fix(trapper, trap_id)
    send(trapper, "reveal", "reveal", trap_id, digest, codec)
    vote([(lazy, trap_id, True)])
    send(trapper, "exposeTrap", "exposeTrap", trap_id, [trap_id], SALT)
    later(requester.vote_window + 1)
    send(validator, "slashVoter", "slashVoter", trap_id, lazy.signer.address)
    assert requester.stake_of(lazy.signer.address).slashed


if __name__ == "__main__":
    main()
