"""Paris across hosts: five network namespaces with their own IPFS nodes over shaped links (the chain; the
studio, requester and aggregator; a validator; two miners, one on a slow link), the market deployed with
`deploy_market` and every daemon joined through the deployment file. A job trains to completion, merges
and pays the other miner although one miner's host is pulled off the network mid-round; the shard,
checkpoints and deltas moved between hosts by bitswap, each block checked against its CID."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import httpx
import pytest

from paris_node.content.store import IpfsStore
from paris_node.data.synthetic import synthetic_set
from paris_node.market.chain import Chain
from paris_node.runtime.devnet import devnet_account
from paris_node.runtime.devnet import DEVNET_MARKET
from paris_node.runtime.multihost import MultiHost

from helpers.jobs import open_job, tiny_spec
from helpers.processes import MINER, VALIDATOR
from helpers.wait import wait_for

pytestmark = pytest.mark.devnet  # starts a network of its own

# Five hosts on two cores: a validator fetches and replays a delta in ~15 s, so vote phases are 30 s.
MARKET = dataclasses.replace(DEVNET_MARKET, vote_window_s=30)
HOSTS = {"studio": 40.0, "validator": 40.0, "miner-a": 40.0, "miner-b": 2.0}


def _records(work_dir: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(work_dir.glob("rounds/*/round.json"))]


def _received(api: str) -> int:
    return int(httpx.post(f"{api}/api/v0/bitswap/stat", timeout=10).json()["DataReceived"])


@pytest.mark.timeout(600)
def test_a_job_trains_across_hosts_and_survives_a_miner_host_pulled_mid_round(tmp_path: Path) -> None:
    with MultiHost(tmp_path, HOSTS, market=MARKET) as net:
        studio = net.info("studio")
        with IpfsStore(studio.ipfs_api) as store:
            spec, _ = tiny_spec(store, "across-hosts", 32, 5)
            job_id = open_job(studio, store, spec)
        flags = ["--devnet", str(tmp_path / "no-devnet-here"), "--poll", "0.5"]
        work = {host: tmp_path / "work" / host for host in ("miner-a", "miner-b")}
        net.run("studio", "aggregator", [*MINER, "aggregate", "--round-timeout", "90", "--min-wait", "10",
                                         "--work-dir", str(tmp_path / "work" / "aggregator"), *flags], "aggregator")
        net.run("validator", "validator", [*VALIDATOR, "validate", "--work-dir", str(tmp_path / "work" / "validator"),
                                           *flags], "validator-1")
        for role, host in zip(("miner-1", "miner-2"), work, strict=True):
            net.run(host, "miner", [*MINER, "mine", "--work-dir", str(work[host]), *flags], role)

        # miner-b, on a 2 Mbit/s link, is still fetching the round's shard and checkpoint when the others submit
        wait_for(lambda: any(r["stage"] != "trained" for r in _records(work["miner-a"])), 180, "miner-a to submit")
        assert not any(r["stage"] in ("submitted", "revealed") for r in _records(work["miner-b"]))
        assert net.bed is not None
        net.bed.remove("miner-b")

        requester = Chain(studio.rpc_url, studio.contract, devnet_account(1))
        wait_for(lambda: requester.version_of(job_id, 0) == 1, 300, "the round merged", poll_s=1)
        wait_for(lambda: [r.get("outcome") for r in _records(work["miner-a"])] == ["paid"], 120, "miner-a paid",
                 poll_s=1)
        assert not any(r["stage"] in ("submitted", "revealed") for r in _records(work["miner-b"]))
        # the miners' nodes fetched the shard and checkpoints from the studio's, the validator's the deltas
        assert _received(net.nodes["miner-a"].api) > len(synthetic_set(32, 4).to_bytes())
        assert _received(net.nodes["validator"].api) > 0
