"""The market index on the devnet: what it reads, what each sync costs, and how a restart resumes."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import pytest
from multiformats import CID

from paris_node.market.chain import ROLE_MINER, ROLE_VALIDATOR, Chain, JobTerms
from paris_node.market.index import MarketIndex, MarketIndexError
from paris_node.runtime.devnet import DevnetInfo, devnet_account
from paris_node.roles.aggregator import bond_as_aggregator

from helpers.chain import ETH, funded_chain, vote


def _cid(label: str) -> CID:
    return CID("base32", 1, "raw", ("sha2-256", hashlib.sha256(label.encode()).digest()))


def _job(requester: Chain, aggregator: Chain, label: str) -> int:
    terms = JobTerms(spec=_cid(label), experts=2, rounds=2, reward_per_round_wei=ETH,
                     deadline=requester.timestamp() + 3600, aggregator=aggregator.account.address,  # type: ignore[union-attr]
                     reveal_window_s=600, challenges=1)
    return requester.create_job(terms, escrow_wei=2 * ETH)


def test_the_index_reads_jobs_deltas_reveals_and_merges_and_resumes_after_a_restart(
        devnet: DevnetInfo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    requester = Chain(devnet.rpc_url, devnet.contract, devnet_account(1))
    aggregator, validator, *miners = (funded_chain(devnet) for _ in range(4))
    validator.stake(ROLE_VALIDATOR, wei=ETH)
    for miner in miners:
        miner.stake(ROLE_MINER, wei=3 * ETH)  # the minimum for each of its unsettled deltas
    start = requester.w3.eth.block_number + 1
    reader = Chain(devnet.rpc_url, devnet.contract)
    index = MarketIndex(reader, start, tmp_path / "index.jsonl")

    job_a, job_b = _job(requester, aggregator, "spec-a"), _job(requester, aggregator, "spec-b")
    ids = [m.submit_delta(job_a, 1, 0, _cid(f"delta-{i}"), b"\x01" * 32, segments=2) for i, m in enumerate(miners)]
    other = miners[0].submit_delta(job_b, 0, 0, _cid("delta-b"), b"\x02" * 32, segments=2)

    assert [e.name for e in index.sync()] == ["JobCreated"] * 2 + ["DeltaSubmitted"] * 3
    host = aggregator.account.address  # type: ignore[union-attr]
    assert [(j.job_id, j.spec, j.aggregator) for j in index.jobs] == [
        (job_a, str(_cid("spec-a")), host), (job_b, str(_cid("spec-b")), host)]
    assert index.delta_cids(job_a, 1) == {ids[0]: _cid("delta-0"), ids[1]: _cid("delta-1")}
    assert [d.delta_id for d in index.deltas(job_a)] == ids and index.deltas(job_a, 0) == []
    assert index.delta(other).miner == miners[0].account.address  # type: ignore[union-attr]
    assert index.delta(other).trace_root == "02" * 32
    assert index.sync() == []  # nothing new: nothing returned

    requester.w3.provider.make_request("anvil_mine", [3])  # type: ignore[arg-type]
    miners[0].reveal(ids[0], _cid("reveal-0"))
    vote([(validator, ids[0], True, 5000)])
    bond_as_aggregator(aggregator)
    aggregator.finalize(job_a, 1, 1, _cid("checkpoint-a1"), [ids[0]])
    assert [e.name for e in index.sync()] == ["Revealed", "ExpertFinalized"]  # scores are not its business
    reveal = index.reveal(ids[0])
    assert reveal is not None and reveal.cid == str(_cid("reveal-0")) and index.reveal(ids[1]) is None
    merge = index.merge(job_a, 1, 1)
    assert (merge.checkpoint, merge.merged) == (str(_cid("checkpoint-a1")), (ids[0],))
    with pytest.raises(MarketIndexError, match="no job 9999 on market"):
        index.job(9999)
    with pytest.raises(MarketIndexError, match=f"job {job_a} expert 1: no ExpertFinalized event for version 2"):
        index.merge(job_a, 1, 2)

    cursor = index.next_block
    reads: list[int] = []
    real_logs = reader.logs
    monkeypatch.setattr(reader, "logs", lambda start_block, *a, **k: reads.append(start_block) or real_logs(
        start_block, *a, **k))
    restarted = MarketIndex(reader, start, tmp_path / "index.jsonl")
    assert (restarted.jobs, restarted.deltas(job_a), restarted.merge(job_a, 1, 1), restarted.reveal(ids[0])) == (
        index.jobs, index.deltas(job_a), merge, reveal)
    requester.w3.provider.make_request("anvil_mine", [1])  # type: ignore[arg-type]
    assert restarted.sync() == [] and reads and min(reads) == cursor  # it reads on from where it stopped


def test_an_index_of_some_jobs_reads_only_theirs_and_refuses_a_journal_of_other_settings(
        devnet: DevnetInfo, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    requester = Chain(devnet.rpc_url, devnet.contract, devnet_account(1))
    aggregator, miner = funded_chain(devnet), funded_chain(devnet)
    miner.stake(ROLE_MINER, wei=2 * ETH)  # two unsettled deltas
    start = requester.w3.eth.block_number + 1
    job_a, job_b = _job(requester, aggregator, "only-a"), _job(requester, aggregator, "only-b")
    delta_a = miner.submit_delta(job_a, 0, 0, _cid("only-delta-a"), b"\x03" * 32, segments=2)
    delta_b = miner.submit_delta(job_b, 0, 0, _cid("only-delta-b"), b"\x04" * 32, segments=2)
    path = tmp_path / "b.jsonl"

    only_b = MarketIndex(Chain(devnet.rpc_url, devnet.contract), start, path, jobs={job_b})
    only_b.sync()
    assert [j.job_id for j in only_b.jobs] == [job_b] and [d.delta_id for d in only_b.deltas(job_b)] == [delta_b]
    with pytest.raises(MarketIndexError, match=f"follows jobs \\[{job_b}\\]"):
        only_b.job(job_a)
    with pytest.raises(MarketIndexError, match="no delta"):
        only_b.delta(delta_a)

    with path.open("a") as out:
        out.write('{"kind": "DeltaEntry", "delta_id": ')  # a write torn by kill -9
    with caplog.at_level(logging.WARNING, "paris_node.market.index"):
        torn = MarketIndex(Chain(devnet.rpc_url, devnet.contract), start, path, jobs={job_b})
    assert "a torn last entry" in caplog.text and [d.delta_id for d in torn.deltas(job_b)] == [delta_b]
    assert path.read_bytes().endswith(b"}\n")  # cut back to whole entries: the next append starts clean
    with path.open("a") as out:
        out.write('{"kind": "DeltaEntry", "delta_id": "0x1"}\n')  # a whole line that is not an entry
    caplog.clear()
    with caplog.at_level(logging.WARNING, "paris_node.market.index"):
        MarketIndex(Chain(devnet.rpc_url, devnet.contract), start, path, jobs={job_b})
    assert "unreadable entry" in caplog.text and path.read_bytes().endswith(b"}\n")
    assert b'"0x1"}' not in path.read_bytes()

    other = MarketIndex(Chain(devnet.rpc_url, devnet.contract), start, path, jobs={job_a})  # another job set
    assert other.jobs == [] and not path.exists()
    other.sync()
    assert [d.delta_id for d in other.deltas(job_a)] == [delta_a]
