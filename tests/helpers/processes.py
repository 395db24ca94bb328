"""Processes as a test drives them: the `paris` CLI, daemons on a devnet, a frozen daemon, a port that answers."""

from __future__ import annotations

import io
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from pathlib import Path
from urllib.parse import urlparse

from paris_node.runtime.devnet import DEVNET_PASSWORD
from paris_sdk.cli import main as paris_main

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


def command(entry: Callable[[], None], *args: str, env: dict[str, str] | None = None,
            ) -> subprocess.CompletedProcess[str]:
    """Run a command's `entry` point in this interpreter (a subprocess would import torch again for every call),
    with `args` as its command line and `env` added to the environment; its exit code and output."""
    out, err = io.StringIO(), io.StringIO()
    saved_env, saved_argv = dict(os.environ), sys.argv
    os.environ.update(env or {})
    sys.argv = [entry.__module__, *args]
    code: int | str | None = 0
    try:
        with redirect_stdout(out), redirect_stderr(err):
            entry()
    except SystemExit as exited:
        code = exited.code
    finally:
        os.environ.clear()
        os.environ.update(saved_env)
        sys.argv = saved_argv
    returncode = code if isinstance(code, int) else (0 if code is None else 1)
    return subprocess.CompletedProcess([entry.__module__, *args], returncode, out.getvalue(), err.getvalue())


def paris(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The `paris` CLI run by `command`, its output with rich's line wrapping undone."""
    done = command(paris_main, *args, env=env)
    done.stdout = " ".join(done.stdout.split())
    return done


def spawn(tmp: Path, name: str, *args: str, devnet: str = "devnet", command: list[str] = MINER) -> subprocess.Popen:
    """A daemon (`paris-miner` unless `command` says otherwise) on the devnet in `tmp/devnet`, its log in
    `tmp/<name>.log`."""
    log = (tmp / f"{name}.log").open("ab")
    return subprocess.Popen([*command, *args, "--dir", str(tmp / devnet), "--poll", "0.5"], stdout=log,
                            stderr=subprocess.STDOUT, env={**os.environ, "PARIS_KEYSTORE_PASSWORD": DEVNET_PASSWORD})
