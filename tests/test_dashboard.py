"""The dashboard in headless Chromium (Debian's, driven by Playwright) during a devnet run: a job with two
experts trained by real daemons; the page must show what a person watching it would need to see, say what is
missing while it is empty or the chain is down, and lay its sections out without overlap at common widths
(screenshots saved beside the test's files)."""

from __future__ import annotations

import re
import shutil
import threading
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
from helpers.pacer import Pacer
from helpers.processes import frozen
from helpers.wait import step_until

CHROMIUM = shutil.which("chromium")
# each section's box, and the box of everything in it (a table wider than its section would spill over the next)
BOXES = """els => els.map(e => {
  const r = e.getBoundingClientRect(), kids = [...e.querySelectorAll('*')].map(k => k.getBoundingClientRect())
    .filter(k => k.width > 0 && k.height > 0);
  return {id: e.id, box: [r.left, r.top, r.right, r.bottom],
          content: [Math.min(...kids.map(k => k.left)), Math.max(...kids.map(k => k.right))]};
})"""


def _overlapping(boxes: list[dict]) -> list[tuple[str, str]]:
    """Pairs of sections whose boxes intersect, and sections whose content spills out of their box."""
    def meet(a: list[float], b: list[float]) -> bool:
        return a[0] < b[2] - 0.5 and b[0] < a[2] - 0.5 and a[1] < b[3] - 0.5 and b[1] < a[3] - 0.5
    pairs = [(a["id"], b["id"]) for i, a in enumerate(boxes) for b in boxes[i + 1:] if meet(a["box"], b["box"])]
    spills = [(s["id"], "spills") for s in boxes if s["content"][0] < s["box"][0] - 0.5
              or s["content"][1] > s["box"][2] + 0.5]
    return pairs + spills


@pytest.mark.skipif(CHROMIUM is None, reason="scripts/setup.sh installs Debian's chromium")
def test_the_dashboard_shows_rounds_deltas_miners_losses_payouts_and_the_sample(devnet: DevnetInfo,
                                                                                tmp_path: Path) -> None:
    client = Client(Chain(devnet.rpc_url, devnet.contract, devnet_account(1), timeout_s=2.0),
                    IpfsStore(devnet.ipfs_api), devnet.deploy_block)
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
    validator_net = Network(devnet_account(4), tmp_path / "validator.key", "validator", members(),
                            bootstrap=devnet.bootstrap, heartbeat_s=0.5).start()
    aggregator_net = Network(devnet_account(2), tmp_path / "aggregator.key", "aggregator", members(),
                             bootstrap=devnet.bootstrap, heartbeat_s=0.5).start()
    validator = ValidatorDaemon(Chain(devnet.rpc_url, devnet.contract, devnet_account(4)), IpfsStore(devnet.ipfs_api),
                                tmp_path / "validator", devnet.deploy_block, {job_id}, presence=Presence(validator_net))
    aggregator = AggregatorDaemon(Chain(devnet.rpc_url, devnet.contract, devnet_account(2)),
                                  IpfsStore(devnet.ipfs_api), tmp_path / "aggregator", devnet.deploy_block,
                                  {job_id}, presence=Presence(aggregator_net))
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
            assert "no deltas yet" in page.inner_text("#deltas") and "no payouts yet" in page.inner_text("#payouts")
            assert "no slashes" in page.inner_text("#slashes") and re.search(r"deadline \d{4}-\d\d-\d\d \d\d:\d\d "
                                                                             r"UTC \(in 23h \d\dm\)",
                                                                             page.inner_text("#summary"))
            with frozen(devnet.pids["anvil"]):  # the chain down: said in a banner, no broken image
                page.wait_for_function("document.querySelector('#banner').textContent.includes('cannot read the "
                                       "job')", timeout=15_000)
                assert page.eval_on_selector("#sample", "i => getComputedStyle(i).display === 'none' || "
                                                        "(i.complete && i.naturalWidth > 0)")
            page.wait_for_function("document.querySelector('#banner').textContent === ''", timeout=15_000)

            step_until(lambda: len(board.state().payouts) >= 2,
                       [miner, validator, aggregator, Pacer(devnet, {devnet_account(4).address}, {job_id})],
                       "the round to be merged and paid", 240)

            page.wait_for_function("document.querySelectorAll('#payouts tbody tr').length === 2", timeout=20_000)
            experts = page.inner_text("#experts")
            assert experts.count("v1 of 1") == 2
            deltas = page.inner_text("#deltas")
            assert deltas.count("paid") == 2 and "failed" not in deltas
            # Liveness comes from heartbeats, accepted once the watcher has looked up each one's stake.
            page.wait_for_function("[...document.querySelectorAll('#participants tbody tr')].filter(r => "
                                   "r.textContent.includes('alive')).length === 3", timeout=30_000)
            participants = page.inner_text("#participants")
            for role, account, work in (("miner", miner_chain.account.address, r"2 deltas"),
                                        ("validator", devnet_account(4).address, r"\d+ votes"),
                                        ("aggregator", devnet.address("aggregator"), r"2 merges")):
                assert re.search(rf"{role}\s+{account}\s+{work}", participants), participants
            lines = page.eval_on_selector_all("#loss polyline", "ls => ls.map(l => l.getAttribute('points'))")
            assert len(lines) == 2 and all(len(points.split()) == 2 for points in lines)  # v0 and v1 per expert
            assert page.eval_on_selector_all("#loss .axis", "a => a.length") == 2
            ticks = page.eval_on_selector_all("#loss .tick", "t => t.map(x => x.textContent)")
            assert "v0" in ticks and "v1" in ticks and sum(bool(re.fullmatch(r"\d+\.\d{3}", t)) for t in ticks) == 5
            assert page.inner_text("#loss-legend").split("\n") == ["expert 0", "expert 1"]
            page.wait_for_function("document.querySelector('#sample').naturalWidth > 0", timeout=20_000)
            summary = page.inner_text("#summary")
            assert "2 experts" in summary and "2 payouts" in summary and "0 slashes" in summary
            for width in (1280, 1920):
                page.set_viewport_size({"width": width, "height": 1000})
                page.screenshot(path=str(tmp_path / f"dashboard-{width}.png"), full_page=True)
                boxes = page.eval_on_selector_all("section", BOXES)
                assert len(boxes) == 6 and not _overlapping(boxes), (width, boxes)
                assert (tmp_path / f"dashboard-{width}.png").stat().st_size > 10_000
            browser.close()
    finally:
        stop.set()
        refresher.join(10)
        server.stop()
        for network in (miner_net, validator_net, aggregator_net, watcher):
            network.stop()
