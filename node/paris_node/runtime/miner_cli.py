"""`paris-miner`: the miner daemon (`mine`) and the aggregator mode (`aggregate`).

Aggregation is a mode of the miner's command rather than a program of its own: it needs exactly the same
keystore, chain, IPFS and job plumbing, and an aggregator is a staked participant like a miner.
"""

from __future__ import annotations

from pathlib import Path

import typer

from paris_node.runtime.cli import (ConfigOption, DevnetOption, IpfsOption, JobOption, KeystoreOption, P2POption,
                                    PollOption, RoleOption, RpcOption, StatusOption, serve, settings)
from paris_node.runtime.cli import main as run_app

app = typer.Typer(help="Paris miner: train experts for escrowed rewards; or aggregate a job's rounds.",
                  no_args_is_help=True, pretty_exceptions_enable=False)


@app.command()
def mine(config_file: Path | None = ConfigOption, devnet: Path = DevnetOption, role: str | None = RoleOption,
         keystore: Path | None = KeystoreOption, rpc: str | None = RpcOption, ipfs: str | None = IpfsOption,
         job: list[int] | None = JobOption,
         expert: list[int] | None = typer.Option(None, "--expert", help="Only these experts (repeatable); default: "
                                                                    "those dealt to this miner among the live ones."),
         device: str | None = typer.Option(None, "--device", help="Training device: cpu (default), cuda, cuda:N."),
         work_dir: Path | None = typer.Option(None, "--work-dir",
                                              help="Journal, states and caches (default: <data_dir>/miner)."),
         min_reward: float = typer.Option(0.0, "--min-reward",
                                          help="Skip jobs paying less ETH than this per expert and round."),
         min_reveal_window: int = typer.Option(120, "--min-reveal-window",
                                               help="Skip jobs giving fewer seconds than this to answer a challenge."),
         lanes: int = typer.Option(2, "--lanes", min=1,
                                   help="Deltas to train from one checkpoint: with 2, a second one on other data "
                                        "while the first is checked (up to the job's staleness bound + 1)."),
         assist: bool = typer.Option(False, "--assist",
                                     help="With its own experts waiting on merges and no lane left, train a delta "
                                          "of an expert dealt to other miners (the least covered first)."),
         poll: float | None = PollOption, status: str | None = StatusOption, p2p: str | None = P2POption) -> None:
    """Follow jobs, train rounds, submit deltas, answer challenges and withdraw earnings until stopped."""
    from paris_node.roles.miner_daemon import MinerDaemon, Terms

    config = settings(config_file, devnet, keystore=keystore, rpc_url=rpc, ipfs_api=ipfs, jobs=job,
                       experts=expert, device=device, poll_s=poll, status_api=status, p2p_listen=p2p)
    serve(config, devnet, role, work_dir, "miner", lambda chain, store, work, presence: MinerDaemon(
        chain, store, work, config.deploy_block, set(config.jobs) or None, set(config.experts) or None,
        device=config.device, presence=presence, terms=Terms(int(min_reward * 10**18), min_reveal_window),
        lanes=lanes, assist=assist))


@app.command()
def aggregate(config_file: Path | None = ConfigOption, devnet: Path = DevnetOption, role: str | None = RoleOption,
              keystore: Path | None = KeystoreOption, rpc: str | None = RpcOption, ipfs: str | None = IpfsOption,
              job: list[int] | None = JobOption,
              round_timeout: float = typer.Option(30.0, "--round-timeout",
                                                  help="Seconds to wait for undecided deltas once one passed."),
              min_wait: float = typer.Option(0.0, "--min-wait",
                                             help="Seconds a round stays open for submissions once one passed."),
              work_dir: Path | None = typer.Option(None, "--work-dir",
                                                   help="p2p identity, market index, caches and status URL "
                                                        "(default: <data_dir>/aggregator)."),
              poll: float | None = PollOption, status: str | None = StatusOption,
              p2p: str | None = P2POption) -> None:
    """Merge passing deltas of the jobs this account aggregates, round after round, until stopped."""
    from paris_node.roles.aggregator_daemon import AggregatorDaemon

    config = settings(config_file, devnet, keystore=keystore, rpc_url=rpc, ipfs_api=ipfs, jobs=job, poll_s=poll,
                      status_api=status, p2p_listen=p2p)
    serve(config, devnet, role, work_dir, "aggregator", lambda chain, store, work, presence: AggregatorDaemon(
        chain, store, work, config.deploy_block, set(config.jobs) or None, round_timeout, min_wait, presence))


def main() -> None:
    run_app(app, "paris-miner")
