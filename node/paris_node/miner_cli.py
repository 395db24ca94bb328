"""`paris-miner`: the miner daemon (`mine`) and the aggregator mode (`aggregate`).

Aggregation is a mode of the miner's command rather than a program of its own: it needs exactly the same
keystore, chain, IPFS and job plumbing, and an aggregator is a staked participant like a miner.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import signal
import threading
from pathlib import Path

import typer

from paris_node.chain import Chain, ChainError
from paris_node.config import ENV_PREFIX, Config, ConfigError
from paris_node.config import load as load_config
from paris_node.devnet import DEVNET_FILE, DEVNET_PASSWORD, DevnetError, DevnetInfo
from paris_node.keys import PASSWORD_ENV, SigningKeyError, load_account
from paris_node.store import IpfsStore, StoreError

app = typer.Typer(help="Paris miner: train experts for escrowed rewards; or aggregate a job's rounds.",
                  no_args_is_help=True, pretty_exceptions_enable=False)

ConfigOption = typer.Option(None, "--config", help="TOML config file ([paris] table; see paris_node.config).")
DevnetOption = typer.Option(Path(".paris/devnet"), "--devnet",
                            help="Directory of a devnet.json to join (used when the file exists).")
RoleOption = typer.Option(None, "--role", help="Use the devnet's keystore for this role (e.g. miner-1).")
KeystoreOption = typer.Option(None, "--keystore", help=f"Encrypted keystore; its password in {PASSWORD_ENV}.")
RpcOption = typer.Option(None, "--rpc", help="Ethereum JSON-RPC URL (overrides config and devnet).")
IpfsOption = typer.Option(None, "--ipfs", help="IPFS (Kubo RPC API) URL (overrides config and devnet).")
JobOption = typer.Option(None, "--job", help="Only these job ids (repeatable); default: every job.")
PollOption = typer.Option(None, "--poll", help="Seconds between passes (default 1).")


def _settings(config_file: Path | None, devnet: Path, **flags: object) -> Config:
    """defaults < devnet.json < TOML < PARIS_* env < command-line flags (those given)."""
    devnet_file = devnet / DEVNET_FILE
    config = load_config(config_file, devnet_file if devnet_file.exists() else None)
    given = {k: tuple(v) if isinstance(v, list) else v for k, v in flags.items() if v not in (None, [])}
    return dataclasses.replace(config, **given)


def _connect(config: Config, devnet: Path, role: str | None) -> tuple[Chain, IpfsStore]:
    env, keystore = dict(os.environ), config.keystore
    if role is not None:
        keystore = DevnetInfo.read(devnet).keystore(role)
        env.setdefault(PASSWORD_ENV, DEVNET_PASSWORD)
    if not config.contract:
        raise ConfigError(f"no contract address: start a devnet (`paris devnet up`), pass --config, or set "
                          f"{ENV_PREFIX}CONTRACT")
    chain = Chain(config.rpc_url, config.contract, load_account(keystore, env), config.rpc_timeout_s)
    return chain, IpfsStore(config.ipfs_api, config.ipfs_timeout_s, config.max_object_bytes)


def _run(daemon, poll_s: float) -> None:  # type: ignore[no-untyped-def]
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    daemon.run(stop, poll_s)


@app.command()
def mine(config_file: Path | None = ConfigOption, devnet: Path = DevnetOption, role: str | None = RoleOption,
         keystore: Path | None = KeystoreOption, rpc: str | None = RpcOption, ipfs: str | None = IpfsOption,
         job: list[int] | None = JobOption,
         expert: list[int] | None = typer.Option(None, "--expert", help="Only these experts (repeatable)."),
         device: str | None = typer.Option(None, "--device", help="Training device: cpu (default), cuda, cuda:N."),
         work_dir: Path | None = typer.Option(None, "--work-dir",
                                              help="Journal, states and caches (default: <data_dir>/miner)."),
         poll: float | None = PollOption) -> None:
    """Follow jobs, train rounds, submit deltas, answer challenges and withdraw earnings until stopped."""
    from paris_node.miner_daemon import MinerDaemon

    config = _settings(config_file, devnet, keystore=keystore, rpc_url=rpc, ipfs_api=ipfs, jobs=job,
                       experts=expert, device=device, poll_s=poll)
    chain, store = _connect(config, devnet, role)
    work_dir = work_dir or config.data_dir / "miner"
    logging.getLogger(__name__).info("miner %s on %s, work dir %s", chain.account.address, config.device, work_dir)
    daemon = MinerDaemon(chain, store, work_dir, config.deploy_block, set(config.jobs) or None,
                         set(config.experts) or None, device=config.device)
    _run(daemon, config.poll_s)


@app.command()
def aggregate(config_file: Path | None = ConfigOption, devnet: Path = DevnetOption, role: str | None = RoleOption,
              keystore: Path | None = KeystoreOption, rpc: str | None = RpcOption, ipfs: str | None = IpfsOption,
              job: list[int] | None = JobOption,
              round_timeout: float = typer.Option(30.0, "--round-timeout",
                                                  help="Seconds to wait for undecided deltas once one passed."),
              min_wait: float = typer.Option(0.0, "--min-wait",
                                             help="Seconds a round stays open for submissions once one passed."),
              poll: float | None = PollOption) -> None:
    """Merge passing deltas of the jobs this account aggregates, round after round, until stopped."""
    from paris_node.aggregator_daemon import AggregatorDaemon

    config = _settings(config_file, devnet, keystore=keystore, rpc_url=rpc, ipfs_api=ipfs, jobs=job, poll_s=poll)
    chain, store = _connect(config, devnet, role)
    _run(AggregatorDaemon(chain, store, config.deploy_block, set(config.jobs) or None, round_timeout, min_wait),
         config.poll_s)


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    try:
        app()
    except (ConfigError, DevnetError, ChainError, StoreError, SigningKeyError) as exc:
        logging.getLogger("paris-miner").error("%s", exc)
        raise SystemExit(1) from exc
