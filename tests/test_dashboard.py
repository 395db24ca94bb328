"""The dashboard in headless Chromium (Debian's, driven by Playwright) during a devnet run: a job with two
experts trained by real daemons; the page must show what a person watching it would need to see."""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

from paris_node.content.store import IpfsStore
from paris_node.market.chain import Chain
from paris_node.net.network import Members, Network
from paris_node.net.presence import Presence
from paris_node.net.status_api import StatusServer
from paris_node.roles.aggregator_daemon import AggregatorDaemon
from paris_node.roles.miner_daemon import MinerDaemon
from paris_node.runtime.devnet import DevnetInfo, devnet_account
from paris_sdk import Client, JobRequest
from paris_sdk.dashboard import JobBoard, build_dashboard
from paris_validator.daemon import ValidatorDaemon

from helpers.chain import funded_chain

CHROMIUM = shutil.which("chromium")


@pytest.mark.skipif(CHROMIUM is None, reason="scripts/setup.sh installs Debian's chromium")
def test_the_dashboard_shows_rounds_deltas_miners_losses_payouts_and_the_sample(devnet: DevnetInfo,
                                                                                tmp_path: Path) -> None:
    client = Client(Chain(devnet.rpc_url, devnet.contract, devnet_account(1)), IpfsStore(devnet.ipfs_api),
                    devnet.deploy_block)
    job_id = client.create_job(JobRequest(experts=2, rounds=1, reward_eth=0.5, synthetic_clips=16, local_steps=4,
                                          segment_steps=2, batch=4, challenges=1,
                                          aggregator=devnet.address("aggregator")))

    def members() -> Members:
        return Members(Chain(devnet.rpc_url, devnet.contract))

    miner_chain = funded_chain(devnet)
    miner_net = Network(miner_chain.account, tmp_path / "miner.key", "miner", members(),
                        bootstrap=devnet.bootstrap, heartbeat_s=0.5).start()
    watcher = Network(devnet_account(1), tmp_path / "watcher.key", "observer", members(),
                      bootstrap=devnet.bootstrap, heartbeat_s=0.5).start()
    miner = MinerDaemon(miner_chain, IpfsStore(devnet.ipfs_api), tmp_path / "miner", devnet.deploy_block, {job_id},
                        presence=Presence(miner_net))
    validator = ValidatorDaemon(Chain(devnet.rpc_url, devnet.contract, devnet_account(4)), IpfsStore(devnet.ipfs_api),
                                tmp_path / "validator", devnet.deploy_block, {job_id})
    aggregator = AggregatorDaemon(Chain(devnet.rpc_url, devnet.contract, devnet_account(2)),
                                  IpfsStore(devnet.ipfs_api), tmp_path / "aggregator", devnet.deploy_block,
                                  {job_id})
    board = JobBoard(client, job_id, tmp_path / "samples", watcher)
    server = StatusServer(build_dashboard(board)).start()
    stop = threading.Event()
    refresher = threading.Thread(target=board.run, args=(stop, 0.5), daemon=True)
    refresher.start()
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            page = browser.new_page()
            page.goto(f"http://127.0.0.1:{server.port}/")
            page.wait_for_function("document.querySelector('#title').textContent.includes('Paris job')")
            assert "v0 of 1" in page.inner_text("#experts")  # before any training

            deadline = time.monotonic() + 240
            while len(board.state().payouts) < 2:
                assert time.monotonic() < deadline, "the round was never merged and paid"
                for daemon in (miner, validator, aggregator):
                    daemon.step()
                time.sleep(0.2)

            page.wait_for_function("document.querySelectorAll('#payouts tbody tr').length === 2", timeout=20_000)
            experts = page.inner_text("#experts")
            assert experts.count("v1 of 1") == 2
            deltas = page.inner_text("#deltas")
            assert deltas.count("paid") == 2 and "failed" not in deltas
            # Liveness comes from heartbeats, accepted once the watcher has looked up the miner's stake.
            page.wait_for_function("document.querySelector('#miners tbody').textContent.includes('alive')",
                                   timeout=30_000)
            assert miner_chain.account.address[:10] in page.inner_text("#miners")
            lines = page.eval_on_selector_all("#loss polyline", "ls => ls.map(l => l.getAttribute('points'))")
            assert len(lines) == 2 and all(len(points.split()) == 2 for points in lines)  # v0 and v1 per expert
            page.wait_for_function("document.querySelector('#sample').naturalWidth > 0", timeout=20_000)
            summary = page.inner_text("#summary")
            assert "2 experts" in summary and "2 payouts" in summary and "0 slashes" in summary
            browser.close()
    finally:
        stop.set()
        refresher.join(10)
        server.stop()
        miner_net.stop()
        watcher.stop()
