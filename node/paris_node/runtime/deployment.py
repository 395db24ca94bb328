"""Standing up a market on any EVM chain, and the file every participant joins it with.

`deploy_market` deploys ParisMarket from the shipped artifact with the deployer's key and writes a deployment
file: a TOML config whose `[paris]` table is what every daemon and the SDK read through `--config` (chain,
contract, deploy block, bootstrap peers) and whose `[deployment]` table records what was deployed (the
deployer, the market's parameters, the ABI written beside it and its hash). `check_deployment` refuses to
join a market whose ABI is not the one this version of Paris ships. No key or password is ever written.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import tomli_w
from eth_account.signers.local import LocalAccount
from web3 import Web3

from paris_node.content.atomic import write_atomic
from paris_node.market.chain import ChainError, MarketParams, deploy, load_artifact
from paris_node.runtime.config import ConfigError


def _abi_bytes() -> bytes:
    return json.dumps(load_artifact().abi, indent=1, sort_keys=True).encode()


def deploy_market(rpc_url: str, account: LocalAccount, params: MarketParams, out: Path,
                  bootstrap: Sequence[str] = (), timeout_s: float = 10.0) -> dict[str, Any]:
    """Deploy the market to the chain at `rpc_url`; write the deployment file `out` (and `out`'s ABI beside
    it); returns the `[paris]` settings written."""
    try:
        chain_id = Web3(Web3.HTTPProvider(rpc_url, request_kwargs={"timeout": timeout_s})).eth.chain_id
    except Exception as exc:  # any transport or JSON-RPC failure: the RPC is not usable
        raise ChainError(f"no EVM JSON-RPC answers at {rpc_url}: {exc}") from exc
    contract, block = deploy(rpc_url, account, params, timeout_s)
    abi = _abi_bytes()
    abi_path = out.with_suffix(".abi.json")
    write_atomic(abi_path, abi)
    settings: dict[str, Any] = {"rpc_url": rpc_url, "chain_id": chain_id, "contract": contract,
                                   "deploy_block": block, "p2p_bootstrap": list(bootstrap)}
    record = {"deployer": account.address, "abi": abi_path.name, "abi_sha256": hashlib.sha256(abi).hexdigest(),
              **dataclasses.asdict(params)}
    write_atomic(out, tomli_w.dumps({"paris": settings, "deployment": record}).encode())
    return settings


def check_deployment(path: Path) -> None:
    """Raise ConfigError when the deployment file at `path` records a market ABI other than the shipped one."""
    try:
        recorded = tomllib.loads(path.read_text()).get("deployment", {}).get("abi_sha256")
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read config: {exc}") from exc
    if recorded is not None and recorded != (shipped := hashlib.sha256(_abi_bytes()).hexdigest()):
        raise ConfigError(f"{path}: the market there was deployed with ABI {recorded[:12]}..., this Paris ships "
                          f"{shipped[:12]}...: upgrade (or downgrade) Paris to the deployment's version")
