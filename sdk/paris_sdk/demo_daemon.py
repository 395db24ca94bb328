"""The command line the demo's misbehaving daemons share (the cheating miner, the lazy validator)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

from paris_node.content.store import IpfsStore
from paris_node.market.chain import Chain
from paris_node.net.gossip import Role
from paris_node.net.presence import Presence
from paris_node.roles.daemon import Daemon
from paris_node.runtime.cli import serve, settings

Build = Callable[[Chain, IpfsStore, Path, Presence, int], Daemon]  # the last argument: the deploy block


def serve_demo_daemon(description: str, kind: Role, build: Build) -> None:
    """Read --as, --dir, --work-dir and --poll, then serve what `build` makes until SIGTERM or SIGINT."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--as", dest="role", required=True)
    parser.add_argument("--dir", dest="devnet", type=Path, required=True)
    parser.add_argument("--work-dir", type=Path, required=True)
    parser.add_argument("--poll", type=float, default=0.5)
    args = parser.parse_args()
    config = settings(None, args.devnet, poll_s=args.poll)
    serve(config, args.devnet, args.role, args.work_dir, kind,
          lambda chain, store, work, presence: build(chain, store, work, presence, config.deploy_block))
