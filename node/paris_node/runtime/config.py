"""One typed configuration for every Paris daemon.

Values come, lowest precedence first, from the defaults below, the `devnet.json` a local devnet wrote,
a TOML file, and `PARIS_<FIELD>` environment variables. Secrets are not fields: the signing key comes from
`PARIS_PRIVATE_KEY` or an encrypted keystore (see `paris_node.runtime.keys`), so a config can be printed safely.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tomllib
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ENV_PREFIX = "PARIS_"


class ConfigError(ValueError):
    """A configuration value is missing, unknown or of the wrong type; the message names it and its source."""


@dataclass(frozen=True)
class Config:
    rpc_url: str = "http://127.0.0.1:8545"
    ipfs_api: str = "http://127.0.0.1:5001"
    contract: str = ""
    chain_id: int = 31337
    keystore: Path | None = None
    data_dir: Path = Path(".paris")
    p2p_listen: str = "/ip4/127.0.0.1/tcp/0"
    p2p_bootstrap: tuple[str, ...] = ()
    ipfs_timeout_s: float = 30.0
    rpc_timeout_s: float = 10.0
    max_object_bytes: int = 512 * 1024 * 1024
    log_level: str = "INFO"
    deploy_block: int = 0  # where event scans start
    device: str = "cpu"  # torch device for training ("cpu", "cuda", "cuda:1")
    jobs: tuple[int, ...] = ()  # only these job ids; empty: every job
    experts: tuple[int, ...] = ()  # only these experts; empty: every expert
    poll_s: float = 1.0
    status_api: str = "127.0.0.1:0"  # host:port of a daemon's HTTP status API; port 0 picks one; "" turns it off
    heartbeat_s: float = 2.0  # gossip heartbeat interval
    dead_after_missed: int = 3  # heartbeats missed before a peer counts as dead


_FIELDS = {f.name: f for f in dataclasses.fields(Config)}
_HINTS = typing.get_type_hints(Config)


def _coerce(name: str, raw: Any, source: str) -> Any:
    """Turn a TOML or env value into the field's type, or say which field and source were wrong."""
    hint = _HINTS[name]
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    optional = isinstance(hint, types.UnionType) and len(args) == 1
    target = args[0] if optional else hint
    if optional and raw in ("", None):
        return None
    try:
        if typing.get_origin(target) is tuple:
            item = typing.get_args(target)[0]
            items = raw.split(",") if isinstance(raw, str) else list(raw)
            return tuple(item(str(i).strip()) for i in items if str(i).strip())
        if target in (int, float) and isinstance(raw, bool):
            raise TypeError("a boolean is not a number")
        if target is int and isinstance(raw, str):
            return int(raw.replace("_", ""))
        return target(raw)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{source}: {name}={raw!r} is not a valid {target.__name__}: {exc}") from exc


def _apply(values: dict[str, Any], updates: Mapping[str, Any], source: str) -> None:
    for key, raw in updates.items():
        if key not in _FIELDS:
            raise ConfigError(f"{source}: unknown setting {key!r}; known: {', '.join(sorted(_FIELDS))}")
        values[key] = _coerce(key, raw, source)


def devnet_settings(devnet_file: Path) -> dict[str, Any]:
    """The settings a running local devnet published in its `devnet.json`."""
    try:
        info = json.loads(devnet_file.read_text())
        return {"rpc_url": info["rpc_url"], "ipfs_api": info["ipfs_api"], "contract": info["contract"],
                "chain_id": info["chain_id"], "deploy_block": info.get("deploy_block", 0),
                "p2p_bootstrap": tuple(info.get("bootstrap", ()))}
    except (OSError, ValueError, KeyError) as exc:
        raise ConfigError(f"{devnet_file}: not a readable devnet.json ({exc})") from exc


def load(path: Path | None = None, devnet_file: Path | None = None,
         env: Mapping[str, str] | None = None) -> Config:
    """Build the config: defaults < devnet.json < TOML file < PARIS_* environment."""
    env = os.environ if env is None else env
    values: dict[str, Any] = {}
    if devnet_file is not None:
        _apply(values, devnet_settings(devnet_file), str(devnet_file))
    if path is not None:
        try:
            table = tomllib.loads(path.read_text())
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"{path}: cannot read config: {exc}") from exc
        _apply(values, table.get("paris", table), str(path))
    env_values = {k[len(ENV_PREFIX):].lower(): v for k, v in env.items()
                  if k.startswith(ENV_PREFIX) and k[len(ENV_PREFIX):].lower() in _FIELDS}
    _apply(values, env_values, "environment")
    return Config(**values)
