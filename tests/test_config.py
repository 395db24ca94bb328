"""Config precedence and error messages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from paris_node.runtime.config import Config, ConfigError, load


def _devnet_file(tmp_path: Path) -> Path:
    path = tmp_path / "devnet.json"
    path.write_text(json.dumps({"rpc_url": "http://127.0.0.1:1111", "ipfs_api": "http://127.0.0.1:2222",
                                "contract": "0xabc", "chain_id": 31337}))
    return path


def test_defaults() -> None:
    assert load(env={}) == Config()


def test_precedence_devnet_then_toml_then_env(tmp_path: Path) -> None:
    toml = tmp_path / "paris.toml"
    toml.write_text('[paris]\nipfs_api = "http://127.0.0.1:3333"\nrpc_timeout_s = 4\np2p_bootstrap = ["/a", "/b"]\n')
    config = load(toml, _devnet_file(tmp_path), env={"PARIS_RPC_TIMEOUT_S": "2.5", "PARIS_DATA_DIR": "/tmp/x"})
    assert config.rpc_url == "http://127.0.0.1:1111"  # from devnet.json
    assert config.contract == "0xabc"
    assert config.ipfs_api == "http://127.0.0.1:3333"  # TOML over devnet.json
    assert config.rpc_timeout_s == 2.5  # env over TOML
    assert config.data_dir == Path("/tmp/x")
    assert config.p2p_bootstrap == ("/a", "/b")


def test_env_list_and_optional_path() -> None:
    config = load(env={"PARIS_P2P_BOOTSTRAP": "/x, /y", "PARIS_KEYSTORE": "k.json"})
    assert config.p2p_bootstrap == ("/x", "/y")
    assert config.keystore == Path("k.json")


def test_unknown_key_names_file_and_key(tmp_path: Path) -> None:
    toml = tmp_path / "paris.toml"
    toml.write_text('rpc_ulr = "x"\n')
    with pytest.raises(ConfigError, match=r"paris.toml: unknown setting 'rpc_ulr'"):
        load(toml, env={})


def test_bad_type_names_source_and_value() -> None:
    with pytest.raises(ConfigError, match=r"environment: chain_id='abc' is not a valid int"):
        load(env={"PARIS_CHAIN_ID": "abc"})


def test_unreadable_devnet_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"not a readable devnet.json"):
        load(devnet_file=tmp_path / "missing.json", env={})


def test_integer_lists_and_deploy_block(tmp_path: Path) -> None:
    toml = tmp_path / "paris.toml"
    toml.write_text('[paris]\njobs = [3, 4]\ndevice = "cuda:1"\n')
    devnet_file = _devnet_file(tmp_path)
    devnet_file.write_text(json.dumps({**json.loads(devnet_file.read_text()), "deploy_block": 7}))
    config = load(toml, devnet_file, env={"PARIS_EXPERTS": "0, 2"})
    assert (config.jobs, config.experts, config.device, config.deploy_block) == ((3, 4), (0, 2), "cuda:1", 7)
    with pytest.raises(ConfigError, match=r"environment: jobs='x' is not a valid tuple"):
        load(env={"PARIS_JOBS": "x"})
