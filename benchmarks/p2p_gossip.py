"""Gossip on N libp2p hosts on loopback: propagation latency, sustained throughput, time to detect a death.

Every host is a full `Network` (signed envelopes, every check on receipt, heartbeats, peer exchange); all
run in this one process, each with its own trio thread, so they share this machine's cores. Hosts join
through host 0 only and find the others through heartbeats. Members are vouched for (no chain lookups).

1. Latency: messages from random publishers at a steady rate; time from publish to receipt at every other host.
2. Throughput: every host publishes as fast as it can; messages delivered to all other hosts per second.
3. Liveness: one host is stopped; time until every other host marks it dead (heartbeat x missed).

    .venv/bin/python benchmarks/p2p_gossip.py [--hosts 8] [--messages 100] [--rate 10] [--burst 20] [--heartbeat 2]
"""

from __future__ import annotations

import logging
import random
import statistics
import tempfile
import threading
import time
from pathlib import Path

from eth_account import Account

from paris_node.net.gossip import DeltaSubmitted, Envelope
from paris_node.net.network import Members, Network

from arguments import benchmark_parser

JOB = 1


def start(hosts: int, heartbeat_s: float, missed: int, scratch: Path) -> list[Network]:
    accounts = [Account.create() for _ in range(hosts)]
    members = Members(None)
    for account in accounts:
        members.vouch(account.address)
    nodes = [Network(a, scratch / f"{i}.key", "miner", members, heartbeat_s=heartbeat_s, missed=missed)
             for i, a in enumerate(accounts)]
    nodes[0].start()
    for node in nodes[1:]:
        node.bootstrap = tuple(nodes[0].host.addrs)
        node.start()
    for node in nodes:
        node.join(JOB)
    return nodes


def wait_for_mesh(nodes: list[Network], timeout_s: float = 60.0) -> float:
    """Seconds until every host hears every other's heartbeat and a probe from each reaches all."""
    started = time.monotonic()
    while any(not n.liveness.alive(m.account.address) for n in nodes for m in nodes if m is not n):
        if time.monotonic() - started > timeout_s:
            raise SystemExit("the hosts never all heard each other")
        time.sleep(0.1)
    return time.monotonic() - started


class Receipts:
    def __init__(self, nodes: list[Network]) -> None:
        self.sent: dict[str, float] = {}
        self.got: dict[str, list[float]] = {}
        self.lock = threading.Lock()
        self.last = 0.0
        for node in nodes:
            node.listeners.append(self.record)

    def record(self, env: Envelope) -> None:
        now = time.perf_counter()
        assert isinstance(env.body, DeltaSubmitted)
        with self.lock:
            self.got.setdefault(env.body.delta_id, []).append(now)
            self.last = now

    def publish(self, node: Network, tag: int) -> None:
        delta_id = hex(tag)
        self.sent[delta_id] = time.perf_counter()
        node.publish(JOB, DeltaSubmitted(expert=0, base_version=0, delta_id=delta_id, cid="bench"))

    def delivered(self) -> int:
        with self.lock:
            return sum(len(v) for v in self.got.values())


def latency(nodes: list[Network], messages: int, rate: float) -> None:
    receipts = Receipts(nodes)
    rng = random.Random(0)
    for tag in range(messages):
        receipts.publish(rng.choice(nodes), tag + 1)
        time.sleep(1 / rate)
    expected = messages * (len(nodes) - 1)
    deadline = time.monotonic() + 10
    while receipts.delivered() < expected and time.monotonic() < deadline:
        time.sleep(0.05)
    delays = sorted(1000 * (t - receipts.sent[d]) for d, times in receipts.got.items() for t in times)
    p99 = delays[min(len(delays) - 1, int(0.99 * len(delays)))]
    print(f"1. latency, {messages} messages at {rate:.0f}/s from random hosts: p50 {statistics.median(delays):.1f} ms"
          f"  p99 {p99:.1f} ms  max {delays[-1]:.1f} ms  delivered {len(delays)}/{expected}")
    for node in nodes:
        node.listeners.clear()


def throughput(nodes: list[Network], burst: int) -> None:
    receipts = Receipts(nodes)
    base = 10_000_000

    def flood(index: int, node: Network) -> None:
        for n in range(burst):
            receipts.publish(node, base + index * burst + n)

    started = time.perf_counter()
    threads = [threading.Thread(target=flood, args=(i, n)) for i, n in enumerate(nodes)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    published = time.perf_counter() - started
    expected = len(nodes) * burst * (len(nodes) - 1)
    deadline = time.monotonic() + 60
    while receipts.delivered() < expected and time.monotonic() < deadline:
        time.sleep(0.05)
    elapsed = receipts.last - started
    print(f"2. throughput, {len(nodes)} hosts x {burst} messages at once: published in {published:.2f} s, "
          f"{receipts.delivered()}/{expected} deliveries in {elapsed:.2f} s = "
          f"{len(nodes) * burst / elapsed:.0f} messages/s reaching every host "
          f"({receipts.delivered() / elapsed:.0f} deliveries/s)")
    for node in nodes:
        node.listeners.clear()


def liveness(nodes: list[Network]) -> None:
    victim, others = nodes[-1], nodes[:-1]
    victim.stop()
    stopped = time.monotonic()
    marked: dict[int, float] = {}
    while len(marked) < len(others) and time.monotonic() - stopped < 60:
        for i, node in enumerate(others):
            if i not in marked and not node.liveness.alive(victim.account.address):
                marked[i] = time.monotonic() - stopped
        time.sleep(0.01)
    window = others[0].liveness.dead_after_s
    print(f"3. liveness: a stopped host was marked dead by all {len(marked)}/{len(others)} others after "
          f"{max(marked.values()):.2f} s (first {min(marked.values()):.2f} s; configured window {window:.2f} s = "
          f"{others[0].heartbeat_s} s x {others[0].liveness.missed} missed heartbeats)")


def main() -> None:
    parser = benchmark_parser(__doc__)
    parser.add_argument("--hosts", type=int, default=8)
    parser.add_argument("--messages", type=int, default=100)
    parser.add_argument("--rate", type=float, default=10.0)
    parser.add_argument("--burst", type=int, default=20)
    parser.add_argument("--heartbeat", type=float, default=2.0, help="seconds (the daemons' default)")
    parser.add_argument("--missed", type=int, default=3)
    args = parser.parse_args()
    logging.getLogger("libp2p").setLevel(logging.CRITICAL)  # redials of the stopped host, shutdown noise
    with tempfile.TemporaryDirectory() as scratch:
        nodes = start(args.hosts, args.heartbeat, args.missed, Path(scratch))
        try:
            print(f"{args.hosts} hosts on loopback in one process; all heard each other after "
                  f"{wait_for_mesh(nodes):.1f} s (joined through host 0 only, then peer exchange)")
            time.sleep(2)  # let the job topic's mesh settle
            cpu, wall = time.process_time(), time.monotonic()
            time.sleep(5)
            idle = 100 * (time.process_time() - cpu) / (time.monotonic() - wall)
            print(f"0. idle (heartbeats and gossipsub upkeep only): {idle:.0f}% "
                  f"of one core for all {args.hosts} hosts (py-libp2p is pure Python; they share one interpreter)")
            latency(nodes, args.messages, args.rate)
            throughput(nodes, args.burst)
            time.sleep(2 * args.heartbeat)  # let the burst's backlog drain before timing a death
            liveness(nodes)
        finally:
            for node in nodes[:-1]:
                node.stop()


if __name__ == "__main__":
    main()
