"""The daemons as real processes on their own devnet: two miners, `paris-validator` and the aggregator run a
round; one miner is killed with SIGKILL right after submitting and resumes, the other
runs from a TOML config file and a keystore instead of the devnet's roles."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import signal
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from paris_node.content.store import IpfsStore
from paris_node.market.chain import Chain, EventCursor
from paris_node.market.index import MarketIndex
from paris_node.roles.aggregator import verify_merge
from paris_node.runtime.devnet import Devnet, DevnetInfo, devnet_account
from paris_node.runtime.miner_cli import main as miner_main
from paris_validator.cli import main as validator_main

from helpers.chain import TEST_MARKET
from helpers.jobs import open_job, tiny_spec
from helpers.pacer import Pacer
from helpers.processes import VALIDATOR, command, paris, spawn
from helpers.wait import wait_for

pytestmark = pytest.mark.devnet  # starts devnets of its own



@pytest.fixture
def net(tmp_path: Path) -> Iterator[tuple[DevnetInfo, Path]]:
    # the validator starts once miner-2 submitted, long after miner-1b revealed: a commit phase it makes on a slow
    # machine, ended by the pacer as soon as it voted
    devnet = Devnet(tmp_path / "devnet", market=dataclasses.replace(TEST_MARKET, vote_window_s=120))
    try:
        yield devnet.start(), tmp_path
    finally:
        devnet.stop()


def _config_file(info: DevnetInfo, tmp: Path, role: str, job_id: int) -> Path:
    """A miner set up the way an operator outside the devnet would: a TOML file and a keystore."""
    path = tmp / f"{role}.toml"
    path.write_text(f'[paris]\nrpc_url = "{info.rpc_url}"\nipfs_api = "{info.ipfs_api}"\n'
                    f'contract = "{info.contract}"\ndeploy_block = {info.deploy_block}\n'
                    f'keystore = "{info.keystore(role)}"\njobs = [{job_id}]\ndevice = "cpu"\n'
                    f'data_dir = "{tmp / role}"\n')
    return path


def _stage(work_dir: Path) -> str:
    records = list(work_dir.glob("rounds/*/round.json"))
    return json.loads(records[0].read_text())["stage"] if records else ""


@pytest.mark.timeout(600)  # its own waits (120 + 120 + 180 + 120 s) name what did not happen first
def test_miners_and_aggregator_finish_a_round_and_a_killed_miner_resumes(net) -> None:
    info, tmp = net
    store = IpfsStore(info.ipfs_api)
    spec, _ = tiny_spec(store, "daemon-test", 32, 1)
    job_id = open_job(info, store, spec)
    requester = Chain(info.rpc_url, info.contract, devnet_account(1))
    work = {"miner-1": tmp / "miner-1", "miner-2": tmp / "miner-2" / "miner"}
    processes = [spawn(tmp, "aggregator", "aggregate", "--as", "aggregator", "--round-timeout", "120",
                         "--min-wait", "2", "--work-dir", str(tmp / "aggregator"))]
    try:
        with Pacer(info, {devnet_account(3).address}):  # the validator-1 spawned below
            victim = spawn(tmp, "miner-1", "mine", "--as", "miner-1", "--work-dir", str(work["miner-1"]))
            wait_for(lambda: _stage(work["miner-1"]) == "submitted", 120, "miner-1 to submit", poll_s=0.2)
            os.kill(victim.pid, signal.SIGKILL)
            victim.wait()
            processes.append(spawn(tmp, "miner-1b", "mine", "--as", "miner-1", "--work-dir", str(work["miner-1"])))
            processes.append(spawn(tmp, "miner-2", "mine", "--config", str(_config_file(info, tmp, "miner-2", job_id)),
                                    devnet="no-devnet-here"))
            # both deltas on chain before any is checked: the aggregator waits for every undecided one
            wait_for(lambda: _stage(work["miner-2"]) in ("submitted", "revealed", "done"), 120, "miner-2 to submit",
                     poll_s=0.2)

            processes.append(spawn(tmp, "validator", "validate", "--as", "validator-1", "--work-dir",
                                    str(tmp / "validator"), command=VALIDATOR))
            wait_for(lambda: requester.version_of(job_id, 0) == 1, 180, "both deltas validated and merged", poll_s=0.2)
            wait_for(lambda: all(_stage(w) == "done" for w in work.values()), 120, "both miners to be paid", poll_s=0.2)
            # The daemons found each other through the devnet's bootstrap peer; the validator's API says so.
            api = (tmp / "validator" / "status.url").read_text().strip()
            report = httpx.get(f"{api}/status", timeout=10).json()
            assert report["role"] == "validator" and report["last_delta"]["passed"] is True, report
            assert {"miner", "aggregator"} <= {p["role"] for p in report["peers"] if p["alive"]}, report["peers"]
            samples = {(s.name, tuple(s.labels.values())): s.value for family in
                       text_string_to_metric_families(httpx.get(f"{api}/metrics", timeout=10).text)
                       for s in family.samples}
            assert samples[("paris_deltas_total", ("verified",))] == 2
            assert httpx.get(f"{(tmp / 'aggregator' / 'status.url').read_text().strip()}/health",
                             timeout=10).json()["status"] == "ok"
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            process.wait(timeout=30)
    for process, name in zip(processes, ("aggregator", "miner-1b", "miner-2", "validator"), strict=True):
        said = (tmp / f"{name}.log").read_text()  # one line on SIGTERM, the stage finished, exit 0
        assert process.returncode == 0 and said.count("SIGTERM: stopping once the current stage is done") == 1, name
        assert ": stopped\n" in said, name
    for entry in (miner_main, validator_main):
        version = command(entry, "--version")
        assert version.returncode == 0 and re.fullmatch(r"paris-(miner|validator) \d+\.\d+\.\d+\n", version.stdout)

    decided = {e.args["deltaId"]: e.args["passed"] for e in requester.events(EventCursor(info.deploy_block),
                                                                              {"DeltaDecided"})}
    assert len(decided) == 2 and all(decided.values())  # the validator daemon passed both
    submitted = [e.args["miner"] for e in requester.events(EventCursor(info.deploy_block), {"DeltaSubmitted"})]
    assert sorted(submitted) == sorted([devnet_account(5).address, devnet_account(6).address])  # no resubmission
    for role in work:
        record = json.loads(next(work[role].glob("rounds/*/round.json")).read_text())
        assert record["outcome"] == "paid", role
    assert verify_merge(MarketIndex(requester, info.deploy_block), store, spec, job_id, 0, 1).matches
    cli = paris("verify-merge", str(job_id), "0", "1", "--dir", str(tmp / "devnet"))
    assert cli.returncode == 0 and "verified" in cli.stdout, cli.stdout + cli.stderr
    wrong = paris("verify-merge", str(job_id), "0", "2", "--dir", str(tmp / "devnet"))
    assert wrong.returncode == 1 and "no ExpertFinalized event for version 2" in wrong.stdout
    withdrawn = [e.args["account"] for e in requester.events(EventCursor(info.deploy_block), {"Withdrawn"})]
    assert set(withdrawn) >= {devnet_account(5).address, devnet_account(6).address}
    store.close()
