"""Shared fixtures: one real devnet (anvil + IPFS + deployed market) for the tests that only use it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlparse

import pytest

from paris_node.devnet import Devnet, DevnetInfo


@pytest.fixture(scope="session")
def devnet_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the shared devnet keeps devnet.json, keystores and logs (what `--dir` takes)."""
    return tmp_path_factory.mktemp("devnet")


@pytest.fixture(scope="session")
def devnet(devnet_dir: Path) -> Iterator[DevnetInfo]:
    net = Devnet(devnet_dir)
    try:
        yield net.start()
    finally:
        net.stop()


def port_open(url: str) -> bool:
    """Whether something accepts TCP connections at the host:port of `url`."""
    parsed = urlparse(url)
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex((parsed.hostname, parsed.port)) == 0


def tmp_identity(tmp_path: Path, name: str) -> Path:
    return tmp_path / "p2p" / f"{name}.key"


@contextmanager
def frozen(pid: int) -> Iterator[None]:
    """The process stops answering (its sockets stay open, requests hang) until the block exits."""
    os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(pid, signal.SIGCONT)


def wait_for(condition: Callable[[], object], timeout_s: float = 15.0, what: str = "condition",
             poll_s: float = 0.05) -> None:
    """Poll `condition` until it is true, or fail naming `what` was awaited."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(poll_s)
    raise AssertionError(f"timed out waiting for {what}")


def paris(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run the `paris` CLI (with `env` added to the environment); its output with rich's line wrapping undone."""
    done = subprocess.run([sys.executable, "-c", "from paris_sdk.cli import main; main()", *args],
                          capture_output=True, text=True, timeout=180, env={**os.environ, **(env or {})})
    done.stdout = " ".join(done.stdout.split())
    return done
