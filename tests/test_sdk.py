"""The SDK against the devnet: a job from the synthetic set with two experts, trained by the real daemons,
followed as typed events, downloaded as a pipeline and sampled to a video; and its refusals of bad input."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import numpy as np
import pytest

from paris_node.content.store import IpfsStore
from paris_node.data.video import read_video
from paris_node.learning.merge import OuterParams
from paris_node.market.chain import Chain, EventCursor
from paris_node.runtime.devnet import DEVNET_PASSWORD, DevnetInfo, devnet_account
from paris_sdk import Client, Decided, Finished, JobError, JobRequest, Merged, Scored, Submitted

from helpers.jobs import merge_one_round
from helpers.processes import paris


@pytest.fixture
def client(devnet: DevnetInfo) -> Client:
    return Client(Chain(devnet.rpc_url, devnet.contract, devnet_account(1)), IpfsStore(devnet.ipfs_api),
                  devnet.deploy_block)


def _jobs(chain: Chain, from_block: int) -> int:
    return sum(1 for _ in chain.events(EventCursor(from_block), {"JobCreated"}))


def test_a_job_is_created_trained_followed_downloaded_and_sampled(client: Client, devnet: DevnetInfo,
                                                                 devnet_dir: Path, tmp_path: Path) -> None:
    job_id = client.create_job(JobRequest(experts=2, rounds=1, reward_eth=0.5, synthetic_clips=16, local_steps=4,
                                          segment_steps=2, batch=4, challenges=1, reveal_window_s=600,
                                          aggregator=devnet.address("aggregator")))
    spec = client.spec(job_id)
    assert spec.experts == 2 and spec.router and len(set(spec.shards)) == 2

    miner = merge_one_round(devnet, client.chain, job_id, tmp_path)
    # that miner rebuilds merged checkpoint v1 from v0 and the merged deltas, kept only under the merged CID
    miner.index.sync()
    merged = miner.index.checkpoint_cid(spec, job_id, 0, 1)
    assert miner.cache.has(spec.initial[0]) and not miner.cache.has(merged)  # trained on v0, never fetched v1
    miner._rebuild(job_id, dataclasses.replace(spec, outer=OuterParams(lr=0.5)), 0, 1, merged)  # another merge
    assert not miner.cache.has(merged)
    miner._rebuild(job_id, spec, 0, 1, merged)
    with IpfsStore(devnet.ipfs_api) as store:
        assert miner.cache.has(merged) and miner.cache.get(merged) == store.get(merged)

    events = list(client.follow(job_id, poll_s=0.2, timeout_s=30))
    kinds = [type(e) for e in events]
    assert kinds.count(Submitted) == 2 and kinds.count(Merged) == 2 and kinds[-1] is Finished
    assert all(e.passed for e in events if isinstance(e, (Scored, Decided)))
    assert {(e.expert, e.version) for e in events if isinstance(e, Merged)} == {(0, 1), (1, 1)}
    assert events[-1].versions == (1, 1)

    pipeline = client.download(job_id)
    assert len(pipeline.experts) == 2 and pipeline.router is not None
    out = client.sample(job_id, tmp_path / "sample.gif", steps=4)
    frames = read_video(out)
    assert frames.shape == (spec.model.frames, spec.model.size, spec.model.size, 3) and np.ptp(frames) > 0

    with pytest.raises(JobError, match="deadline"):
        client.cancel(job_id)  # its escrow stays until the deadline

    watched = paris("job", "watch", str(job_id), "--dir", str(devnet_dir))
    assert watched.returncode == 0, watched.stdout + watched.stderr
    assert "expert 1 v1: merged 1 deltas" in watched.stdout and "done: experts at versions [1, 1]" in watched.stdout


def test_bad_requests_are_refused_before_anything_is_escrowed(client: Client, devnet: DevnetInfo,
                                                              tmp_path: Path) -> None:
    before = _jobs(client.chain, devnet.deploy_block)
    (tmp_path / "empty").mkdir()
    with pytest.raises(JobError, match="no video files"):
        client.create_job(JobRequest(tmp_path / "empty"))
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "clip.mp4").write_bytes(b"not a video")
    with pytest.raises(JobError, match=r"clip.mp4"):
        client.create_job(JobRequest(tmp_path / "broken"))
    with pytest.raises(JobError, match="holds"):
        client.create_job(JobRequest(reward_eth=10**9))
    assert _jobs(client.chain, devnet.deploy_block) == before  # no job, so no escrow
    with pytest.raises(JobError, match="no job 999"):
        client.spec(999)
    with pytest.raises(JobError, match="no job 999"):
        next(client.follow(999))


def test_the_job_commands_read_like_sentences_and_fail_with_a_reason(devnet: DevnetInfo, devnet_dir: Path,
                                                                   tmp_path: Path) -> None:
    where = ("--dir", str(devnet_dir))
    submitted = paris("job", "submit", "--experts", "2", "--rounds", "1", "--reward", "0.1", "--local-steps", "4",
                       "--segment-steps", "2", *where)
    assert submitted.returncode == 0, submitted.stdout + submitted.stderr
    job_id = re.search(r"job (\d+) is open", submitted.stdout).group(1)  # type: ignore[union-attr]
    assert f"paris job watch {job_id}" in submitted.stdout and "escrowed until 20" in submitted.stdout
    assert f"paris-miner mine --dir {devnet_dir} --as miner-1 --job {job_id}" in submitted.stdout  # what to run
    assert "uploading" in submitted.stdout and "escrow transaction" in submitted.stdout  # each step's progress
    listed = paris("job", "list", *where)
    assert listed.returncode == 0 and f"│ {job_id} │ 2 x 1 │ 0 0 │" in listed.stdout, listed.stdout
    status = paris("job", "status", job_id, *where)
    assert status.returncode == 0 and f"job {job_id}: open; 2 experts x 1 rounds" in status.stdout, status.stdout
    assert re.search(r"deadline \d{4}-\d\d-\d\d \d\d:\d\d UTC \(in 23h \d\dm\)", status.stdout)
    assert re.search(r"│ 0 │ 0/1 │ \d\.\d{4} -> \d\.\d{4} │", status.stdout), status.stdout  # held-out loss
    assert paris("--version").stdout.startswith("paris 0.")

    sampled = paris("job", "sample", job_id, "--out", str(tmp_path / "first.gif"), "--steps", "2", *where)
    assert sampled.returncode == 0 and (tmp_path / "first.gif").exists(), sampled.stdout + sampled.stderr
    assert re.search(r"sampled from expert 0 v0 \(0 steps a miner, held-out loss \d\.\d{4}\), expert 1 v0",
                     sampled.stdout), sampled.stdout  # what it was sampled from

    # Any deployment, not only the devnet: endpoints and keystore from a config file, the password from the env.
    info = devnet
    config = tmp_path / "paris.toml"
    config.write_text(f'[paris]\nrpc_url = "{info.rpc_url}"\nipfs_api = "{info.ipfs_api}"\n'
                      f'contract = "{info.contract}"\ndeploy_block = {info.deploy_block}\n'
                      f'keystore = "{info.keystore("requester")}"\n')
    watched = paris("job", "watch", job_id, "--timeout", "1", "--config", str(config), "--dir", str(tmp_path / "none"),
                    env={"PARIS_KEYSTORE_PASSWORD": DEVNET_PASSWORD})
    assert watched.returncode == 1 and "not finished" in watched.stdout, watched.stdout + watched.stderr
    (tmp_path / "bad.toml").write_text('rpc = "http://x"\n')
    bad = paris("job", "watch", job_id, "--config", str(tmp_path / "bad.toml"))
    assert bad.returncode == 1 and "unknown setting 'rpc'" in bad.stdout, bad.stdout

    for args, reason in [(("job", "watch", "999", *where), "no job 999"),
                         (("job", "cancel", job_id, *where), "deadline"),
                         (("job", "submit", str(tmp_path), *where), "1 clips are too few"),  # first.gif
                         (("job", "submit", str(tmp_path / "none"), *where), "not a folder of clips"),
                         (("job", "submit", "--local-steps", "4", "--segment-steps", "3", *where),
                          "--segment-steps 3: must divide local_steps (4)"),
                         (("job", "watch", job_id, "--timeout", "1", *where), "not finished"),
                         (("job", "watch", "1", "--dir", str(tmp_path / "nowhere")), "devnet")]:
        failed = paris(*args)
        assert failed.returncode == 1 and reason in failed.stdout, (args, failed.stdout + failed.stderr)
        assert "Traceback" not in failed.stdout + failed.stderr
