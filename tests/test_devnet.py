"""The devnet on real parts: start, a blob's round trip across IPFS and chain, and a clean stop."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from paris_node.content.store import IpfsStore
from paris_node.market.chain import Chain, EventCursor, JobTerms, cid_from_chain
from paris_node.runtime.devnet import (ChildCrashed, Devnet, DevnetError, DevnetInfo, devnet_account, down, pid_alive,
                                       up_detached)
from paris_node.runtime.keys import load_account

from helpers.processes import paris, port_open

pytestmark = pytest.mark.devnet  # starts devnets of its own


def _wait_gone(pids: list[int], timeout_s: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not any(pid_alive(p) for p in pids):
            return True
        time.sleep(0.1)
    return False


def test_blob_recorded_on_chain_is_fetched_and_verified_by_a_fresh_client(tmp_path: Path) -> None:
    devnet = Devnet(tmp_path / "net")
    info = devnet.start()
    try:
        blob = os.urandom(1 << 20)
        with IpfsStore(info.ipfs_api) as store:
            cid = store.add(blob)
        requester = Chain(info.rpc_url, info.contract, devnet_account(1))
        now = requester.w3.eth.get_block("latest")["timestamp"]
        terms = JobTerms(spec=cid, experts=2, rounds=1, reward_per_round_wei=10**17, deadline=now + 3600,
                         aggregator=info.address("aggregator"))
        job_id = requester.create_job(terms, escrow_wei=10**17)

        reread = DevnetInfo.read(tmp_path / "net")  # a fresh client knows only devnet.json
        events = list(Chain(reread.rpc_url, reread.contract).events(EventCursor(reread.deploy_block)))
        assert [e.name for e in events] == ["JobCreated"]
        assert events[0].args["jobId"] == job_id
        recorded = cid_from_chain(events[0].args["specDigest"], events[0].args["specCodec"])
        assert events[0].args["escrow"] == 10**17
        assert recorded == cid and str(recorded) == str(cid)  # one spelling: base32, as the chain's CIDs
        with IpfsStore(reread.ipfs_api) as fresh:
            assert fresh.get(recorded) == blob
    finally:
        devnet.stop()
    assert _wait_gone(list(info.pids.values()))
    assert not port_open(info.rpc_url) and not port_open(info.ipfs_api)
    assert not (tmp_path / "net" / "devnet.json").exists()


def test_keystores_written_by_the_devnet_decrypt_to_the_funded_accounts(devnet: DevnetInfo) -> None:
    account = load_account(devnet.keystore("miner-1"), {"PARIS_KEYSTORE_PASSWORD": "paris-devnet"})
    assert account.address == next(a["address"] for a in devnet.accounts if a["role"] == "miner-1")
    assert Chain(devnet.rpc_url, devnet.contract).w3.eth.get_balance(account.address) > 0


def test_crashed_child_is_reported_with_its_log(tmp_path: Path) -> None:
    devnet = Devnet(tmp_path / "net")
    info = devnet.start()
    try:
        os.kill(info.pids["anvil"], signal.SIGKILL)
        time.sleep(0.5)
        with pytest.raises(ChildCrashed) as caught:
            devnet.check()
        assert caught.value.name == "anvil"
        log_text = (tmp_path / "net" / "anvil.log").read_text()
        assert "eth_" in caught.value.tail and log_text.rstrip().endswith(caught.value.tail)  # anvil's own, last
    finally:
        devnet.stop()
    assert _wait_gone([info.pids["ipfs"]])


def test_children_die_with_a_killed_supervisor(tmp_path: Path) -> None:
    info = up_detached(tmp_path / "net")
    os.kill(info.supervisor_pid, signal.SIGKILL)
    assert _wait_gone(list(info.pids.values()))
    assert not port_open(info.rpc_url) and not port_open(info.ipfs_api)


def test_cli_up_status_down(tmp_path: Path) -> None:
    directory = str(tmp_path / "net")
    up = paris("devnet", "up", "--detach", "--dir", directory)
    assert up.returncode == 0, up.stdout + up.stderr
    assert "market contract" in up.stdout
    info = DevnetInfo.read(Path(directory))
    status = paris("devnet", "status", "--dir", directory)
    assert status.returncode == 0, status.stdout
    assert "js-ipfs" in status.stdout or "kubo" in status.stdout
    again = paris("devnet", "up", "--detach", "--dir", directory)
    assert again.returncode == 1 and "already running" in again.stdout
    stopped = paris("devnet", "down", "--dir", directory)
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    assert _wait_gone([info.supervisor_pid, *info.pids.values()], timeout_s=1)
    assert not port_open(info.rpc_url) and not port_open(info.ipfs_api)
    after = paris("devnet", "status", "--dir", directory)
    assert after.returncode == 1 and "no devnet running" in after.stdout


def test_down_without_a_devnet_says_so(tmp_path: Path) -> None:
    with pytest.raises(DevnetError, match="no devnet running"):
        down(tmp_path)
