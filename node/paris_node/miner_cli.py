"""`paris-miner`: the miner daemon (`mine`) and the aggregator mode (`aggregate`).

Aggregation is a mode of the miner's command rather than a program of its own: it needs exactly the same
keystore, chain, IPFS and job plumbing, and an aggregator is a staked participant like a miner.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from pathlib import Path

import typer

from paris_node.chain import Chain, ChainError
from paris_node.devnet import DEVNET_PASSWORD, DevnetError, DevnetInfo
from paris_node.keys import PASSWORD_ENV, SigningKeyError, load_account
from paris_node.store import IpfsStore, StoreError

app = typer.Typer(help="Paris miner: train experts for escrowed rewards; or aggregate a job's rounds.",
                  no_args_is_help=True, pretty_exceptions_enable=False)

DevnetOption = typer.Option(Path(".paris/devnet"), "--devnet", help="Directory of the devnet.json to join.")
RoleOption = typer.Option(None, "--role", help="Use the devnet's keystore for this role (e.g. miner-1).")
KeystoreOption = typer.Option(None, "--keystore", help=f"Encrypted keystore; its password in {PASSWORD_ENV}.")
JobOption = typer.Option(None, "--job", help="Only these job ids (repeatable); default: every job.")


def _connect(devnet: Path, role: str | None, keystore: Path | None) -> tuple[Chain, IpfsStore, DevnetInfo]:
    info = DevnetInfo.read(devnet)
    env = dict(os.environ)
    if role is not None:
        keystore = info.keystore(role)
        env.setdefault(PASSWORD_ENV, DEVNET_PASSWORD)
    account = load_account(keystore, env)
    return Chain(info.rpc_url, info.contract, account), IpfsStore(info.ipfs_api), info


def _run(daemon, poll_s: float) -> None:  # type: ignore[no-untyped-def]
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    daemon.run(stop, poll_s)


@app.command()
def mine(devnet: Path = DevnetOption, role: str | None = RoleOption, keystore: Path | None = KeystoreOption,
         job: list[int] | None = JobOption,
         expert: list[int] | None = typer.Option(None, "--expert", help="Only these experts (repeatable)."),
         work_dir: Path = typer.Option(Path(".paris/miner"), "--work-dir", help="Journal, states and caches."),
         poll: float = typer.Option(1.0, "--poll", help="Seconds between passes.")) -> None:
    """Follow jobs, train rounds, submit deltas, answer challenges and withdraw earnings until stopped."""
    from paris_node.miner_daemon import MinerDaemon

    chain, store, info = _connect(devnet, role, keystore)
    logging.getLogger(__name__).info("miner %s, work dir %s", chain.account.address, work_dir)
    daemon = MinerDaemon(chain, store, work_dir, info.deploy_block, set(job) if job else None,
                         set(expert) if expert else None)
    _run(daemon, poll)


@app.command()
def aggregate(devnet: Path = DevnetOption, role: str | None = RoleOption, keystore: Path | None = KeystoreOption,
              job: list[int] | None = JobOption,
              round_timeout: float = typer.Option(30.0, "--round-timeout",
                                                  help="Seconds to wait for undecided deltas once one passed."),
              min_wait: float = typer.Option(0.0, "--min-wait",
                                             help="Seconds a round stays open for submissions once one passed."),
              poll: float = typer.Option(1.0, "--poll", help="Seconds between passes.")) -> None:
    """Merge passing deltas of the jobs this account aggregates, round after round, until stopped."""
    from paris_node.aggregator_daemon import AggregatorDaemon

    chain, store, info = _connect(devnet, role, keystore)
    _run(AggregatorDaemon(chain, store, info.deploy_block, set(job) if job else None, round_timeout, min_wait), poll)


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    try:
        app()
    except (DevnetError, ChainError, StoreError, SigningKeyError) as exc:
        logging.getLogger("paris-miner").error("%s", exc)
        raise SystemExit(1) from exc
