"""The `paris` command line: `paris devnet up|hosts|down|status`, `paris job
submit|list|status|dashboard|watch|sample|admit|remove|cancel`,
`paris market deploy|bootstrap`, `paris demo`, `paris verify-merge`."""

from __future__ import annotations

import dataclasses
import logging
import re
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path

import httpx
import typer
from web3 import Web3
from rich.console import Console
from rich import filesize
from rich.progress import BarColumn, Progress, ProgressColumn, Task, TaskID, TextColumn, TimeElapsedColumn
from rich.text import Text
from rich.table import Table

from paris_node.content.sealing import SealingError
from paris_node.content.store import IpfsStore, StoreError
from paris_node.market.chain import Chain, ChainError, MarketParams
from paris_node.market.index import MarketIndexError
from paris_node.net.network import bootstrap_peer
from paris_node.net.p2p import P2PError
from paris_node.roles.aggregator import AggregatorError, verify_merge
from paris_node.runtime.cli import settings, stop_on_signal, with_version
from paris_node.runtime.config import ConfigError
from paris_node.runtime.devnet import (DEVNET_MARKET, DEVNET_PASSWORD, Devnet, DevnetError, DevnetInfo, down, supervise,
                                       up_detached)
from paris_node.runtime.multihost import MultiHost
from paris_node.runtime.testbed import TestbedError
from paris_node.runtime.deployment import deploy_market
from paris_node.runtime.keys import KEY_ENV, PASSWORD_ENV, SigningKeyError, load_account
from paris_node.settings import SettingError
from paris_sdk.client import UPLOADING, Client, JobError, JobRequest, JobSummary, Merged
from paris_sdk.dashboard import serve_dashboard
from paris_sdk.demo import DemoSettings, run_demo

DEFAULT_DEVNET_DIR = Path(".paris/devnet")
USER_ERRORS = (DevnetError, ChainError, StoreError, ConfigError, SigningKeyError, P2PError, AggregatorError,
               MarketIndexError, TestbedError, JobError, SealingError, TimeoutError)

console = Console(width=None if sys.stdout.isatty() else 200)  # piped: tables and lines unwrapped
app = typer.Typer(help="Paris: train video diffusion experts on a decentralized market.", no_args_is_help=True,
                  pretty_exceptions_enable=False)
devnet_app = typer.Typer(help="Run a local devnet: anvil, an IPFS daemon and the market contract.",
                         no_args_is_help=True)
app.add_typer(devnet_app, name="devnet")
job_app = typer.Typer(help="Request training on your clips, watch it, sample from it, reclaim what is left.",
                      no_args_is_help=True)
app.add_typer(job_app, name="job")
market_app = typer.Typer(help="Stand up a market on any EVM chain for others to join.", no_args_is_help=True)
app.add_typer(market_app, name="market")

DirOption = typer.Option(DEFAULT_DEVNET_DIR, "--dir", help="Where the devnet keeps its state and logs.")
RoleOption = typer.Option("requester", "--as", help="The devnet account to act as.")
ConfigOption = typer.Option(None, "--config", help="Join the deployment a TOML config names instead of the devnet "
                                                   "(key: its keystore, or PARIS_PRIVATE_KEY).")


def _client(directory: Path, role: str, config_file: Path | None) -> Client:
    return Client.from_config(config_file) if config_file is not None else Client.from_devnet(directory, role)


def _describe(info: DevnetInfo, title: str) -> Table:
    table = Table(title=title, show_header=False)
    table.add_row("chain", f"{info.rpc_url} (chain id {info.chain_id})")
    table.add_row("IPFS API", f"{info.ipfs_api} ({info.ipfs_daemon})")
    table.add_row("market contract", info.contract)
    table.add_row("accounts", ", ".join(a["role"] for a in info.accounts))
    table.add_row("start-up", f"{info.startup_s:.1f}s")
    return table


@devnet_app.command("up")
def devnet_up(directory: Path = DirOption,
              detach: bool = typer.Option(False, "--detach", help="Run in the background; stop with `down`."),
              vote_window: str = typer.Option(f"{DEVNET_MARKET.vote_window_s}s", "--vote-window",
                                              help="Each vote phase (commit, then reveal) of the market.")) -> None:
    """Start the devnet; in the foreground it runs until Ctrl-C."""
    market = dataclasses.replace(DEVNET_MARKET, vote_window_s=_seconds("vote_window_s", vote_window))
    if detach:
        info = up_detached(directory, market=market)
        console.print(_describe(info, f"devnet up (background), state in {directory}/devnet.json"))
        return

    def ready(info: DevnetInfo) -> None:
        console.print(_describe(info, f"devnet up, state in {directory}/devnet.json; Ctrl-C stops it"))

    raise typer.Exit(supervise(directory, on_ready=ready, market=market))


def _wait(stop: threading.Event) -> None:
    while not stop.wait(1.0):  # a bounded wait, so the signal handler runs promptly
        pass


HOST_ROLES = ("aggregator", "validator-1", "miner-1", "miner-2", "miner-3", "miner-4", "miner-5")


def _host_rate(spec: str) -> tuple[str, float]:
    name, _, rate = spec.partition("=")
    try:
        mbit = float(rate)
    except ValueError:
        raise typer.BadParameter(f"{spec!r} is not NAME=MBIT (a host name and its link rate in Mbit/s)") from None
    if not name or not mbit > 0:
        raise typer.BadParameter(f"{spec!r}: a host needs a name and a link rate above 0 Mbit/s")
    return name, mbit


@devnet_app.command("hosts")
def devnet_hosts(directory: Path = typer.Option(Path(".paris/hosts"), "--dir", help="Where the network keeps its "
                                                "state and logs."),
                 hosts: list[str] = typer.Option(["studio=40", "validator=40", "miner-a=40", "miner-b=8"], "--host",
                                                 help="NAME=MBIT: a host and its link rate (repeatable)."),
                 vote_window: str = typer.Option("30s", "--vote-window", help="Each vote phase (30s, 2m).")) -> None:
    """Start the devnet over network namespaces, one host each with its own IPFS node (needs root); it runs
    until Ctrl-C, printing how to start a daemon on each host."""
    rates = dict(_host_rate(h) for h in hosts)
    stop = stop_on_signal()
    market = dataclasses.replace(DEVNET_MARKET, vote_window_s=_seconds("vote_window_s", vote_window))
    with MultiHost(directory, rates, market=market) as net:
        assert net.bed is not None
        table = Table(title=f"devnet over hosts, deployment file {net.deployment}")
        for column in ("host", "address", "Mbit/s", "IPFS API"):
            table.add_column(column)
        table.add_row("chain", net.rpc_url, f"{net.chain_rate_mbit:g}", "- (anvil, bootstrap peer)")
        for name, node in net.nodes.items():
            table.add_row(name, node.host.address, f"{node.host.rate_mbit:g}", node.api)
        console.print(table)
        bin_dir = Path(sys.executable).parent
        print(f"A daemon on each host (keystores in {directory}/keys, password from {PASSWORD_ENV}, else "
              f"{DEVNET_PASSWORD!r}):")
        for index, name in enumerate(net.nodes):
            role = HOST_ROLES[min(index, len(HOST_ROLES) - 1)]
            argv = [str(bin_dir / "paris-validator"), "validate"] if role.startswith("validator") else \
                [str(bin_dir / "paris-miner"), "aggregate" if role == "aggregator" else "mine"]
            print(f"  {name}: {net.command(name, argv, role)}")
        print("Ctrl-C stops it.", flush=True)
        _wait(stop)


@devnet_app.command("down")
def devnet_down(directory: Path = DirOption) -> None:
    """Stop the devnet running in the background and every process it started."""
    info = down(directory)
    console.print(f"devnet stopped (supervisor {info.supervisor_pid}, {', '.join(info.pids)})")


@devnet_app.command("status")
def devnet_status(directory: Path = DirOption) -> None:
    """Say whether the devnet answers: chain, IPFS and contract."""
    info = DevnetInfo.read(directory)
    table = _describe(info, f"devnet in {directory}")
    healthy = True
    try:
        chain = Chain(info.rpc_url, info.contract, timeout_s=3)
        table.add_row("chain status", f"up, block {chain.w3.eth.block_number}")
    except ChainError as exc:
        healthy = False
        table.add_row("chain status", f"[red]{exc}[/red]")
    try:
        with IpfsStore(info.ipfs_api, timeout_s=3) as store:
            table.add_row("IPFS status", f"up, version {store.version()}")
    except StoreError as exc:
        healthy = False
        table.add_row("IPFS status", f"[red]{exc}[/red]")
    console.print(table)
    raise typer.Exit(0 if healthy else 1)


@market_app.command("deploy")
def market_deploy(rpc: str = typer.Option(..., "--rpc", help="JSON-RPC URL of the chain the participants share."),
                  keystore: Path | None = typer.Option(None, "--keystore", help="The deployer's encrypted keystore "
                                                       f"(password in {PASSWORD_ENV}); else {KEY_ENV}."),
                  out: Path = typer.Option(Path("paris.toml"), "--out", help="The deployment file to write."),
                  bootstrap: list[str] = typer.Option([], "--bootstrap", help="A libp2p multiaddr participants "
                                                      "dial first (repeatable)."),
                  min_stake_eth: float = typer.Option(1.0, "--min-stake-eth"),
                  unbonding: str = typer.Option(f"{MarketParams.unbonding_delay_s}s", "--unbonding",
                                                help="How long a stake stays bonded after unstaking."),
                  challenge_delay_blocks: int = typer.Option(MarketParams.challenge_delay_blocks,
                                                             "--challenge-delay-blocks"),
                  vote_window: str = typer.Option(f"{MarketParams.vote_window_s}s", "--vote-window",
                                                  help="Each vote phase (commit, then reveal).")) -> None:
    """Deploy the market and write the deployment file every participant joins with (`--config`)."""
    params = MarketParams(Web3.to_wei(min_stake_eth, "ether"), _seconds("unbonding_delay_s", unbonding),
                          challenge_delay_blocks, _seconds("vote_window_s", vote_window))
    settings = deploy_market(rpc, load_account(keystore), params, out, bootstrap)
    console.print(f"market {settings['contract']} on chain {settings['chain_id']} (block {settings['deploy_block']}); "
                  f"join with --config {out}")


@market_app.command("bootstrap")
def market_bootstrap(identity: Path = typer.Option(Path("bootstrap.key"), "--identity",
                                                   help="The peer's ed25519 identity (made on first use)."),
                     listen: str = typer.Option("/ip4/0.0.0.0/tcp/4002", "--listen",
                                                help="The libp2p multiaddr to listen on.")) -> None:
    """Run a bootstrap peer until Ctrl-C or SIGTERM: pass its address to `market deploy --bootstrap`."""
    stop = stop_on_signal()
    host = bootstrap_peer(identity, listen)
    try:
        for addr in host.addrs:
            console.print(f"bootstrap peer {addr}/p2p/{host.peer_id}", soft_wrap=True)
        _wait(stop)
    finally:
        host.stop()


@app.command("demo")
def demo(directory: Path = typer.Option(Path(".paris/demo"), "--dir", help="Scratch directory for the demo."),
         experts: int = typer.Option(2, "--experts"), rounds: int = typer.Option(3, "--rounds"),
         miners: int = typer.Option(3, "--miners", help="Honest miners (a cheating one joins them)."),
         local_steps: int = typer.Option(20, "--local-steps"), segment_steps: int = typer.Option(5, "--segment-steps"),
         clips: int = typer.Option(48, "--clips", help="Synthetic clips in the job."),
         port: int = typer.Option(0, "--port", help="Dashboard port (0: any free port; the URL is printed)."),
         private: bool = typer.Option(False, "--private", help="A private job: its data encrypted on IPFS."),
         vote_window: int = typer.Option(DEVNET_MARKET.vote_window_s, "--vote-window", min=5,
                                         help="Seconds of each vote phase on the demo's devnet.")) -> None:
    """Run the whole market on a fresh devnet: a job, miners (one cheating), validators (one lazy), the aggregator."""
    settings = DemoSettings(experts=experts, rounds=rounds, miners=miners, clips=clips, local_steps=local_steps,
                            segment_steps=segment_steps, dashboard_port=port, private=private)
    with console.status("starting devnet (anvil, IPFS, contract)..."):
        devnet = Devnet(directory / "devnet", market=dataclasses.replace(DEVNET_MARKET, vote_window_s=vote_window))
        info = devnet.start()
    try:
        console.print(_describe(info, "devnet up"))
        report = run_demo(directory / "devnet", directory, settings, lambda line: console.print(line, markup=False))
    finally:
        with console.status("stopping devnet..."):
            devnet.stop()
    table = Table(title=f"job {report.job_id}: experts at versions {list(report.versions)}; amounts in ETH")
    for column in ("participant", "deltas", "passed", "failed", "earned", "slashed", "withdrawn"):
        table.add_column(column, justify="left" if column == "participant" else "right", no_wrap=True)
    for p in report.participants:
        table.add_row(p.role + (f" ({p.kind})" if p.kind in ("cheater", "lazy validator") else ""), str(p.submitted),
                      str(p.passed),
                      str(p.failed), f"{p.earned_wei / 10**18:.4f}", f"{p.slashed_wei / 10**18:.4f}",
                      f"{p.withdrawn_wei / 10**18:.4f}")
    console.print(table)
    console.print(f"cheater slashed: {'yes' if report.cheater_slashed else 'NO'}; lazy validator slashed: "
                  f"{'yes' if report.lazy_slashed else 'NO'}; {report.seconds:.0f}s")
    console.print(f"sample video: {report.sample}", soft_wrap=True)
    console.print(f"daemon logs: {report.logs}", soft_wrap=True)
    if not (report.cheater_slashed and report.lazy_slashed):
        raise typer.Exit(1)


@app.command("verify-merge")
def verify_merge_command(job: int, expert: int, version: int, directory: Path = DirOption,
                         role: str = RoleOption, config_file: Path | None = ConfigOption) -> None:
    """Rebuild an expert's checkpoint from the job's data and check it is the one recorded on chain (a private
    job's data as an admitted account reads it)."""
    client = _client(directory, role, config_file)
    spec = client.spec(job)
    check = verify_merge(client.index, client.content(job, spec), spec, job, expert, version)
    merged = ", ".join(f"0x{i:064x}"[:12] + "…" for i in check.merged)
    if check.matches:
        console.print(f"[green]verified[/green]: job {job} expert {expert} v{version} = {check.recorded}, "
                      f"rebuilt from v{version - 1} and {len(check.merged)} deltas ({merged})")
        return
    console.print(f"[red]MISMATCH[/red]: rebuilding job {job} expert {expert} v{version} from v{version - 1} and "
                  f"deltas {merged} does not give the recorded checkpoint {check.recorded}")
    raise typer.Exit(1)


DURATION = re.compile(r"(\d+(?:\.\d+)?)([smhd]?)")
# a setting -> the option that sets it, where the names differ
FLAGS = {"reward_eth": "--reward", "deadline_s": "--deadline", "reveal_window_s": "--reveal-window",
         "synthetic_clips": "--clips", "vote_window_s": "--vote-window", "unbonding_delay_s": "--unbonding"}


def _flag(setting: str) -> str:
    """The command-line option of a job setting ("model.dim" is set by --model)."""
    name = setting.split(".")[0]
    return FLAGS.get(name, "--" + name.replace("_", "-"))


def _seconds(setting: str, text: str) -> int:
    """A duration such as 90s, 30m, 24h or 7d (plain numbers are seconds)."""
    match = DURATION.fullmatch(text.strip())
    if match is None:
        raise SettingError(setting, text, "is not a duration such as 3600s, 30m, 24h or 7d")
    return round(float(match.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[match.group(2)])


@job_app.command("submit")
def job_submit(clips: Path | None = typer.Argument(None, help="Folder of video clips (default: the synthetic set)."),
               experts: int = typer.Option(2, "--experts", help="Experts (one per cluster of clips)."),
               rounds: int = typer.Option(3, "--rounds", help="Training rounds per expert."),
               reward: float = typer.Option(1.0, "--reward", help="ETH paid per round (escrowed now)."),
               model: str = typer.Option("tiny", "--model", help="Model size: tiny, small or base."),
               local_steps: int = typer.Option(20, "--local-steps", help="Steps each miner trains per round."),
               segment_steps: int = typer.Option(5, "--segment-steps", help="Steps per trace segment (divides it)."),
               deadline: str = typer.Option("24h", "--deadline", help="How long the job takes deltas (30m, 24h, "
                                                                      "7d); the escrow is locked until then."),
               reveal_window: str = typer.Option("1h", "--reveal-window", help="How long a miner has to reveal "
                                                                               "challenged states."),
               quorum: int = typer.Option(1, "--quorum", help="Validator votes each delta's decision needs."),
               challenges: int = typer.Option(1, "--challenges", help="Random segments replayed per delta "
                                                                      "(besides the last)."),
               private: bool = typer.Option(False, "--private",
                                            help="Encrypt everything; only admitted nodes read it."),
               admit: list[str] = typer.Option([], "--admit", help="Node (address or devnet role) a private job "
                                                                 "admits; repeat for several."),
               aggregator: str = typer.Option("aggregator", "--aggregator", help="Address or devnet role of the "
                                                                                  "job's aggregator."),
               directory: Path = DirOption, role: str = RoleOption, config_file: Path | None = ConfigOption) -> None:
    """Cluster the clips, upload them, and escrow the reward for a new job."""
    request = JobRequest(clips, experts=experts, rounds=rounds, reward_eth=reward, model=model,
                         local_steps=local_steps, segment_steps=segment_steps,
                         deadline_s=_seconds("deadline_s", deadline),
                         reveal_window_s=_seconds("reveal_window_s", reveal_window), quorum=quorum,
                         challenges=challenges, private=private)
    client = _client(directory, role, config_file)
    bars = Progress(TextColumn("{task.description:<20}"), BarColumn(), _Amount(), TimeElapsedColumn(), console=console)
    tasks: dict[str, TaskID] = {}

    def show(stage: str, done: int, total: int) -> None:
        if not tasks:
            bars.start()  # at the first step: a setting refused before it prints its one line alone
        if stage not in tasks:
            tasks[stage] = bars.add_task(stage, total=total, bytes=stage == UPLOADING)
        bars.update(tasks[stage], completed=done, total=total)

    try:
        job_id = client.create_job(dataclasses.replace(request, aggregator=_account(directory, aggregator),
                                                       admit=[_account(directory, who) for who in admit]), show)
    finally:
        if tasks:
            bars.stop()
    _opened(client, job_id, directory, config_file)


class _Amount(ProgressColumn):
    """done/total, in bytes for the uploads."""

    def render(self, task: Task) -> Text:
        if task.fields.get("bytes"):
            return Text(f"{filesize.decimal(int(task.completed))}/{filesize.decimal(int(task.total or 0))}")
        return Text(f"{task.completed:.0f}/{task.total:.0f}")


def _opened(client: Client, job_id: int, directory: Path, config_file: Path | None) -> None:
    """What a requester needs once a job is open: its terms, what each role runs for it to move, where to watch."""
    job, spec = client.chain.job(job_id), client.spec(job_id)
    join = f"--config {config_file}" if config_file is not None else f"--dir {directory}"
    readers = f"; private, readable by {', '.join(sorted(client.members(job_id)))}" if spec.private else ""
    console.print(f"job {job_id} is open: {spec.experts} experts x {job.rounds} rounds, "
                  f"{job.rounds * job.reward_per_round / 10**18:g} ETH escrowed until "
                  f"{_when(job.deadline, client.chain.timestamp())}"
                  f"{readers}", soft_wrap=True)
    console.print("For it to move, run each of these (its own terminal or host):", soft_wrap=True)

    def key(role: str) -> str:  # a devnet account by its role; elsewhere each participant's own keystore
        return f"--as {role}" if config_file is None else "--keystore KEYSTORE.json"

    for who, command in (("miners", f"paris-miner mine {join} {key('miner-1')} --job {job_id}"),
                         ("validators", f"paris-validator validate {join} {key('validator-1')}"),
                         (f"its aggregator {job.aggregator}", f"paris-miner aggregate {join} {key('aggregator')} "
                                                               f"--job {job_id}")):
        console.print(f"  {who}: {command}", soft_wrap=True, highlight=False)
    console.print(f"Watch it: paris job watch {job_id}, paris job status {job_id} or paris job dashboard {job_id} "
                  f"({join})", soft_wrap=True, highlight=False)


def _when(stamp: int, now: int) -> str:
    """A chain time as a UTC date, and how long from `now` (chain time too)."""
    left = stamp - now
    span = f"in {_span(left)}" if left >= 0 else f"{_span(-left)} ago"
    return f"{datetime.fromtimestamp(stamp, UTC):%Y-%m-%d %H:%M} UTC ({span})"


def _span(seconds: float) -> str:
    days, rest = divmod(int(seconds), 86400)
    return f"{days}d {rest // 3600}h" if days else f"{rest // 3600}h {rest % 3600 // 60:02d}m"


def _account(directory: Path, who: str) -> str:
    """An address given as such, or the address of a devnet account named by its role."""
    return who if who.startswith("0x") else DevnetInfo.read(directory).address(who)


@job_app.command("admit")
def job_admit(job: int, who: str = typer.Argument(..., help="Address or devnet role of the node to admit."),
              directory: Path = DirOption, role: str = RoleOption, config_file: Path | None = ConfigOption) -> None:
    """Let a node read a private job: its data keys are sealed to the node's registered X25519 key."""
    address = _account(directory, who)
    _client(directory, role, config_file).admit(job, address)
    console.print(f"{address} admitted to job {job}")


@job_app.command("remove")
def job_remove(job: int, who: str = typer.Argument(..., help="Address or devnet role of the node to remove."),
               directory: Path = DirOption, role: str = RoleOption, config_file: Path | None = ConfigOption) -> None:
    """Stop a node reading what a private job writes from now on (a new data key for everyone else)."""
    address = _account(directory, who)
    _client(directory, role, config_file).remove(job, address)
    console.print(f"{address} removed from job {job}; later checkpoints and deltas use a new key")


@job_app.command("watch")
def job_watch(job: int, directory: Path = DirOption,
              timeout: float = typer.Option(0, "--timeout", help="Give up after this many seconds (0: never)."),
              role: str = RoleOption, config_file: Path | None = ConfigOption) -> None:
    """Print the job's rounds, deltas, scores, merges, payouts and slashes as they happen."""
    client = _client(directory, role, config_file)
    terms = client.chain.job(job)
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                  console=console) as bars:
        tasks = [bars.add_task(f"expert {e}", total=terms.rounds) for e in range(terms.experts)]
        for event in client.follow(job, timeout_s=timeout or None):
            bars.console.print(str(event), markup=False)
            if isinstance(event, Merged):
                bars.update(tasks[event.expert], completed=event.version)


@job_app.command("sample")
def job_sample(job: int, out: Path = typer.Option(Path("sample.gif"), "--out", help="Video to write (.gif or .mp4)."),
               seed: int = typer.Option(0, "--seed"), steps: int = typer.Option(20, "--steps", help="Sampler steps."),
               directory: Path = DirOption, role: str = RoleOption, config_file: Path | None = ConfigOption) -> None:
    """Sample a clip from the job's current experts."""
    client = _client(directory, role, config_file)
    with console.status("downloading the experts and sampling..."):
        path = client.sample(job, out, seed=seed, steps=steps)
        summary, spec = client.summary(job), client.spec(job)
        losses = [client.held_out_loss(job, e, v) for e, v in enumerate(summary.versions)]
    trained = ", ".join(f"expert {e} v{v} ({v * spec.local_steps} steps a miner, held-out loss {loss:.4f})"
                        for e, (v, loss) in enumerate(zip(summary.versions, losses, strict=True)))
    console.print(f"wrote {path}: sampled from {trained}; {summary.passed} deltas passed of {summary.deltas}",
                  soft_wrap=True, highlight=False)


@job_app.command("list")
def job_list(directory: Path = DirOption, role: str = RoleOption, config_file: Path | None = ConfigOption) -> None:
    """Every job on the market: its size, progress, escrow and deadline."""
    client = _client(directory, role, config_file)
    client.index.sync()
    now = client.chain.timestamp()
    table = Table(title=f"jobs on market {client.chain.address}")
    for column in ("job", "experts x rounds", "versions", "escrow ETH", "deadline", "state"):
        table.add_column(column, no_wrap=True)
    for entry in client.index.jobs:
        summary = client.summary(entry.job_id)
        job = summary.job
        table.add_row(str(entry.job_id), f"{job.experts} x {job.rounds}", " ".join(map(str, summary.versions)),
                      f"{job.escrow / 10**18:.4f}", _when(job.deadline, now), _state(summary))
    if not client.index.jobs:
        console.print(f"no jobs on market {client.chain.address} yet: open one with `paris job submit`",
                      soft_wrap=True)
        return
    console.print(table)


def _state(summary: JobSummary) -> str:
    return "closed" if summary.job.closed else "finished" if summary.finished else \
        "deadline passed" if summary.now > summary.job.deadline else "open"


@job_app.command("status")
def job_status(job: int, directory: Path = DirOption, role: str = RoleOption,
               config_file: Path | None = ConfigOption,
               active_s: int = typer.Option(3600, "--active-s", help="A miner whose latest delta is this recent "
                                                                   "counts as active.")) -> None:
    """One job: escrow, deadline, each expert's version and held-out loss, deltas, and its active miners."""
    client = _client(directory, role, config_file)
    summary = client.summary(job)
    terms = summary.job
    console.print(f"job {job}: {_state(summary)}; {terms.experts} experts x {terms.rounds} rounds; escrow "
                  f"{terms.escrow / 10**18:.4f} ETH left of {terms.rounds * terms.reward_per_round / 10**18:g}; "
                  f"deadline {_when(terms.deadline, summary.now)}", soft_wrap=True, highlight=False)
    console.print(f"requester {terms.requester}, aggregator {terms.aggregator}; deltas: {summary.deltas} "
                  f"submitted, {summary.passed} passed, {summary.failed} failed", soft_wrap=True, highlight=False)
    table = Table(title="experts")
    for column in ("expert", "version", "held-out loss (v0 -> now)"):
        table.add_column(column)
    for expert, version in enumerate(summary.versions):
        first, now = client.held_out_loss(job, expert, 0), client.held_out_loss(job, expert, version)
        table.add_row(str(expert), f"{version}/{terms.rounds}", f"{first:.4f} -> {now:.4f}")
    console.print(table)
    active = {m: t for m, t in summary.miners.items() if summary.now - t <= active_s}
    if not active:
        console.print(f"no miner sent a delta in the last {_span(active_s)}: start one with `paris-miner mine "
                      f"--job {job}`", soft_wrap=True)
    for miner, at in sorted(active.items(), key=lambda item: -item[1]):
        console.print(f"  miner {miner}: latest delta {_span(summary.now - at)} ago", soft_wrap=True,
                      highlight=False)


@job_app.command("dashboard")
def job_dashboard(job: int, port: int = typer.Option(8700, "--port", help="Port to serve on (0: any free port)."),
                  host: str = typer.Option("127.0.0.1", "--host", help="Address to serve on."),
                  work_dir: Path = typer.Option(Path(".paris/dashboard"), "--work-dir",
                                                help="The observer's p2p identity and the latest sample."),
                  directory: Path = DirOption, role: str = RoleOption,
                  config_file: Path | None = ConfigOption) -> None:
    """Serve the job's live dashboard until Ctrl-C: experts and their loss, deltas, payouts, every participant's
    liveness and the latest sample."""
    client = _client(directory, role, config_file)
    client.spec(job)  # a job that does not exist is refused before anything is served
    stop = stop_on_signal()
    served = serve_dashboard(client, job, work_dir, settings(config_file, directory).p2p_bootstrap, port, host)
    try:
        console.print(f"dashboard of job {job}: {served.url} (Ctrl-C stops it)", soft_wrap=True)
        _wait(stop)
    finally:
        served.stop()


@job_app.command("cancel")
def job_cancel(job: int, directory: Path = DirOption, role: str = RoleOption,
               config_file: Path | None = ConfigOption) -> None:
    """After the deadline, close the job and withdraw its unspent escrow."""
    wei = _client(directory, role, config_file).cancel(job)
    console.print(f"job {job} closed; withdrew {wei / 10**18:.4f} ETH")


def main() -> None:
    """Entry point: user errors print one actionable line instead of a traceback."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("libp2p").setLevel(logging.CRITICAL)  # redials of daemons that just stopped
    with_version(app, "paris")
    try:
        app()
    except SettingError as exc:
        console.print(f"[red]error:[/red] {_flag(exc.setting)} {exc.value}: {exc.problem}", soft_wrap=True,
                      markup=True, highlight=False)
        sys.exit(1)
    except USER_ERRORS as exc:
        console.print(f"[red]error:[/red] {exc}", soft_wrap=True, highlight=False)
        sys.exit(1)
    except httpx.HTTPError as exc:
        console.print(f"[red]error:[/red] network request failed: {exc}")
        sys.exit(1)
