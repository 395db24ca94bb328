"""What one daemon pass costs in chain reads, before and after the market index, on a chain that holds
10,000 market events (jobs, stakes, delta submissions, top-ups), measured in one run on a local devnet.

The pass is what the aggregator of one 4-expert job does each second: find its jobs and, for every expert,
the checkpoint it is at and the deltas submitted to it. Before: each of those reads scanned the contract's
logs from the deploy block and filtered job ids in Python (`paris_node` up to the market index). After: one
`MarketIndex.sync` reads the blocks mined since the last pass, filtered by the node on topics, and the
lookups are answered from memory. Each pass is timed with 0, 1 and 100 new events on top of the history,
at three history sizes, so the table shows which of the two costs follows the chain's history.

    .venv/bin/python benchmarks/market_index.py [--events 10000]
"""

from __future__ import annotations

import hashlib
import itertools
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
from multiformats import CID

from paris_node.market.chain import LOG_RANGE, ROLE_MINER, Chain, Event, JobTerms, cid_from_chain, cid_to_chain
from paris_node.market.index import MarketIndex
from paris_node.runtime.devnet import Devnet, DevnetInfo, devnet_account

from arguments import benchmark_parser

ETH = 10**18
EXPERTS = 4
MINERS = 24
BATCH = 500  # JSON-RPC requests per HTTP batch while filling the chain


def _cid(label: str) -> CID:
    return CID("base32", 1, "raw", ("sha2-256", hashlib.sha256(label.encode()).digest()))


class Filler:
    """Sends market transactions from anvil's unlocked or impersonated accounts in JSON-RPC batches."""

    def __init__(self, info: DevnetInfo) -> None:
        self.chain = Chain(info.rpc_url, info.contract, devnet_account(1))
        self.url, self.pending, self.ids = info.rpc_url, [], itertools.count()
        self.requester = self.chain.account.address  # type: ignore[union-attr]
        self.miners = [f"0x{0xA11CE000 + i:040x}" for i in range(MINERS)]
        self.jobs: list[int] = []
        self.nonces: dict[str, int] = {}  # explicit per sender: anvil may run a batch's requests concurrently
        self.next_delta = iter(itertools.product(range(EXPERTS), self.miners))
        self._rpc("anvil_autoImpersonateAccount", [True])
        for miner in self.miners:
            self._rpc("anvil_setBalance", [miner, hex(10 * ETH)])
            self.send(miner, "stake", [ROLE_MINER], value=ETH)
        self.flush()

    def _rpc(self, method: str, params: list[Any]) -> Any:
        return httpx.post(self.url, json={"jsonrpc": "2.0", "id": 0, "method": method, "params": params}).json()

    def send(self, sender: str, fn: str, args: list[Any], value: int = 0) -> None:
        data = self.chain.contract.encode_abi(fn, args=args)
        if sender not in self.nonces:
            self.nonces[sender] = int(self._rpc("eth_getTransactionCount", [sender, "pending"])["result"], 16)
        tx = {"from": sender, "to": self.chain.contract.address, "data": data, "value": hex(value),
              "gas": hex(600_000), "nonce": hex(self.nonces[sender])}
        self.nonces[sender] += 1
        self.pending.append({"jsonrpc": "2.0", "id": next(self.ids), "method": "eth_sendTransaction", "params": [tx]})
        if len(self.pending) >= BATCH:
            self.flush()

    def flush(self) -> None:
        if self.pending:
            answers = httpx.post(self.url, json=self.pending, timeout=120).json()
            failed = [a for a in answers if "error" in a]
            if failed:
                raise RuntimeError(f"{len(failed)} filler transactions failed, e.g. {failed[0]['error']}")
            self.pending = []

    def new_job(self) -> int:
        now = self.chain.timestamp()
        terms = JobTerms(spec=_cid(f"job{len(self.jobs)}"), experts=EXPERTS, rounds=1, reward_per_round_wei=ETH,
                         deadline=now + 86_400, aggregator=self.requester, challenges=1)
        self.send(self.requester, "createJob", [terms.as_tuple()], value=ETH)
        self.flush()
        self.jobs.append(self.chain.call("jobCount"))
        self.next_delta = iter(itertools.product(range(EXPERTS), self.miners))
        return self.jobs[-1]

    def events(self, count: int) -> None:
        """`count` more market events: deltas to the latest job until it is full, then a new job; one in ten a
        top-up of the first job."""
        for n in range(count):
            if not self.jobs:
                self.new_job()
                continue
            if n % 10 == 9:
                self.send(self.requester, "topUp", [self.jobs[0]], value=1)
                continue
            step = next(self.next_delta, None)
            if step is None:
                self.new_job()
                continue
            expert, miner = step
            digest, codec = cid_to_chain(_cid(f"delta{self.jobs[-1]}-{expert}-{miner}"))
            self.send(miner, "submitDelta", [self.jobs[-1], expert, 0, digest, codec, bytes(32), 2])
        self.flush()


def _legacy_events(chain: Chain, from_block: int, names: set[str]) -> Iterator[Event]:
    """How every read worked before the index: all of the contract's logs since `from_block`, names filtered
    in Python."""
    latest, start = chain.w3.eth.block_number, from_block
    while start <= latest:
        end = min(start + LOG_RANGE - 1, latest)
        for raw in chain.w3.eth.get_logs({"address": chain.contract.address, "fromBlock": start, "toBlock": end}):
            event = chain._decode_log(raw)
            if event is not None and event.name in names:
                yield event
        start = end + 1


def legacy_pass(chain: Chain, from_block: int, job_id: int) -> int:
    """The aggregator's pass as it was: discover jobs, then per expert its checkpoint and submitted deltas."""
    found = 0
    for event in _legacy_events(chain, from_block, {"JobCreated"}):
        found += event.args["jobId"] == job_id
    for expert in range(EXPERTS):
        for event in _legacy_events(chain, from_block, {"ExpertFinalized"}):
            found += (event.args["jobId"], event.args["expert"]) == (job_id, expert)
        found += len({e.args["deltaId"]: cid_from_chain(e.args["deltaDigest"], e.args["deltaCodec"])
                      for e in _legacy_events(chain, from_block, {"DeltaSubmitted"})
                      if e.args["jobId"] == job_id and e.args["expert"] == expert})
    return found


def index_pass(index: MarketIndex, job_id: int) -> int:
    """The same pass on the index: one sync, then lookups in memory."""
    index.sync()
    found = sum(j.job_id == job_id for j in index.jobs)
    for expert in range(EXPERTS):
        found += len(index.delta_cids(job_id, expert))
    return found


def _timed(fn: Callable[..., object], *args: object) -> float:
    started = time.perf_counter()
    fn(*args)
    return time.perf_counter() - started


def main() -> None:
    parser = benchmark_parser(__doc__)
    parser.add_argument("--events", type=int, default=10_000, help="market events on the chain at the end")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        devnet = Devnet(Path(scratch) / "devnet")
        info = devnet.start()
        try:
            run(info, args.events, Path(scratch))
        finally:
            devnet.stop()


def run(info: DevnetInfo, total: int, scratch: Path) -> None:
    filler = Filler(info)
    reader = Chain(info.rpc_url, info.contract)
    index = MarketIndex(reader, info.deploy_block, scratch / "index.jsonl")
    rows = []
    made = MINERS
    sizes = [total // 4, total // 2, total]
    print(f"filling the devnet with {total:,} market events ({MINERS} staked miners, jobs of {EXPERTS} experts)")
    for size in sizes:
        before_size = made
        filler.events(size - made)
        made = size
        job_id = filler.jobs[len(filler.jobs) // 2]  # a job in the middle of the history
        cold = _timed(index.sync)
        followed = MarketIndex(reader, info.deploy_block, jobs={job_id})
        followed_cold = _timed(followed.sync)
        for new in (0, 1, 100):
            filler.events(new)
            made += new
            before = _timed(legacy_pass, reader, info.deploy_block, job_id)
            assert legacy_pass(reader, info.deploy_block, job_id) == index_pass(index, job_id) \
                == index_pass(followed, job_id), "the index and the old scans disagree"
            filler.events(new)
            made += new
            after = _timed(index_pass, index, job_id)
            after_followed = _timed(index_pass, followed, job_id)
            rows.append((made, new, before, after, after_followed))
        restart = _timed(lambda: MarketIndex(reader, info.deploy_block, scratch / "index.jsonl").sync())
        print(f"  {made:>6,} events: catching up on the {size - before_size:,} added {cold * 1e3:,.0f} ms (all jobs); "
              f"a new index of one job from the deploy block {followed_cold * 1e3:,.0f} ms (topic-filtered); "
              f"a restart from the journal {restart * 1e3:,.0f} ms")
    print()
    print(f"{'events on chain':>15} {'new':>5} {'before (ms/pass)':>17} {'after, all jobs':>16} "
          f"{'after, one job':>15} {'before/after':>13}")
    for made, new, before, after, after_followed in rows:
        print(f"{made:>15,} {new:>5} {before * 1e3:>17,.1f} {after * 1e3:>16,.1f} {after_followed * 1e3:>15,.1f} "
              f"{before / after:>12,.0f}x")
    first = [r for r in rows if r[1] == 0]
    growth_before, growth_after = first[-1][2] / first[0][2], first[-1][3] / first[0][3]
    print(f"\nhistory x{first[-1][0] / first[0][0]:.1f}: a pass with no new events costs x{growth_before:.1f} before, "
          f"x{growth_after:.1f} after (goal: after follows the new events, not the history)")


if __name__ == "__main__":
    main()
