"""Every job setting is checked, and named, before anything is uploaded or escrowed: `paris job submit` says
what is wrong in one line and exits 1 with no traceback, no job and no escrow; the SDK's `JobRequest`, the spec
every daemon reads and the terms the contract takes refuse the same values through the same check."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
from multiformats import CID

from paris_node.content.store import IpfsStore
from paris_node.learning.jobspec import JobSpec, JobSpecError
from paris_node.market.chain import Chain, EventCursor, JobTerms
from paris_node.runtime.devnet import DevnetInfo, devnet_account
from paris_node.settings import SettingError, check
from paris_sdk import JobRequest
from paris_node.runtime.miner_cli import app as miner_app
from paris_sdk.cli import app as paris_app
from paris_sdk.cli import main
from paris_validator.cli import app as validator_app

from helpers.jobs import tiny_spec

BAD_SUBMITS = [
    (["--local-steps", "0"], "--local-steps 0: must be at least 1"),
    (["--model", "huge"], "--model huge: must be one of tiny, small, base"),
    (["--reward", "nan"], "--reward nan: must be a finite number"),
    (["--reward", "1e30"], "--reward 1e+30: must be at most"),
    (["--experts", "0", "--rounds", "-1"], "--experts 0: must be at least 1"),
    (["--rounds", "-1"], "--rounds -1: must be at least 1"),
    (["--segment-steps", "3"], "--segment-steps 3: must divide local_steps (20)"),
    (["--deadline", "soon"], "--deadline soon: is not a duration such as 3600s, 30m, 24h or 7d"),
    (["--deadline", "10s"], "--deadline 10: must be at least 60"),
    (["--reveal-window", "10"], "--reveal-window 10: must be at least"),  # the market's MIN_REVEAL_WINDOW
    (["--quorum", "99"], "--quorum 99: must be at most 15"),  # the market's MAX_QUORUM
]


@pytest.mark.parametrize(("args", "said"), BAD_SUBMITS, ids=[" ".join(a) for a, _ in BAD_SUBMITS])
def test_a_bad_setting_is_named_in_one_line_and_nothing_is_escrowed(
        devnet: DevnetInfo, devnet_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        args: list[str], said: str) -> None:
    chain = Chain(devnet.rpc_url, devnet.contract)
    requester = devnet.address("requester")
    jobs, balance = len(list(chain.events(EventCursor(devnet.deploy_block), {"JobCreated"}))), \
        chain.w3.eth.get_balance(requester)
    monkeypatch.setattr(sys, "argv", ["paris", "job", "submit", *args, "--dir", str(devnet_dir)])
    with pytest.raises(SystemExit) as exited:
        main()
    out = capsys.readouterr()
    assert exited.value.code == 1
    assert out.out.startswith("error: " + said) and out.out.count("\n") == 1, out.out  # one line, not wrapped
    assert "Traceback" not in out.out + out.err
    assert len(list(chain.events(EventCursor(devnet.deploy_block), {"JobCreated"}))) == jobs
    assert chain.w3.eth.get_balance(requester) == balance


def test_the_sdk_the_spec_and_the_terms_refuse_through_the_same_check(devnet: DevnetInfo) -> None:
    with pytest.raises(SettingError, match=r"^local_steps 0: must be at least 1$") as refused:
        JobRequest(local_steps=0)
    assert refused.value.setting == "local_steps" and refused.value.value == 0
    with pytest.raises(SettingError, match="batch 0"):
        JobRequest(batch=0)
    spec, _ = tiny_spec(IpfsStore(devnet.ipfs_api), "settings", 8, 3)
    raw = json.loads(spec.to_bytes())
    for field, value, said in (("local_steps", 0, "local_steps 0: must be at least 1"),
                               ("lr", float("inf"), "lr inf: must be a finite number"),
                               ("batch", True, "batch True: must be a whole number")):
        with pytest.raises(JobSpecError, match=f"^job 7: {said}$"):  # what every daemon reads
            JobSpec.from_bytes(json.dumps({**raw, field: value}).encode(), "job 7")
    with pytest.raises(JobSpecError, match=r"model\.heads 3: must divide model\.dim"):
        JobSpec.from_bytes(json.dumps({**raw, "model": {**raw["model"], "heads": 3}}).encode(), "job 7")
    with pytest.raises(SettingError, match=r"deadline 2199023255552: must be at most"):  # what the contract takes
        JobTerms(spec=CID.decode(spec.shards[0]), experts=1, rounds=1, reward_per_round_wei=1, deadline=2**41,
                 aggregator=devnet_account(2).address)
    with pytest.raises(SettingError, match="must be above 0"):
        check("lr", 0.0, 0, None, integer=False, above=True)


def _options(command: Any, path: str) -> Iterator[tuple[str, Any]]:
    """Every option of a click `command` (typer's own copy of click) and its subcommands, with the command line
    that reaches it."""
    for param in command.params:
        if param.param_type_name == "option":
            yield path, param
    for name, sub in getattr(command, "commands", {}).items():
        yield from _options(sub, f"{path} {name}")


def test_every_option_is_spelled_one_way_across_the_commands() -> None:
    names: dict[str, set[str]] = {}  # the thing an option sets -> its spellings
    for program, app in (("paris", paris_app), ("paris-miner", miner_app), ("paris-validator", validator_app)):
        for path, option in _options(typer.main.get_command(app), program):
            assert len(option.opts) == 1, (path, option.opts)  # no alias such as --devnet beside --dir
            names.setdefault(option.opts[0].removesuffix("-s").removesuffix("-eth"), set()).add(option.opts[0])
    assert {n: s for n, s in names.items() if len(s) > 1} == {}  # e.g. --vote-window and --vote-window-s
    assert {"--dir", "--as", "--config", "--vote-window", "--deadline"} <= set().union(*names.values())
