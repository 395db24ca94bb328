"""A network of hosts on one Linux machine: Paris across machines without leaving this one.

Each host is a network namespace with one address on a private /24, joined by a veth pair to a bridge that
lives in a namespace of its own; the operator (this process) gets a port on the bridge too, unshaped, to
reach the hosts' APIs. No other address is reachable from a host, and the machine's own interfaces are
untouched. Each host's link is shaped with tc tbf in both directions (its uplink on the host side of the
veth, its downlink on the bridge side). This kernel has no netem: links are rate limited, with no added delay.

`Testbed` is a context manager: on exit, on failure, and at interpreter exit, it stops what it started,
kills whatever still runs in its namespaces and deletes them, and with them their links. Needs root and
iproute2 (`make setup` installs it).
"""

from __future__ import annotations

import atexit
import contextlib
import ipaddress
import json
import logging
import os
import secrets
import shutil
import signal
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from paris_node.runtime.devnet import IPFS_READY_LINE, Child, ipfs_launcher

log = logging.getLogger(__name__)

OPERATOR = 1  # the last octet of the operator's own port on the bridge; hosts are numbered from 2
IPFS_API_PORT, IPFS_SWARM_PORT = 5001, 4001
TBF_LATENCY_MS = 200  # how long a packet may wait in a shaped queue before it is dropped
READY_TIMEOUT_S = 120.0
SUBNETS = [f"{a}.{b}" for a in ("10.77", "172.29", "198.18", "198.19") for b in range(256)]  # tried in order


class TestbedError(RuntimeError):
    """The testbed could not be set up; the message names the command and what it said."""

    __test__ = False  # not a pytest test class, despite its name


def _ip(*args: str) -> None:
    result = subprocess.run(["ip", *args], capture_output=True, text=True, check=False)
    if result.returncode:
        raise TestbedError(f"`ip {' '.join(args)}` failed: {result.stderr.strip()}")


def _routes() -> list[ipaddress.IPv4Network]:
    """Where this machine's own namespace routes IPv4 to, in all its tables (its own addresses included)."""
    argv = ["ip", "-j", "-4", "route", "show", "table", "all"]
    result = subprocess.run(argv, capture_output=True, text=True, check=False)
    if result.returncode:
        raise TestbedError(f"`{' '.join(argv)}` failed: {result.stderr.strip()}")
    return [ipaddress.IPv4Network(r["dst"], strict=False) for r in json.loads(result.stdout or "[]")
            if r.get("dst", "default") != "default"]


def free_subnet(routes: Sequence[ipaddress.IPv4Network]) -> str:
    """The first /24 of `SUBNETS` that none of `routes` overlaps, but a default route or one wider than a /8 (a
    VPN's split default, 0.0.0.0/1 and 128.0.0.0/1): a machine whose own address, neighbour or gateway lay inside
    the testbed's /24 would lose it or answer for a host itself, and a testbed left behind by a killed run still
    holds its /24."""
    for prefix in SUBNETS:
        net = ipaddress.IPv4Network(f"{prefix}.0/24")
        if not any(net.overlaps(other) for other in routes if other.prefixlen >= 8):
            return prefix
    raise TestbedError(f"no free /24 for a testbed: this machine routes all of {SUBNETS[0]}.0 to {SUBNETS[-1]}.0")


def _delete(namespace: str) -> None:
    """Kill what still runs in `namespace`, then delete it (and the veth ends inside it)."""
    for pid in subprocess.run(["ip", "netns", "pids", namespace], capture_output=True, text=True,
                              check=False).stdout.split():
        with contextlib.suppress(ProcessLookupError, ValueError):
            os.kill(int(pid), signal.SIGKILL)
    with contextlib.suppress(TestbedError):
        _ip("netns", "del", namespace)


@dataclass(frozen=True)
class Host:
    """One machine of the testbed: a namespace, its address and its link rate (Mbit/s each way)."""

    name: str
    namespace: str
    address: str
    rate_mbit: float

    def wrap(self, argv: Sequence[str]) -> list[str]:
        """`argv` run inside this host's namespace."""
        return ["ip", "netns", "exec", self.namespace, *argv]

    def run(self, argv: Sequence[str], timeout_s: float = 60.0) -> subprocess.CompletedProcess[str]:
        return subprocess.run(self.wrap(argv), capture_output=True, text=True, timeout=timeout_s, check=False)


@dataclass(frozen=True)
class IpfsNode:
    """An IPFS daemon online on one host: its RPC API (reachable from the operator) and its swarm address."""

    host: Host
    api: str
    peer_id: str

    @property
    def multiaddr(self) -> str:
        return f"/ip4/{self.host.address}/tcp/{IPFS_SWARM_PORT}/p2p/{self.peer_id}"


def _tbf(namespace: str, device: str, rate_mbit: float) -> None:
    burst = max(16_000, int(rate_mbit * 1e6 / 8 / 100))  # 10 ms at the rate, at least a few full frames
    _ip("netns", "exec", namespace, "tc", "qdisc", "add", "dev", device, "root", "tbf", "rate",
        f"{rate_mbit}mbit", "burst", str(burst), "latency", f"{TBF_LATENCY_MS}ms")


@dataclass
class Testbed:
    """Hosts named in `rates` (name -> Mbit/s each way), started by `start()` or `with Testbed(...)`."""

    __test__: ClassVar[bool] = False

    rates: dict[str, float]
    directory: Path
    subnet: str = ""  # the hosts' /24 ("10.77.0"); empty: the first free one, chosen by start()
    tag: str = field(default_factory=lambda: secrets.token_hex(3))
    hosts: dict[str, Host] = field(default_factory=dict)
    children: list[Child] = field(default_factory=list)
    _namespaces: list[str] = field(default_factory=list)
    _operator_link: str = ""

    def __post_init__(self) -> None:
        if not 0 < len(self.rates) <= 250:
            raise TestbedError(f"a testbed has 1 to 250 hosts, not {len(self.rates)}")
        if bad := [name for name, rate in self.rates.items() if not rate > 0]:
            raise TestbedError(f"hosts {bad} need a link rate above 0 Mbit/s")

    def __enter__(self) -> Testbed:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    @property
    def operator_address(self) -> str:
        return f"{self.subnet}.{OPERATOR}"

    def start(self) -> Testbed:
        if os.geteuid() != 0 or not (shutil.which("ip") and shutil.which("tc")):
            raise TestbedError("the testbed needs root and iproute2 (`ip`, `tc`): run `make setup` as root")
        self.directory.mkdir(parents=True, exist_ok=True)
        self.subnet = self.subnet or free_subnet(_routes())
        atexit.register(self.stop)
        try:
            self._build()
        except BaseException:
            self.stop()
            raise
        return self

    def _namespace(self, name: str) -> str:
        namespace = f"paris-{self.tag}-{name}"
        _ip("netns", "add", namespace)
        self._namespaces.append(namespace)
        _ip("netns", "exec", namespace, "ip", "link", "set", "lo", "up")
        return namespace

    def _build(self) -> None:
        bridge = self._namespace("bridge")
        _ip("netns", "exec", bridge, "ip", "link", "add", "br0", "type", "bridge")
        _ip("netns", "exec", bridge, "ip", "link", "set", "br0", "up")
        self._operator_link = f"pt{self.tag}o"
        self._attach(bridge, self._operator_link, None, self.operator_address)
        for number, (name, rate) in enumerate(self.rates.items(), start=OPERATOR + 1):
            namespace = self._namespace(name)
            address = f"{self.subnet}.{number}"
            self._attach(bridge, f"pt{self.tag}{number}", namespace, address)
            _tbf(namespace, f"pt{self.tag}{number}", rate)
            _tbf(bridge, f"pt{self.tag}{number}b", rate)
            self.hosts[name] = Host(name, namespace, address, rate)
            self._check_route(address)
        log.info("testbed %s: %s", self.tag, ", ".join(f"{h.name} {h.address} {h.rate_mbit:g} Mbit/s"
                                                      for h in self.hosts.values()))

    def _check_route(self, address: str) -> None:
        """This process reaches `address` over its port on the bridge, not by a route of the machine's own."""
        result = subprocess.run(["ip", "-j", "route", "get", address], capture_output=True, text=True, check=False)
        route = json.loads(result.stdout or "[{}]")[0] if not result.returncode else {}
        if route.get("dev") != self._operator_link:
            raise TestbedError(f"this machine routes {address} by {route.get('type', 'unicast')} route via "
                               f"{route.get('dev', '?')}, not the testbed's bridge: pass another subnet")

    def _attach(self, bridge: str, link: str, namespace: str | None, address: str) -> None:
        """A veth from `namespace` (None: this process's own) to the bridge, with `address` on its near end."""
        _ip("link", "add", link, "type", "veth", "peer", "name", f"{link}b")
        _ip("link", "set", f"{link}b", "netns", bridge)
        _ip("netns", "exec", bridge, "ip", "link", "set", f"{link}b", "master", "br0", "up")
        inside = [] if namespace is None else ["netns", "exec", namespace, "ip"]
        if namespace is not None:
            _ip("link", "set", link, "netns", namespace)
        _ip(*inside, "addr", "add", f"{address}/24", "dev", link)
        _ip(*inside, "link", "set", link, "up")

    def spawn(self, host: str, name: str, argv: Sequence[str], env: dict[str, str] | None = None) -> Child:
        """Start `argv` on `host`, its output in `directory/<host>-<name>.log`; stopped with the testbed. A host
        reaches no proxy of this machine's, so the proxy variables are left out of its environment."""
        env = {k: v for k, v in (os.environ if env is None else env).items() if not k.lower().endswith("_proxy")}
        child = Child.start(f"{host}/{name}", self.hosts[host].wrap(argv), self.directory / f"{host}-{name}.log", env)
        self.children.append(child)
        return child

    def start_ipfs(self, host: str) -> IpfsNode:
        """An IPFS daemon online on `host`: swarm and API on the host's address, no bootstrap peers, no
        discovery; peers are added with `connect`."""
        where = self.hosts[host]
        repo = self.directory / f"{host}-ipfs"
        shutil.rmtree(repo, ignore_errors=True)
        _, argv, init = ipfs_launcher(repo, where.address, IPFS_API_PORT, IPFS_SWARM_PORT)
        init()
        peer_id = json.loads((repo / "config").read_text())["Identity"]["PeerID"]
        child = self.spawn(host, "ipfs", argv, env={**os.environ, "IPFS_PATH": str(repo)})
        child.wait_for_line(IPFS_READY_LINE, READY_TIMEOUT_S)
        return IpfsNode(where, f"http://{where.address}:{IPFS_API_PORT}", peer_id)

    def traffic(self, host: str) -> tuple[int, int]:
        """Bytes `host` has received and sent over its link so far."""
        result = subprocess.run(["ip", "-n", self.hosts[host].namespace, "-s", "-j", "link", "show"],
                                capture_output=True, text=True, check=False)
        if result.returncode:
            raise TestbedError(f"cannot read {host}'s link counters: {result.stderr.strip()}")
        links = [link["stats64"] for link in json.loads(result.stdout) if link["ifname"] != "lo"]
        return sum(s["rx"]["bytes"] for s in links), sum(s["tx"]["bytes"] for s in links)

    def remove(self, host: str) -> None:
        """Pull `host` off the network at once, as a machine that loses power: everything on it is killed
        and its namespace and link are gone."""
        gone = self.hosts.pop(host)
        prefix = f"{host}/"
        for child in [c for c in self.children if c.name.startswith(prefix)]:
            child.proc.kill()
            child.proc.wait()
            self.children.remove(child)
        _delete(gone.namespace)
        self._namespaces.remove(gone.namespace)

    def stop(self) -> None:
        for child in reversed(self.children):
            child.stop()
        self.children.clear()
        for namespace in reversed(self._namespaces):
            _delete(namespace)
        self._namespaces.clear()
        if self._operator_link:
            with contextlib.suppress(TestbedError):
                _ip("link", "del", self._operator_link)  # gone with the bridge already, unless that failed
            self._operator_link = ""
        self.hosts.clear()
        atexit.unregister(self.stop)

