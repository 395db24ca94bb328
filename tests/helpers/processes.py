"""Processes as a test drives them: the `paris` CLI, daemons on a devnet, a frozen daemon, a port that answers."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlparse

from paris_node.runtime.devnet import DEVNET_PASSWORD

MINER = [sys.executable, "-c", "from paris_node.runtime.miner_cli import main; main()"]
VALIDATOR = [sys.executable, "-c", "from paris_validator.cli import main; main()"]


def port_open(url: str) -> bool:
    """Whether something accepts TCP connections at the host:port of `url`."""
    parsed = urlparse(url)
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex((parsed.hostname, parsed.port)) == 0


@contextmanager
def frozen(pid: int) -> Iterator[None]:
    """The process stops answering (its sockets stay open, requests hang) until the block exits."""
    os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(pid, signal.SIGCONT)


def paris(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run the `paris` CLI (with `env` added to the environment); its output with rich's line wrapping undone."""
    done = subprocess.run([sys.executable, "-c", "from paris_sdk.cli import main; main()", *args],
                          capture_output=True, text=True, timeout=180, env={**os.environ, **(env or {})})
    done.stdout = " ".join(done.stdout.split())
    return done


def spawn(tmp: Path, name: str, *args: str, devnet: str = "devnet", command: list[str] = MINER) -> subprocess.Popen:
    """A daemon (`paris-miner` unless `command` says otherwise) on the devnet in `tmp/devnet`, its log in
    `tmp/<name>.log`."""
    log = (tmp / f"{name}.log").open("ab")
    return subprocess.Popen([*command, *args, "--devnet", str(tmp / devnet), "--poll", "0.5"], stdout=log,
                            stderr=subprocess.STDOUT, env={**os.environ, "PARIS_KEYSTORE_PASSWORD": DEVNET_PASSWORD})
