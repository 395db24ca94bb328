"""Liveness in the round logic, and the status API, on the devnet with real libp2p hosts.

The aggregator holds a round open while a live miner announces it is training that version, and merges
as soon as that miner's heartbeats stop, long before the round timeout. Its status API answers with the
right shape and its metrics parse as Prometheus text.
"""

from __future__ import annotations

import time
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from paris_node.content.store import IpfsStore
from paris_node.market.chain import Chain
from paris_node.net.network import Members, Network
from paris_node.net.presence import Presence
from paris_node.net.status_api import Status, StatusServer, build_app
from paris_node.roles.aggregator_daemon import AggregatorDaemon
from paris_node.runtime.devnet import DevnetInfo, devnet_account
from paris_validator.daemon import ValidatorDaemon
from test_gossip import HEARTBEAT_S, staked

from helpers.miners import Honest, open_market
from helpers.pacer import Pacer
from helpers.wait import wait_for

ROUND_TIMEOUT_S = 120.0


def network(devnet: DevnetInfo, account, path: Path, role: str) -> Network:  # type: ignore[no-untyped-def]
    return Network(account, path, role, Members(Chain(devnet.rpc_url, devnet.contract)), heartbeat_s=HEARTBEAT_S,
                   missed=3)


def test_the_aggregator_waits_for_live_miners_only_and_reports_status(devnet: DevnetInfo, tmp_path: Path) -> None:
    market = open_market(devnet, tmp_path, rounds=1)
    job = market.job_id
    aggregator_chain = Chain(devnet.rpc_url, devnet.contract, devnet_account(2))
    aggregator_net = network(devnet, aggregator_chain.account, tmp_path / "aggregator.key", "aggregator").start()
    slow_miner = network(devnet, staked(devnet).account, tmp_path / "slow.key", "miner")
    slow_miner.bootstrap = tuple(aggregator_net.host.addrs)
    slow_miner.working = {(job, 0, 0)}  # "still training version 0"
    slow_miner.start()
    aggregator = AggregatorDaemon(aggregator_chain, IpfsStore(devnet.ipfs_api), tmp_path / "aggregator",
                                  devnet.deploy_block, {job},
                                  round_timeout_s=ROUND_TIMEOUT_S, presence=Presence(aggregator_net))
    server = StatusServer(build_app(aggregator.status, aggregator.presence.metrics, lambda: True)).start()
    try:
        wait_for(lambda: aggregator_net.liveness.training(job, 0, 0) == {slow_miner.account.address},
                 what="the aggregator hearing the slow miner")
        fast = Honest(market, "fast")
        fast.submit(0)
        validator = ValidatorDaemon(Chain(devnet.rpc_url, devnet.contract, devnet_account(4)),
                                    IpfsStore(devnet.ipfs_api), tmp_path / "validator", devnet.deploy_block, {job})
        pacer = Pacer(devnet, {validator.address}, {job})
        deadline = time.monotonic() + 60
        while not validator.records or validator.records[next(iter(validator.records))].stage != "done":
            assert time.monotonic() < deadline, "the fast miner's delta was never checked"
            fast.reveal(0)
            validator.step()
            pacer.step()
            time.sleep(0.3)

        for _ in range(5):  # a passing delta, but a live miner is still training this version
            aggregator.step()
            time.sleep(0.3)
        assert aggregator_chain.version_of(job, 0) == 0

        status = httpx.get(f"http://127.0.0.1:{server.port}/status", timeout=10).json()
        report = Status.model_validate(status)
        assert report.role == "aggregator" and report.peer_id == aggregator_net.peer_id and report.jobs == [job]
        assert not report.resting  # its job's round is open
        [peer] = [p for p in report.peers if p.address == slow_miner.account.address]
        assert peer.alive and peer.role == "miner" and peer.working == [(job, 0, 0)]

        slow_miner.stop()  # dies: its heartbeats stop
        died = time.monotonic()
        wait_for(lambda: (aggregator.step(), aggregator_chain.version_of(job, 0))[1] == 1, timeout_s=30,
                 what="the merge once the slow miner is dead")
        assert time.monotonic() - died < ROUND_TIMEOUT_S / 4

        health = httpx.get(f"http://127.0.0.1:{server.port}/health", timeout=10)
        assert health.status_code == 200 and health.json()["status"] == "ok"
        assert httpx.get(f"http://127.0.0.1:{server.port}/nope", timeout=10).status_code == 404
        metrics = httpx.get(f"http://127.0.0.1:{server.port}/metrics", timeout=10)
        assert metrics.headers["content-type"].startswith("text/plain")
        samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
                   for family in text_string_to_metric_families(metrics.text) for s in family.samples}
        assert samples[("paris_rounds_total", ())] == 1
        assert samples[("paris_deltas_total", (("outcome", "merged"),))] == 1
        assert samples[("paris_gossip_messages_total", (("result", "accepted"),))] >= 1
        assert samples[("paris_ipfs_bytes_total", (("direction", "up"),))] > 0
        after = Status.model_validate(httpx.get(f"http://127.0.0.1:{server.port}/status", timeout=10).json())
        assert (after.expert, after.round) == (0, 1)
        wait_for(lambda: aggregator.step() or Status.model_validate(
            httpx.get(f"http://127.0.0.1:{server.port}/status", timeout=10).json()).resting, timeout_s=30,
                 what="the aggregator at rest once its one-round job is over")
        assert not next(p for p in after.peers if p.address == slow_miner.account.address).alive
    finally:
        server.stop()
        aggregator_net.stop()


def test_a_status_that_cannot_be_built_answers_503(tmp_path: Path) -> None:
    def broken() -> Status:
        raise ConnectionError("RPC http://127.0.0.1:1 unreachable")

    presence = Presence()
    server = StatusServer(build_app(broken, presence.metrics, lambda: False)).start()
    try:
        response = httpx.get(f"http://127.0.0.1:{server.port}/status", timeout=10)
        assert response.status_code == 503 and "unreachable" in response.json()["detail"]
        assert httpx.get(f"http://127.0.0.1:{server.port}/health", timeout=10).json()["status"] == "stopped"
    finally:
        server.stop()
