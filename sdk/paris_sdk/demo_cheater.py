"""The demo's cheating miner: a real `MinerDaemon` whose training skips a step in every segment it claims.

It is a separate program so that the demo can show the market catching it: the validator's replay of any
challenged segment ends elsewhere than the committed state, the delta fails, and the cheater is slashed.

    python -m paris_sdk.demo_cheater --as miner-4 --dir .paris/demo/devnet --work-dir .paris/demo/cheater
"""

from __future__ import annotations

import dataclasses
from typing import Any

import torch

from paris_node.learning.jobspec import JobSpec
from paris_node.roles.miner import RoundWork, train_round
from paris_node.roles.miner_daemon import MinerDaemon
from paris_sdk.demo_daemon import serve_demo_daemon


def lazy_round(spec: JobSpec, *args: Any) -> tuple[RoundWork, dict[str, torch.Tensor]]:
    """Train k - 1 steps per segment and claim k: cheaper, and caught by any challenged replay."""
    lazy = dataclasses.replace(spec, segment_steps=spec.segment_steps - 1,
                               local_steps=spec.segments * (spec.segment_steps - 1))
    return train_round(lazy, *args)


def main() -> None:
    serve_demo_daemon(__doc__ or "", "miner", lambda chain, store, work, presence, block: MinerDaemon(
        chain, store, work, block, presence=presence, trainer=lazy_round))


if __name__ == "__main__":
    main()
