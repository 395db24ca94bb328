"""What every daemon's command line shares: connection options, layered settings, a signal-aware run loop."""

from __future__ import annotations

import dataclasses
import logging
import os
import signal
import threading
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

import typer
from eth_account.signers.local import LocalAccount

from paris_node.content.store import IpfsStore, StoreError
from paris_node.market.chain import Chain, ChainError
from paris_node.net.gossip import Role
from paris_node.net.network import Members, Network
from paris_node.net.p2p import P2PError
from paris_node.net.presence import Presence
from paris_node.net.status_api import StatusApiError, StatusServer, build_app
from paris_node.roles.daemon import Daemon
from paris_node.runtime.config import ENV_PREFIX, Config, ConfigError
from paris_node.runtime.config import load as load_config
from paris_node.runtime.deployment import check_deployment
from paris_node.runtime.devnet import DEVNET_FILE, DEVNET_PASSWORD, DevnetError, DevnetInfo
from paris_node.runtime.keys import PASSWORD_ENV, SigningKeyError, load_account

ConfigOption = typer.Option(None, "--config",
                            help="TOML config file (a paris table, or top level; see paris_node.runtime.config).")
DevnetOption = typer.Option(Path(".paris/devnet"), "--dir",
                            help="Directory of a devnet.json to join (used when the file exists).")
RoleOption = typer.Option(None, "--as", help="Use the devnet's keystore of this account (miner-1..5, "
                                                       "validator-1..2, aggregator, requester).")
KeystoreOption = typer.Option(None, "--keystore", help=f"Encrypted keystore; its password in {PASSWORD_ENV}.")
RpcOption = typer.Option(None, "--rpc", help="Ethereum JSON-RPC URL (overrides config and devnet).")
IpfsOption = typer.Option(None, "--ipfs", help="IPFS (Kubo RPC API) URL (overrides config and devnet).")
JobOption = typer.Option(None, "--job", help="Only these job ids (repeatable); default: every job.")
PollOption = typer.Option(None, "--poll", help="Seconds between passes (default 1).")
StatusOption = typer.Option(None, "--status", help="host:port of the HTTP status API (port 0: any free port; "
                                                   "empty: off). Its URL is written to <work dir>/status.url.")
P2POption = typer.Option(None, "--p2p", help="libp2p listen multiaddr (empty: no p2p).")


def settings(config_file: Path | None, devnet: Path, **flags: Any) -> Config:
    """defaults < devnet.json < TOML < PARIS_* env < command-line flags (those given)."""
    devnet_file = devnet / DEVNET_FILE
    if config_file is not None:
        check_deployment(config_file)
    config = load_config(config_file, devnet_file if devnet_file.exists() else None)
    given: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v for k, v in flags.items() if v not in (None, [])}
    return dataclasses.replace(config, **given)


def connect(config: Config, devnet: Path, role: str | None) -> tuple[Chain, IpfsStore]:
    env, keystore = dict(os.environ), config.keystore
    if role is not None:
        keystore = DevnetInfo.read(devnet).keystore(role)
        env.setdefault(PASSWORD_ENV, DEVNET_PASSWORD)
    return endpoints(config, load_account(keystore, env))


def endpoints(config: Config, account: LocalAccount | None) -> tuple[Chain, IpfsStore]:
    """The market contract (signing as `account`) and the IPFS node that `config` names."""
    if not config.contract:
        raise ConfigError(f"no contract address: start a devnet (`paris devnet up`), pass --config, or set "
                          f"{ENV_PREFIX}CONTRACT")
    chain = Chain(config.rpc_url, config.contract, account, config.rpc_timeout_s)
    return chain, IpfsStore(config.ipfs_api, config.ipfs_timeout_s, config.max_object_bytes)


def presence(config: Config, chain: Chain, role: Role, work_dir: Path) -> Presence:
    """The daemon's p2p network (identity in <work dir>/p2p.key) and metrics; no network if p2p is off."""
    if not config.p2p_listen or chain.account is None:
        return Presence()
    members = Members(Chain(config.rpc_url, config.contract, None, config.rpc_timeout_s))
    return Presence(Network(chain.account, work_dir / "p2p.key", role, members, config.p2p_listen,
                            config.p2p_bootstrap, config.heartbeat_s, config.dead_after_missed))


Build = Callable[[Chain, IpfsStore, Path, Presence], Daemon]  # (chain, store, work dir, presence) -> daemon


def serve(config: Config, devnet: Path, role: str | None, work_dir: Path | None, kind: Role, build: Build) -> None:
    """Connect as the configured account (or the devnet's `role`), build the daemon in its work directory
    (default <data_dir>/<kind>) with its p2p presence, and run it until SIGTERM or SIGINT."""
    chain, store = connect(config, devnet, role)
    work_dir = work_dir or config.data_dir / kind
    daemon = build(chain, store, work_dir, presence(config, chain, kind, work_dir))
    logging.getLogger(type(daemon).__module__).info("%s %s, work dir %s", kind, daemon.address, work_dir)
    run_until_signalled(daemon, config, work_dir)


def stop_on_signal(log: logging.Logger | None = None) -> threading.Event:
    """An event that SIGTERM or SIGINT (Ctrl-C) sets, so a foreground process can stop in its own time; `log`
    says so once."""
    stop = threading.Event()

    def stopping(signum: int, _frame: object) -> None:
        if log is not None and not stop.is_set():
            log.info("%s: stopping once the current stage is done", signal.Signals(signum).name)
        stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, stopping)
    return stop


def run_until_signalled(daemon: Daemon, config: Config, work_dir: Path) -> None:
    """Start the daemon's network and status API, run it until SIGTERM or SIGINT, then stop them."""
    log = logging.getLogger(type(daemon).__module__)
    stop = stop_on_signal(log)
    network, server = daemon.presence.network, None
    if network is not None:
        network.start()
    try:
        if config.status_api:
            host, _, port = config.status_api.rpartition(":")
            app = build_app(daemon.status, daemon.presence.metrics, lambda: daemon.presence.running)
            server = StatusServer(app, host or "127.0.0.1", int(port)).start()
            work_dir.mkdir(parents=True, exist_ok=True)
            (work_dir / "status.url").write_text(f"http://{server.host}:{server.port}\n")
        daemon.run(stop, config.poll_s)
    finally:
        if server is not None:
            server.stop()
        if network is not None:
            network.stop()
    log.info("stopped")


def with_version(app: typer.Typer, name: str) -> None:
    """Give `app` a --version option: the program's name and the installed paris-network version."""

    def show(value: bool) -> None:
        if value:
            typer.echo(f"{name} {metadata.version('paris-network')}")
            raise typer.Exit()

    @app.callback()
    def root(version: bool = typer.Option(False, "--version", callback=show, is_eager=True,
                                          help="Print the version and exit.")) -> None:
        del version


def main(app: typer.Typer, name: str) -> None:
    """Run a daemon's Typer app; configuration and connection errors end it with one clear line."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    with_version(app, name)
    try:
        app()
    except (ConfigError, DevnetError, ChainError, StoreError, SigningKeyError, P2PError, StatusApiError) as exc:
        logging.getLogger(name).error("%s", exc)
        raise SystemExit(1) from exc
