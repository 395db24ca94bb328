"""A local Paris devnet: anvil, an IPFS daemon and the deployed market contract, supervised together.

`Devnet.start()` launches the children on ports they pick themselves (port 0, read back from their logs),
deploys ParisMarket, writes encrypted keystores for the funded accounts and publishes everything in
`devnet.json`. Children die with their supervisor (PR_SET_PDEATHSIG), on `stop()` and on Ctrl-C; a child
that crashes is reported with the last lines of its log. `python -m paris_node.runtime.devnet DIR` is the
detached supervisor behind `paris devnet up --detach`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import ctypes
import json
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import httpx
from eth_account import Account
from eth_account.signers.local import LocalAccount

from paris_node.market.chain import MarketParams, artifact_path, deploy
from paris_node.net.network import bootstrap_peer
from paris_node.net.p2p import P2PHost
from paris_node.runtime.keys import PASSWORD_ENV, write_keystore

log = logging.getLogger(__name__)

CHAIN_ID = 31337
# anvil's well-known development mnemonic: these keys are public and fund nothing outside the devnet.
MNEMONIC = "test test test test test test test test test test test junk"
ROLES = ("deployer", "requester", "aggregator", "validator-1", "validator-2",
         "miner-1", "miner-2", "miner-3", "miner-4", "miner-5")
BALANCE_ETH = 10_000
DEVNET_PASSWORD = "paris-devnet"  # default keystore password for the public devnet keys only
DEVNET_FILE = "devnet.json"
# Short unbonding so that stake withdrawal can be shown in a demo; a 2-block challenge delay; 20 s vote phases
# (a validator replays a tiny model's challenged segments in about a second).
DEVNET_MARKET = MarketParams(min_stake_wei=10**18, unbonding_delay_s=3600, challenge_delay_blocks=2,
                             vote_window_s=20)
START_TIMEOUT_S = 90.0
# anvil mines a block per transaction; an empty block every second on top keeps block hashes (challenge
# seeds) and timestamps moving like a real chain, without making transactions wait for a block time.
BLOCK_INTERVAL_S = 1.0
STOP_TIMEOUT_S = 10.0
REPO_ROOT = Path(__file__).resolve().parents[3]

_API_LINE = re.compile(r"(?:HTTP|RPC) API (?:server )?listening on /ip4/([\d.]+)/tcp/(\d+)")
ANVIL_LINE = re.compile(r"Listening on ([\d.]+):(\d+)")
IPFS_READY_LINE = re.compile("Daemon is ready")


class DevnetError(RuntimeError):
    """The devnet could not start, or is not running; the message says which part and why."""


class ChildCrashed(DevnetError):
    def __init__(self, name: str, code: int | None, tail: str) -> None:
        self.name, self.code, self.tail = name, code, tail
        super().__init__(f"{name} exited with code {code}; last log lines:\n{tail}")


def tool(name: str) -> str:
    """A toolchain binary: the project's node_modules/.bin first (installed by `make setup`), then PATH."""
    local = REPO_ROOT / "node_modules" / ".bin" / name
    if local.exists():
        return str(local)
    found = shutil.which(name)
    if found is None:
        raise DevnetError(f"{name} not found in node_modules/.bin or on PATH: run `make setup`")
    return found


def die_with_parent() -> None:
    """Runs in the child before exec: ask Linux to SIGTERM it when the supervisor dies, even by kill -9."""
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    os.setpgrp()  # out of the terminal's process group: Ctrl-C reaches the supervisor, which stops us in order


@dataclass
class Child:
    name: str
    proc: subprocess.Popen[bytes]
    log_path: Path

    @classmethod
    def start(cls, name: str, argv: list[str], log_path: Path, env: dict[str, str] | None = None) -> Child:
        """Run `argv` with its output in `log_path`, dying with this process (see `die_with_parent`)."""
        with log_path.open("wb") as out:
            proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    env=env, preexec_fn=die_with_parent)
        return cls(name, proc, log_path)

    def tail(self, lines: int = 20) -> str:
        try:
            with self.log_path.open(errors="replace") as handle:
                return "".join(deque(handle, maxlen=lines)).rstrip()
        except OSError:
            return "(no log)"

    def wait_for_line(self, pattern: re.Pattern[str], timeout_s: float) -> re.Match[str]:
        """Block until the child's log has a line matching `pattern`, or raise with its log tail."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for line in self.log_path.read_text(errors="replace").splitlines():
                if match := pattern.search(line):
                    return match
            if self.proc.poll() is not None:
                raise ChildCrashed(self.name, self.proc.returncode, self.tail())
            time.sleep(0.1)
        raise DevnetError(f"{self.name} did not become ready within {timeout_s:.0f}s; last log lines:\n{self.tail()}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                log.warning("%s ignored SIGTERM for %.0fs; killing it", self.name, STOP_TIMEOUT_S)
                self.proc.kill()
                self.proc.wait()


@dataclass
class DevnetInfo:
    """What `devnet.json` holds: everything a client needs to join the devnet."""

    chain_id: int
    rpc_url: str
    ipfs_api: str
    ipfs_daemon: str
    contract: str
    abi: str
    deploy_block: int
    supervisor_pid: int
    pids: dict[str, int]
    accounts: list[dict[str, str]]
    keystore_password_env: str = PASSWORD_ENV
    startup_s: float = 0.0
    bootstrap: list[str] = field(default_factory=list)  # libp2p multiaddrs of the devnet's bootstrap peer

    @classmethod
    def read(cls, directory: Path) -> DevnetInfo:
        path = directory / DEVNET_FILE
        try:
            return cls(**json.loads(path.read_text()))
        except FileNotFoundError as exc:
            raise DevnetError(f"no devnet running in {directory} ({path} missing): run `paris devnet up`") from exc
        except (ValueError, TypeError) as exc:
            raise DevnetError(f"{path} is not a valid devnet.json: {exc}") from exc

    def _account(self, role: str) -> dict[str, str]:
        for account in self.accounts:
            if account["role"] == role:
                return account
        raise DevnetError(f"devnet has no account with role {role!r}; roles: {', '.join(ROLES)}")

    def keystore(self, role: str) -> Path:
        return Path(self._account(role)["keystore"])

    def address(self, role: str) -> str:
        return self._account(role)["address"]


def devnet_account(index: int) -> LocalAccount:
    """The devnet's funded account number `index`, derived from the public development mnemonic."""
    Account.enable_unaudited_hdwallet_features()
    return Account.from_mnemonic(MNEMONIC, account_path=f"m/44'/60'/0'/0/{index}")


def ipfs_launcher(repo: Path, address: str = "127.0.0.1", api_port: int = 0,
                  swarm_port: int | None = None) -> tuple[str, list[str], Callable[[], None]]:
    """How to start an IPFS daemon: a kubo binary on PATH when there is one, else the npm js-ipfs. Offline on
    `address` without `swarm_port`; with it, online there, with no bootstrap peers and no discovery."""
    env = {**os.environ, "IPFS_PATH": str(repo)}
    api = f"/ip4/{address}/tcp/{api_port}"
    swarm = f"/ip4/{address}/tcp/{0 if swarm_port is None else swarm_port}"
    mode = ["--offline"] if swarm_port is None else []
    kubo = shutil.which("kubo") or shutil.which("ipfs")
    if kubo:
        def init_kubo() -> None:
            subprocess.run([kubo, "init", "--profile=test", "--empty-repo"], env=env, check=True, capture_output=True)
            for key, value in (("Addresses.API", json.dumps(api)), ("Addresses.Gateway", "[]"),
                               ("Addresses.Swarm", json.dumps([swarm])), ("Bootstrap", "[]"),
                               ("Discovery.MDNS.Enabled", "false"), ("Routing.Type", '"none"')):
                subprocess.run([kubo, "config", "--json", key, value], env=env, check=True, capture_output=True)
        return "kubo", [kubo, "daemon", *mode], _reporting("kubo", init_kubo)

    jsipfs = tool("jsipfs")

    def init_js() -> None:
        subprocess.run([jsipfs, "init", "--profile=test"], env=env, check=True, capture_output=True, timeout=120)
        config_path = repo / "config"
        config = json.loads(config_path.read_text())
        config["Addresses"].update(API=api, Gateway="", RPC="", Swarm=[swarm], Delegates=[])
        config["Bootstrap"] = []
        config["Discovery"] = {"MDNS": {"Enabled": False}, "webRTCStar": {"Enabled": False}}
        config["Routing"] = {"Type": "none"}
        config_path.write_text(json.dumps(config, indent=2))
    return "js-ipfs", [jsipfs, "daemon", *mode, "--enable-preload=false"], _reporting("js-ipfs", init_js)


def _reporting(kind: str, init: Callable[[], None]) -> Callable[[], None]:
    """`init`, its failure raised as a DevnetError with the tool's own message."""
    def run() -> None:
        try:
            init()
        except subprocess.CalledProcessError as exc:
            raise DevnetError(f"{kind} init failed: {exc.stderr.decode(errors='replace')[-2000:]}") from exc
    return run


def anvil_argv(host: str, port: int) -> list[str]:
    """anvil on `host:port` with the devnet's chain id and funded development accounts."""
    return [tool("anvil"), "--host", host, "--port", str(port), "--chain-id", str(CHAIN_ID), "--mnemonic", MNEMONIC,
            "--accounts", str(len(ROLES)), "--balance", str(BALANCE_ETH)]


def mine_first_block(rpc_url: str) -> None:
    """anvil's genesis block has no prevrandao, which the market refuses to be deployed without: mine one."""
    httpx.post(rpc_url, json={"jsonrpc": "2.0", "id": 1, "method": "anvil_mine", "params": [1]},
               timeout=START_TIMEOUT_S).raise_for_status()


def write_role_keystores(directory: Path) -> list[dict[str, str]]:
    """An encrypted keystore per devnet role in `directory` (password from the env, else the devnet's)."""
    password = os.environ.get(PASSWORD_ENV, DEVNET_PASSWORD)
    accounts = []
    for index, role in enumerate(ROLES):
        account = devnet_account(index)
        path = directory / f"{role}.json"
        write_keystore(path, account.key, password, scrypt_n=2**14)
        accounts.append({"role": role, "address": account.address, "keystore": str(path)})
    return accounts


def tick(rpc_url: str, stopped: threading.Event) -> None:
    """Mine an empty block every BLOCK_INTERVAL_S until `stopped` is set."""
    with httpx.Client(timeout=5.0) as http:
        while not stopped.wait(BLOCK_INTERVAL_S):
            with contextlib.suppress(httpx.HTTPError):  # anvil is stopping or crashed; check() reports it with its log
                http.post(rpc_url, json={"jsonrpc": "2.0", "id": 1, "method": "evm_mine", "params": []})


@dataclass
class Devnet:
    """Starts, supervises and stops one local devnet living in `directory`."""

    directory: Path
    market: MarketParams = DEVNET_MARKET
    children: list[Child] = field(default_factory=list)
    info: DevnetInfo | None = None
    _ticking: threading.Event = field(default_factory=threading.Event)
    _bootstrap: P2PHost | None = None

    def _spawn(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> Child:
        child = Child.start(name, argv, self.directory / f"{name}.log", env)
        self.children.append(child)
        return child

    def start(self) -> DevnetInfo:
        started = time.monotonic()
        self.directory.mkdir(parents=True, exist_ok=True)
        (self.directory / DEVNET_FILE).unlink(missing_ok=True)
        try:
            return self._start(started)
        except BaseException:
            self.stop()
            raise

    def _start(self, started: float) -> DevnetInfo:
        anvil = self._spawn("anvil", anvil_argv("127.0.0.1", 0))
        repo = self.directory / "ipfs-repo"
        shutil.rmtree(repo, ignore_errors=True)
        kind, argv, init = ipfs_launcher(repo)
        init()
        ipfs = self._spawn("ipfs", argv, env={**os.environ, "IPFS_PATH": str(repo)})

        host, port = anvil.wait_for_line(ANVIL_LINE, START_TIMEOUT_S).groups()
        rpc_url = f"http://{host}:{port}"
        mine_first_block(rpc_url)
        contract, deploy_block = deploy(rpc_url, devnet_account(0), self.market)

        accounts = write_role_keystores(self.directory / "keys")

        host, port = ipfs.wait_for_line(_API_LINE, START_TIMEOUT_S).groups()
        ipfs.wait_for_line(IPFS_READY_LINE, START_TIMEOUT_S)
        self._bootstrap = bootstrap_peer(self.directory / "bootstrap.key")
        self.info = DevnetInfo(
            chain_id=CHAIN_ID, rpc_url=rpc_url, ipfs_api=f"http://{host}:{port}", ipfs_daemon=kind,
            contract=contract, abi=str(artifact_path()), deploy_block=deploy_block,
            supervisor_pid=os.getpid(), pids={c.name: c.proc.pid for c in self.children}, accounts=accounts,
            startup_s=round(time.monotonic() - started, 2), bootstrap=list(self._bootstrap.addrs))
        self._ticking.clear()
        threading.Thread(target=tick, args=(rpc_url, self._ticking), name="devnet-blocks", daemon=True).start()
        tmp = self.directory / f"{DEVNET_FILE}.tmp"
        tmp.write_text(json.dumps(asdict(self.info), indent=2))
        tmp.replace(self.directory / DEVNET_FILE)
        log.info("devnet up in %.1fs: rpc %s, ipfs %s (%s), market %s", self.info.startup_s, rpc_url,
                 self.info.ipfs_api, kind, contract)
        return self.info

    def check(self) -> None:
        """Raise ChildCrashed for the first child that is no longer running."""
        for child in self.children:
            if child.proc.poll() is not None:
                raise ChildCrashed(child.name, child.proc.returncode, child.tail())

    def stop(self) -> None:
        self._ticking.set()
        if self._bootstrap is not None:
            self._bootstrap.stop()
            self._bootstrap = None
        for child in reversed(self.children):
            child.stop()
        self.children.clear()
        (self.directory / DEVNET_FILE).unlink(missing_ok=True)

    def __enter__(self) -> DevnetInfo:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()


def supervise(directory: Path, on_ready: Callable[[DevnetInfo], None] = lambda info: None,
              market: MarketParams = DEVNET_MARKET) -> int:
    """Run a devnet of `market` until SIGINT/SIGTERM or a child crash; returns the process exit code."""
    stopping = False

    def request_stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    devnet = Devnet(directory, market)
    try:
        on_ready(devnet.start())
        while not stopping:
            devnet.check()
            time.sleep(0.5)
        return 0
    except DevnetError as exc:
        print(f"devnet: {exc}", file=sys.stderr, flush=True)
        return 1
    finally:
        devnet.stop()


def pid_alive(pid: int) -> bool:
    """Whether `pid` is a running process; a zombie (exited, not yet reaped) is not."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def up_detached(directory: Path, timeout_s: float = START_TIMEOUT_S * 2,
                market: MarketParams = DEVNET_MARKET) -> DevnetInfo:
    """Start a supervisor of a devnet of `market` in the background and return once its devnet.json is written."""
    directory.mkdir(parents=True, exist_ok=True)
    if (directory / DEVNET_FILE).exists():
        info = DevnetInfo.read(directory)
        if pid_alive(info.supervisor_pid):
            raise DevnetError(f"a devnet is already running in {directory} (supervisor pid {info.supervisor_pid})")
        (directory / DEVNET_FILE).unlink()
    log_path = directory / "supervisor.log"
    with log_path.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "paris_node.runtime.devnet", str(directory),
                                 str(market.vote_window_s)], stdout=out,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if (directory / DEVNET_FILE).exists():
            return DevnetInfo.read(directory)
        if proc.poll() is not None:
            raise DevnetError(f"devnet supervisor exited with code {proc.returncode}:\n"
                              f"{Child('supervisor', proc, log_path).tail()}")
        time.sleep(0.2)
    proc.terminate()
    raise DevnetError(f"devnet did not start within {timeout_s:.0f}s; see {log_path}")


def down(directory: Path) -> DevnetInfo:
    """Stop the devnet running in `directory` and wait until its processes are gone."""
    info = DevnetInfo.read(directory)
    pids = [info.supervisor_pid, *info.pids.values()]
    if pid_alive(info.supervisor_pid):
        os.kill(info.supervisor_pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_S * 2
    while any(pid_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    for pid in pids:  # a supervisor that hung leaves its children; do not leave them behind
        if pid_alive(pid):
            os.kill(pid, signal.SIGKILL)
    (directory / DEVNET_FILE).unlink(missing_ok=True)
    return info


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    sys.exit(supervise(Path(sys.argv[1]), market=dataclasses.replace(DEVNET_MARKET, vote_window_s=int(sys.argv[2]))))
