"""The multi-host testbed: hosts in network namespaces of their own with shaped links, an online IPFS node per
host moving content between hosts by bitswap, CID-verified, and nothing left behind when it stops."""

from __future__ import annotations

import ipaddress
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from paris_node.content.store import IpfsStore
from paris_node.runtime.testbed import Testbed, TestbedError, free_subnet

RECEIVE = "import socket,sys; s=socket.create_server((sys.argv[1], 9000)); c,_=s.accept(); n=0\n" \
          "while (b:=c.recv(65536)): n+=len(b)\nprint(n)"
SEND = "import socket,sys,time; c=socket.create_connection((sys.argv[1], 9000), timeout=30); t=time.monotonic()\n" \
       "c.sendall(bytes(int(sys.argv[2]))); c.shutdown(socket.SHUT_WR); c.recv(1); print(time.monotonic()-t)"


def namespaces() -> str:
    return subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout


def transfer_mbit(bed: Testbed, sender: str, receiver: str, size: int) -> float:
    """Mbit/s of one TCP transfer of `size` bytes from `sender` to `receiver` across the testbed."""
    to = bed.hosts[receiver].address
    server = bed.spawn(receiver, "receive", [sys.executable, "-c", RECEIVE, to])
    time.sleep(0.5)
    sent = bed.hosts[sender].run([sys.executable, "-c", SEND, to, str(size)])
    assert sent.returncode == 0, sent.stderr
    server.proc.wait(30)
    assert server.log_path.read_text().split() == [str(size)]
    return size * 8 / 1e6 / float(sent.stdout)


def test_a_testbed_takes_a_subnet_the_machine_does_not_route_itself() -> None:
    def nets(*names: str) -> list[ipaddress.IPv4Network]:
        return [ipaddress.IPv4Network(n) for n in names]

    assert free_subnet(nets("0.0.0.0/0", "192.0.2.0/24", "127.0.0.0/8")) == "10.77.0"  # a default route is fine
    assert free_subnet(nets("0.0.0.0/1", "128.0.0.0/1")) == "10.77.0"  # and so is a VPN's split default
    assert free_subnet(nets("10.77.0.2/32", "10.77.1.0/24")) == "10.77.2"  # a machine's own address, a left-over bed
    assert free_subnet(nets("10.0.0.0/8", "172.16.0.0/12")) == "198.18.0"  # a LAN's or a container bridge's range
    with pytest.raises(TestbedError, match="no free /24"):
        free_subnet(nets("10.77.0.0/16", "172.29.0.0/16", "198.18.0.0/15"))


def test_hosts_reach_only_each_other_at_their_link_rates_and_vanish_on_failure(tmp_path: Path) -> None:
    bed = Testbed({"a": 40.0, "b": 40.0, "slow": 8.0}, tmp_path)
    with pytest.raises(RuntimeError, match="a test failing"), bed:
        for host in bed.hosts.values():
            routes = host.run(["ip", "-4", "route"]).stdout.split("\n")
            assert [r.split()[0] for r in routes if r] == [f"{bed.subnet}.0/24"]  # no default route out
        before = bed.traffic("slow")
        fast = transfer_mbit(bed, "a", "b", 3_000_000)
        slow = transfer_mbit(bed, "a", "slow", 1_000_000)
        assert 8.0 < fast <= 1.2 * 40 and slow <= 1.2 * 8 and fast > 2 * slow
        received, sent = (after - earlier for after, earlier in zip(bed.traffic("slow"), before, strict=True))
        assert 1_000_000 <= received < 1_200_000 and sent < received  # the link's counters
        sleeper = bed.spawn("b", "sleep", ["sleep", "600"])
        assert f"paris-{bed.tag}-b" in namespaces()
        raise RuntimeError("a test failing inside the testbed")
    assert f"paris-{bed.tag}" not in namespaces() and sleeper.proc.poll() is not None
    with pytest.raises(TestbedError, match="above 0 Mbit/s"):
        Testbed({"a": 0.0}, tmp_path)


def test_content_moves_between_the_ipfs_nodes_of_two_hosts_by_cid(tmp_path: Path) -> None:
    with Testbed({"requester": 20.0, "miner": 20.0}, tmp_path) as bed:
        requester, miner = bed.start_ipfs("requester"), bed.start_ipfs("miner")
        with IpfsStore(requester.api) as there, IpfsStore(miner.api, timeout_s=20) as here:
            data = secrets.token_bytes(700_000)  # several blocks
            cid = there.add(data, "shard")
            here.connect(requester.multiaddr)
            assert requester.peer_id in here.peers()
            assert here.get(cid) == data and here.bytes_down >= len(data)


def test_paris_devnet_hosts_starts_the_network_says_how_to_join_each_host_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    argv = [sys.executable, "-c", "from paris_sdk.cli import main; main()", "devnet", "hosts", "--dir", str(tmp_path),
            "--host", "studio=20", "--host", "miner-a=10"]
    before = namespaces()
    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as network:
        assert network.stdout is not None
        lines: list[str] = []
        while not lines or lines[-1] != "Ctrl-C stops it.":
            line = network.stdout.readline()
            assert line, "the network ended before it was up:\n" + "".join(lines)
            lines.append(line.strip())
        join = next(line for line in lines if line.startswith("miner-a:"))
        assert "ip netns exec paris-" in join and f"--config {tmp_path / 'deployment.toml'}" in join
        assert "PARIS_KEYSTORE=" in join and "PASSWORD" not in join and (tmp_path / "deployment.toml").exists()
        api = next(word for line in lines if "miner-a" in line and "http" in line
                   for word in line.split() if word.startswith("http"))
        with IpfsStore(api) as store:
            assert store.version()
        network.send_signal(signal.SIGINT)
        assert network.wait(60) == 0
    assert namespaces() == before
