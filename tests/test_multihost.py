"""Paris across hosts: six network namespaces with their own IPFS nodes over shaped links (the chain and a
bootstrap peer; the studio, requester and aggregator; a validator; three miners, one on a slow link), the
market deployed with `deploy_market` and every daemon joined through the deployment file. The harness peers
nothing: daemons meet through the bootstrap peer and connect their IPFS nodes to the ones they hear of.
Three miners started without `--expert` spread over a two-expert job; the one alone on its expert is pulled
off the network mid-round and another miner covers its expert; the job merges and pays, and its merged
checkpoint is still served after a miner's host is gone. Content moved by bitswap, each block checked
against its CID."""

from __future__ import annotations

import contextlib
import dataclasses
import json
from collections import defaultdict
from pathlib import Path

import httpx
import pytest

from paris_node.content.store import IpfsStore
from paris_node.data.synthetic import synthetic_set
from paris_node.learning.checkpoint import Checkpoint
from paris_node.market.chain import Chain, EventCursor, cid_from_chain
from paris_node.roles.routing import dealt
from paris_node.runtime.devnet import devnet_account
from paris_node.runtime.devnet import DEVNET_MARKET
from paris_node.runtime.multihost import MultiHost

from helpers.jobs import open_job, tiny_spec
from helpers.pacer import Pacer
from helpers.processes import MINER, VALIDATOR
from helpers.wait import wait_for

pytestmark = pytest.mark.devnet  # starts a network of its own

# Six hosts on two cores: a validator fetches and replays a delta in ~15 s, so vote phases are 60 s (on a slower
# machine too); the pacer ends each phase once the validator has done its part in it.
MARKET = dataclasses.replace(DEVNET_MARKET, vote_window_s=60)
HOSTS = {"studio": 40.0, "validator": 40.0, "miner-a": 40.0, "miner-b": 40.0, "miner-c": 2.0}
MINERS = ("miner-1", "miner-2", "miner-3")
CLIPS = 32


def _records(work_dir: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(work_dir.glob("rounds/*/round.json"))]


def _received(api: str) -> int:
    return int(httpx.post(f"{api}/api/v0/bitswap/stat", timeout=10).json()["DataReceived"])


def _live_miners(work_dir: Path) -> set[str]:
    """The miners a daemon hears alive, from its status API."""
    url = work_dir / "status.url"
    if not url.exists():
        return set()
    try:
        peers = httpx.get(f"{url.read_text().strip()}/status", timeout=5).json()["peers"]
    except httpx.HTTPError:
        return set()
    return {p["address"] for p in peers if p["role"] == "miner" and p["alive"]}


@pytest.mark.timeout(600)
def test_a_job_routes_itself_across_hosts_and_survives_a_miner_host_pulled_mid_round(tmp_path: Path) -> None:
    with contextlib.ExitStack() as stack:
        net = stack.enter_context(MultiHost(tmp_path, HOSTS, market=MARKET))
        studio = net.info("studio")
        address = {a["role"]: a["address"] for a in net.accounts}
        requester = Chain(studio.rpc_url, studio.contract, devnet_account(1))
        job_id = requester.call("jobCount") + 1
        # The deal the miners will compute once they hear each other: two on one expert, one alone on the other.
        deal = {role: dealt(job_id, 2, address[role], {address[r] for r in MINERS} - {address[role]})
                for role in MINERS}
        lone = next(role for role in MINERS if [deal[r] for r in MINERS].count(deal[role]) == 1)
        (lone_expert,) = deal[lone]
        hosts = dict(zip([r for r in MINERS if r != lone] + [lone], ("miner-a", "miner-b", "miner-c"), strict=True))
        work = {role: tmp_path / "work" / role for role in MINERS}

        flags = ["--dir", str(tmp_path / "no-devnet-here"), "--poll", "0.5"]
        net.run("studio", "aggregator", [*MINER, "aggregate", "--round-timeout", "90", "--min-wait", "3",
                                         "--work-dir", str(tmp_path / "work" / "aggregator"), *flags], "aggregator")
        net.run("validator", "validator", [*VALIDATOR, "validate", "--work-dir", str(tmp_path / "work" / "validator"),
                                           *flags], "validator-1")
        for role in MINERS:
            net.run(hosts[role], "miner", [*MINER, "mine", "--work-dir", str(work[role]), *flags], role)
        # found through the bootstrap peer: each miner hears the other two before the job opens
        wait_for(lambda: all(len(_live_miners(work[r])) == 2 for r in MINERS), 120, "the miners to hear each other")

        stack.enter_context(Pacer(studio, {address["validator-1"]}))
        with IpfsStore(studio.ipfs_api) as store:
            spec, _ = tiny_spec(store, "across-hosts", CLIPS, 5, experts=2)
            assert open_job(studio, store, spec) == job_id

        def submitted() -> dict[int, set[str]]:
            by_expert: dict[int, set[str]] = defaultdict(set)
            for event in requester.events(EventCursor(studio.deploy_block), {"DeltaSubmitted"}):
                by_expert[event.args["expert"]].add(event.args["miner"])
            return by_expert

        # the lone miner, on a 2 Mbit/s link, is still fetching its shard and checkpoint when the others submit
        others = [r for r in MINERS if r != lone]
        wait_for(lambda: submitted()[1 - lone_expert] == {address[r] for r in others}, 240,
                 "the two miners sharing an expert to submit")
        assert not submitted()[lone_expert], "nobody but the lone miner was dealt its expert"
        assert not any(r["stage"] in ("submitted", "revealed") for r in _records(work[lone]))
        assert net.bed is not None
        net.bed.remove(hosts[lone])

        # its expert is picked up by one of the others, merged, and both experts' miners paid
        wait_for(lambda: all(requester.version_of(job_id, e) == 1 for e in range(2)), 360, "both experts merged",
                 poll_s=1)
        covered = submitted()[lone_expert]
        assert covered and covered <= {address[r] for r in others}, covered
        wait_for(lambda: all(r.get("outcome") == "paid" for role in others for r in _records(work[role])), 120,
                 "the other miners paid", poll_s=1)
        assert not any(r["stage"] in ("submitted", "revealed") for r in _records(work[lone]))

        # nothing was peered by the harness, yet the miners' nodes fetched shards and checkpoints from the
        # studio's and the validator's fetched their deltas
        miner_a = net.nodes["miner-a"]
        with IpfsStore(miner_a.api) as store:
            assert net.nodes["studio"].peer_id in store.peers()
        assert _received(miner_a.api) > len(synthetic_set(CLIPS, 4).to_bytes())
        assert _received(net.nodes["validator"].api) > 0

        # a miner's host going away after the merge loses no merged checkpoint: the aggregator pinned it
        merged = list(requester.events(EventCursor(studio.deploy_block), {"ExpertFinalized"}))
        assert len(merged) == 2
        net.bed.remove("miner-a")
        with IpfsStore(net.nodes["validator"].api) as store:
            for event in merged:
                cid = cid_from_chain(event.args["checkpointDigest"], event.args["checkpointCodec"])
                checkpoint = Checkpoint.from_bytes(store.get(cid))
                assert (checkpoint.expert, checkpoint.version) == (event.args["expert"], 1)
