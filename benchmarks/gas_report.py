"""Gas per market call, measured from real transaction receipts on a local devnet, against the goals:
submitDelta <= 90k, finalize <= 120k + 15k per merged delta, withdraw <= 40k.

finalize is measured merging 1, 2, 4 and 7 deltas (one round each); its fixed and per-delta parts are the
intercept and slope through the 1- and 7-delta points.

    .venv/bin/python benchmarks/gas_report.py
"""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path

from multiformats import CID

from paris_node.market.chain import ROLE_MINER, ROLE_VALIDATOR, Chain, JobTerms, cid_to_chain
from paris_node.runtime.devnet import Devnet, devnet_account

ETH = 10**18
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

    def send(chain: Chain, label: str, fn: str, *args: object, value: int = 0) -> dict:
        receipt = chain.transact(fn, *args, value=value)
        gas.setdefault(label, []).append(receipt["gasUsed"])
        return receipt

    now = requester.w3.eth.get_block("latest")["timestamp"]
    terms = JobTerms(spec=_cid("spec"), experts=1, rounds=len(MERGE_SIZES), reward_per_round_wei=ETH,
                     deadline=now + 86_400, aggregator=aggregator.account.address, validator_fee_wei=ETH // 1000,
                     quorum=1, challenges=2)
    receipt = send(requester, "createJob", "createJob", terms.as_tuple(), value=10 * ETH)
    job_id = requester._log_event(receipt, "JobCreated").args["jobId"]
    send(validator, "stake", "stake", ROLE_VALIDATOR, value=ETH)
    for index in MINERS:  # the minimum stake backs one unsettled delta: one per round, claimed at the end
        send(chains[index], "stake", "stake", ROLE_MINER, value=len(MERGE_SIZES) * ETH)

    finalize_gas = {}
    merged: list[int] = []
    for version, size in enumerate(MERGE_SIZES):
        ids = []
        for index in MINERS[:size]:
            miner = chains[index]
            digest, codec = cid_to_chain(_cid(f"delta-{version}-{index}"))
            send(miner, "submitDelta", "submitDelta", job_id, 0, version, digest, codec, b"\x01" * 32, 8)
            ids.append(miner.delta_id_of(job_id, 0, version, miner.account.address))
        requester.w3.provider.make_request("anvil_mine", [3])
        for index, delta_id in zip(MINERS[:size], ids, strict=True):
            digest, codec = cid_to_chain(_cid(f"reveal-{delta_id}"))
            send(chains[index], "reveal", "reveal", delta_id, digest, codec)
            send(validator, "submitScore", "submitScore", delta_id, True, 5000)
        digest, codec = cid_to_chain(_cid(f"ckpt-{version + 1}"))
        receipt = send(aggregator, f"finalize ({size})", "finalize", job_id, 0, version + 1, digest, codec, ids)
        finalize_gas[size] = receipt["gasUsed"]
        merged += ids
    send(requester, "claim (1 delta)", "claim", merged[:1])
    send(requester, "claim (7 deltas)", "claim", merged[-7:])
    send(validator, "collect (1 delta)", "collect", merged[:1])
    send(validator, "collect (7 deltas)", "collect", merged[-7:])
    for index in MINERS[:3]:
        send(chains[index], "withdraw", "withdraw")

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


if __name__ == "__main__":
    main()
