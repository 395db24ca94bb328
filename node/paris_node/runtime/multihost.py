"""The devnet spread over hosts: a `Testbed` whose `chain` host runs anvil and a bootstrap peer (`paris market
bootstrap`), the market deployed on it through `deploy_market` (the path any deployment takes, writing
`deployment.toml` with the bootstrap peer in it), and an online IPFS node on every other host. The harness
peers nothing: daemons find each other from the bootstrap peer and connect their IPFS nodes to the ones
their peers announce (`content_peers`). Daemons run on their host with `--config deployment.toml`, their
host's IPFS node and a keystore (`daemon_env`). Blocks are mined every second, as on the one-machine devnet.
"""

from __future__ import annotations

import os
import re
import shlex
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from paris_node.market.chain import MarketParams
from paris_node.net.p2p import peer_id_of
from paris_node.runtime.deployment import deploy_market
from paris_node.runtime.devnet import (ANVIL_LINE, CHAIN_ID, DEVNET_MARKET, DEVNET_PASSWORD, START_TIMEOUT_S, Child,
                                       DevnetInfo, anvil_argv, devnet_account, mine_first_block, tick,
                                       write_role_keystores)
from paris_node.runtime.keys import PASSWORD_ENV
from paris_node.runtime.testbed import IpfsNode, Testbed

CHAIN_HOST = "chain"
RPC_PORT = 8545
BOOTSTRAP_PORT = 4002
BOOTSTRAP_LINE = re.compile(r"bootstrap peer (\S+)")
DEPLOYMENT_FILE = "deployment.toml"


@dataclass
class MultiHost:
    """`rates`: the hosts besides the chain's (name -> Mbit/s each way); started by `start()` or `with`."""

    directory: Path
    rates: dict[str, float]
    chain_rate_mbit: float = 100.0
    market: MarketParams = DEVNET_MARKET
    bed: Testbed | None = None
    nodes: dict[str, IpfsNode] = field(default_factory=dict)
    accounts: list[dict[str, str]] = field(default_factory=list)
    rpc_url: str = ""
    settings: dict[str, Any] = field(default_factory=dict)  # the deployment file's [paris] table
    _ticking: threading.Event = field(default_factory=threading.Event)

    def __enter__(self) -> MultiHost:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    @property
    def deployment(self) -> Path:
        return self.directory / DEPLOYMENT_FILE

    def start(self) -> MultiHost:
        self.bed = Testbed({CHAIN_HOST: self.chain_rate_mbit, **self.rates}, self.directory).start()
        try:
            chain = self.bed.hosts[CHAIN_HOST]
            anvil = self.bed.spawn(CHAIN_HOST, "anvil", anvil_argv(chain.address, RPC_PORT))
            anvil.wait_for_line(ANVIL_LINE, START_TIMEOUT_S)
            self.rpc_url = f"http://{chain.address}:{RPC_PORT}"
            mine_first_block(self.rpc_url)
            self.accounts = write_role_keystores(self.directory / "keys")
            self.settings = deploy_market(self.rpc_url, devnet_account(0), self.market, self.deployment,
                                          [self._start_bootstrap(chain.address)])
            for host in self.rates:
                self.nodes[host] = self.bed.start_ipfs(host)
            self._ticking.clear()
            threading.Thread(target=tick, args=(self.rpc_url, self._ticking), name="multihost-blocks",
                             daemon=True).start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start_bootstrap(self, address: str) -> str:
        """Run the bootstrap peer on the chain host; its multiaddr."""
        assert self.bed is not None
        identity = self.directory / "bootstrap.key"
        listen = f"/ip4/{address}/tcp/{BOOTSTRAP_PORT}"
        peer = self.bed.spawn(CHAIN_HOST, "bootstrap", [sys.executable, "-c", "from paris_sdk.cli import main; main()",
                                                        "market", "bootstrap", "--identity", str(identity),
                                                        "--listen", listen])
        peer.wait_for_line(BOOTSTRAP_LINE, START_TIMEOUT_S)
        return f"{listen}/p2p/{peer_id_of(identity)}"

    def info(self, host: str) -> DevnetInfo:
        """The network as a DevnetInfo, seen from `host` (its IPFS node)."""
        return DevnetInfo(chain_id=CHAIN_ID, rpc_url=self.rpc_url, ipfs_api=self.nodes[host].api,
                          ipfs_daemon="js-ipfs", contract=self.settings["contract"], abi="",
                          deploy_block=self.settings["deploy_block"], supervisor_pid=0, pids={}, accounts=self.accounts)

    def daemon_env(self, host: str, role: str) -> dict[str, str]:
        """What a daemon on `host` acting as the devnet account `role` needs besides `--config`."""
        keystore = next(a["keystore"] for a in self.accounts if a["role"] == role)
        address = self.nodes[host].host.address
        return {"PARIS_IPFS_API": self.nodes[host].api, "PARIS_KEYSTORE": keystore,
                PASSWORD_ENV: os.environ.get(PASSWORD_ENV, DEVNET_PASSWORD),
                "PARIS_P2P_LISTEN": f"/ip4/{address}/tcp/0", "PARIS_STATUS_API": f"{address}:0"}

    def command(self, host: str, argv: list[str], role: str) -> str:
        """The shell line that runs `argv` on `host` as `role` (the keystore password left to the caller's
        environment)."""
        assert self.bed is not None
        env = {k: v for k, v in self.daemon_env(host, role).items() if k != PASSWORD_ENV}
        line = self.bed.hosts[host].wrap(["env", *(f"{k}={v}" for k, v in env.items()), *argv,
                                          "--config", str(self.deployment)])
        return shlex.join(line)

    def run(self, host: str, name: str, argv: list[str], role: str) -> Child:
        """Start a daemon on `host` as `role`, joined through the deployment file."""
        assert self.bed is not None
        return self.bed.spawn(host, name, [*argv, "--config", str(self.deployment)],
                              env={**os.environ, **self.daemon_env(host, role)})

    def stop(self) -> None:
        self._ticking.set()
        if self.bed is not None:
            self.bed.stop()
            self.bed = None
        self.nodes.clear()
