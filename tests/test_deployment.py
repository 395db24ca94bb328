"""`paris market deploy`: the market stood up on any EVM RPC with a keystore, and the deployment file that
every participant joins it with through `--config` (no key in it; a different market version refused)."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from paris_node.market.chain import ChainError, MarketParams
from paris_node.runtime.config import ConfigError
from paris_node.runtime.deployment import deploy_market
from paris_node.runtime.devnet import DEVNET_PASSWORD, DevnetInfo, devnet_account
from paris_node.runtime.keys import KEY_ENV, PASSWORD_ENV
from paris_sdk.cli import app
from paris_sdk.client import Client


def test_a_market_deployed_by_the_cli_is_joined_through_its_deployment_file(
        devnet: DevnetInfo, devnet_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "studio.toml"
    monkeypatch.setenv(PASSWORD_ENV, DEVNET_PASSWORD)
    result = CliRunner().invoke(app, ["market", "deploy", "--rpc", devnet.rpc_url, "--out", str(out),
                                      "--keystore", str(DevnetInfo.read(devnet_dir).keystore("miner-5")),
                                      "--bootstrap", devnet.bootstrap[0], "--vote-window", "45s"])
    assert result.exit_code == 0, result.output
    text = out.read_text()
    written = tomllib.loads(text)
    settings, record = written["paris"], written["deployment"]
    assert settings["contract"] != devnet.contract and settings["chain_id"] == devnet.chain_id
    assert settings["p2p_bootstrap"] == devnet.bootstrap[:1] and settings["deploy_block"] > 0
    assert record["deployer"] == devnet_account(9).address and record["vote_window_s"] == 45
    assert DEVNET_PASSWORD not in text and devnet_account(9).key.hex()[2:] not in text.lower()
    abi = json.loads((tmp_path / record["abi"]).read_text())
    assert {"submitDelta", "commitVote"} <= {item.get("name") for item in abi}

    monkeypatch.setenv("PARIS_IPFS_API", devnet.ipfs_api)
    monkeypatch.setenv(KEY_ENV, devnet_account(8).key.hex())
    client = Client.from_config(out)
    assert client.chain.contract.address == settings["contract"] and client.chain.call("VOTE_WINDOW") == 45

    out.write_text(text.replace(record["abi_sha256"], "ab" * 32))
    with pytest.raises(ConfigError, match="deployed with ABI abababababab"):
        Client.from_config(out)


def test_deploying_to_an_rpc_that_does_not_answer_names_it(tmp_path: Path) -> None:
    with pytest.raises(ChainError, match=re.escape("no EVM JSON-RPC answers at http://127.0.0.1:9")):
        deploy_market("http://127.0.0.1:9", devnet_account(9), MarketParams(), tmp_path / "x.toml")
    assert not (tmp_path / "x.toml").exists()
