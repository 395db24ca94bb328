"""`paris-validator`: check the deltas of the jobs it follows, post verdicts and scores, slash cheaters."""

from __future__ import annotations

from pathlib import Path

import typer

from paris_node.runtime.cli import (ConfigOption, DevnetOption, IpfsOption, JobOption, KeystoreOption, P2POption,
                                    PollOption, RoleOption, RpcOption, StatusOption, serve, settings)
from paris_node.runtime.cli import main as run_app

app = typer.Typer(help="Paris validator: spot-check miners' training, score useful work, slash cheaters.",
                  no_args_is_help=True, pretty_exceptions_enable=False)


@app.command()
def validate(config_file: Path | None = ConfigOption, devnet: Path = DevnetOption, role: str | None = RoleOption,
             keystore: Path | None = KeystoreOption, rpc: str | None = RpcOption, ipfs: str | None = IpfsOption,
             job: list[int] | None = JobOption,
             work_dir: Path | None = typer.Option(None, "--work-dir",
                                                  help="Records, error feedback and caches "
                                                       "(default: <data_dir>/validator)."),
             poll: float | None = PollOption, status: str | None = StatusOption,
             p2p: str | None = P2POption,
             stake: float = typer.Option(0.0, "--stake", min=0.0,
                                         help="ETH to bond when unstaked (at least the market's minimum): votes "
                                              "count with their stake.")) -> None:
    """Follow submissions until stopped: verify each delta, vote, and slash what fails."""
    from paris_validator.daemon import ValidatorDaemon

    config = settings(config_file, devnet, keystore=keystore, rpc_url=rpc, ipfs_api=ipfs, jobs=job, poll_s=poll,
                      status_api=status, p2p_listen=p2p)
    serve(config, devnet, role, work_dir, "validator", lambda chain, store, work, presence: ValidatorDaemon(
        chain, store, work, config.deploy_block, set(config.jobs) or None, stake_wei=int(stake * 10**18),
        presence=presence))


@app.command()
def status(work_dir: Path = typer.Argument(Path(".paris/validator"), help="The validator's work directory.")) -> None:
    """Print what this validator decided about each delta, and what it could not check yet."""
    from paris_validator.daemon import load_records

    if not work_dir.is_dir():
        typer.echo(f"error: {work_dir} is not a validator's work directory (paris-validator validate --work-dir)",
                   err=True)
        raise typer.Exit(1)
    records = load_records(work_dir)
    if not records:
        typer.echo(f"{work_dir}: no deltas checked yet")
    for record in records:
        verdict = "pass" if record.passed else f"FAIL {record.check}" if record.stage != "pending" else "pending"
        typer.echo(f"{record.delta_id:#x}  job {record.job_id} expert {record.expert} v{record.base_version}  "
                   f"{record.miner}  {verdict}  score {record.score}  {record.outcome}")
        if record.stage == "pending" and record.notes:
            typer.echo(f"    not checked yet: {record.notes[-1]}")


def main() -> None:
    run_app(app, "paris-validator")
