"""A fast variant of `paris demo` (1 round, 2 experts, 2 honest miners and the cheater, H=4), as a private job so
that the encrypted path runs through separate daemon processes too: the cheater is slashed, and so is the lazy
validator that passed its delta unchecked; honest miners are paid and withdraw, a sample video is written and the
summary table printed."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest

from paris_node.data.video import read_video
from paris_node.runtime.devnet import devnet_account

from helpers.pacer import Pacer

pytestmark = pytest.mark.devnet  # starts devnets of its own


def test_the_fast_demo_catches_the_cheater_pays_the_honest_and_writes_a_video(tmp_path: Path) -> None:
    # Vote phases of 40 s, long enough for a check on a slow machine; the pacer ends each once both validators
    # have done their part in it.
    with Pacer(tmp_path / "devnet", {devnet_account(3).address, devnet_account(4).address}):
        done = subprocess.run([sys.executable, "-c", "from paris_sdk.cli import main; main()", "demo", "--dir",
                               str(tmp_path), "--rounds", "1", "--miners", "2", "--local-steps", "4",
                               "--segment-steps", "2", "--clips", "16", "--private", "--vote-window", "40"],
                              capture_output=True, text=True, timeout=500, env={**os.environ, "COLUMNS": "200"})
    out = done.stdout
    assert done.returncode == 0, out[-3000:] + done.stderr[-3000:]
    assert "creating a private job" in out and "cheater slashed: yes; lazy validator slashed: yes" in out
    assert "done: experts at versions [1, 1]" in out
    rows = {line.split("│")[1].strip(): [c.strip() for c in line.split("│")[2:-1]]
            for line in out.splitlines() if line.startswith("│")}
    submitted, passed, failed, earned, slashed, withdrawn = rows["miner-3 (cheater)"]
    assert (passed, float(earned)) == ("0", 0.0)
    assert float(slashed) == float(submitted)  # its whole stake: 1 ETH backed each delta it had in flight
    for honest in ("miner-1", "miner-2"):
        submitted, passed, failed, earned, slashed, withdrawn = rows[honest]
        assert (submitted, passed, failed) == ("2", "2", "0")
        assert float(earned) > 0 and float(withdrawn) == float(earned) and float(slashed) == 0
    assert float(rows["validator-1"][3]) >= 0.5 + 0.5  # half the cheater's stake, half the lazy validator's
    assert float(rows["validator-2 (lazy validator)"][4]) == 1.0  # its whole stake, for passing the cheat
    frames = read_video(tmp_path / "sample.gif")
    assert frames.shape[1:] == (32, 32, 3) and np.ptp(frames) > 0
    assert re.search(r"sample coherence 0\.\d{3} vs real clips 0\.\d{3} \(\d\.\d\dx\)", out), out[-2000:]
    strip = iio.imread(tmp_path / "real-vs-generated.png")  # 8 real clips above 8 generated, 8 frames each
    assert strip.shape == (16 * 34 - 2, 8 * 34 - 2, 3)
    assert not (tmp_path / "devnet" / "devnet.json").exists()  # the devnet was stopped
