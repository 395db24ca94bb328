"""A private job end to end on the devnet: everything on IPFS is ciphertext; a node that was not admitted cannot
read anything and never trains; admitting it lets it work on the next round; removing a node rotates the key,
so it reads nothing written afterwards; tampered ciphertext is rejected; the requester downloads and checks
the merges; and the validator fails deltas that are not sealed, are tampered, or come from a miner that was not
admitted."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from multiformats import CID

from paris_node.content.sealing import NotAdmitted, TamperedContent, encrypt, epoch_of, new_data_key
from paris_node.content.store import IpfsStore
from paris_node.data.clips import ClipSet, ClipSetError
from paris_node.learning.checkpoint import Checkpoint
from paris_node.market.chain import Chain, DeltaState, EventCursor, cid_from_chain
from paris_node.market.keyring import Keyrings
from paris_node.roles.aggregator import verify_merge
from paris_node.roles.aggregator_daemon import AggregatorDaemon
from paris_node.roles.miner_daemon import MinerDaemon
from paris_node.runtime.devnet import DevnetInfo, devnet_account
from paris_sdk import Client, JobError, JobRequest
from paris_validator.daemon import ValidatorDaemon

from helpers.chain import funded_chain
from helpers.miners import Honest, Market
from helpers.pacer import Pacer
from helpers.processes import paris
from helpers.wait import step_until


def test_only_admitted_nodes_read_a_private_job(devnet: DevnetInfo, tmp_path: Path) -> None:
    store = IpfsStore(devnet.ipfs_api)
    client = Client(Chain(devnet.rpc_url, devnet.contract, devnet_account(1)), store, devnet.deploy_block)
    requester = client.chain.account.address  # type: ignore[union-attr]
    chains = {name: funded_chain(devnet) for name in ("a", "b", "stranger")}
    chains["validator"] = Chain(devnet.rpc_url, devnet.contract, devnet_account(4))
    chains["aggregator"] = Chain(devnet.rpc_url, devnet.contract, devnet_account(2))
    address = {name: chain.account.address for name, chain in chains.items()}  # type: ignore[union-attr]
    keyrings = {name: Keyrings(chain, store.get, chain.account) for name, chain in chains.items()}
    for name in ("a", "b", "validator", "aggregator"):
        keyrings[name].register()  # what each daemon does when it starts

    settings = dict(experts=1, rounds=2, reward_eth=0.5, synthetic_clips=8, local_steps=4, segment_steps=2, batch=4,
                    challenges=1, reveal_window_s=600, aggregator=address["aggregator"], private=True)
    with pytest.raises(JobError, match=f"{address['stranger']} has no X25519 key"):
        client.create_job(JobRequest(**settings, admit=[address["stranger"]]))
    job_id = client.create_job(JobRequest(**settings, admit=[address["a"], address["validator"]]))
    spec = client.spec(job_id)
    assert spec.private and client.members(job_id) == {requester, address["aggregator"], address["a"],
                                                       address["validator"]}

    raw_shard = store.get(spec.shards[0])
    assert epoch_of(raw_shard, "shard") == 0
    with pytest.raises(ClipSetError):
        ClipSet.from_bytes(raw_shard)
    content = client.content(job_id, spec)
    assert len(ClipSet.from_bytes(content.get(spec.shards[0]))) == 7  # and one held out to score deltas on
    assert len(ClipSet.from_bytes(content.get(spec.evals[0]))) == 1
    assert epoch_of(store.get(spec.evals[0]), "eval") == 0
    for cid in (spec.shards[0], spec.initial[0], spec.evals[0]):
        with pytest.raises(NotAdmitted, match=f"not admitted to private job {job_id}"):
            keyrings["b"].content(job_id, spec, store).get(cid)

    a = MinerDaemon(chains["a"], IpfsStore(devnet.ipfs_api), tmp_path / "a", devnet.deploy_block, {job_id})
    b = MinerDaemon(chains["b"], IpfsStore(devnet.ipfs_api), tmp_path / "b", devnet.deploy_block, {job_id})
    validator = ValidatorDaemon(chains["validator"], IpfsStore(devnet.ipfs_api), tmp_path / "validator",
                                devnet.deploy_block, {job_id})
    aggregator = AggregatorDaemon(chains["aggregator"], IpfsStore(devnet.ipfs_api), tmp_path / "aggregator",
                                  devnet.deploy_block, {job_id})
    daemons = (a, b, validator, aggregator, Pacer(devnet, {address["validator"]}, {job_id}))

    def delta_state(name: str, version: int) -> DeltaState:
        chain = client.chain
        return chain.delta(chain.delta_id_of(job_id, 0, version, address[name])).state

    step_until(lambda: client.chain.version_of(job_id, 0) == 1, daemons, "round 1")
    assert job_id in b.refused and delta_state("b", 0) == DeltaState.NONE  # could not read, so never trained
    assert delta_state("a", 0) == DeltaState.MERGED
    delta_cid = next(cid_from_chain(e.args["deltaDigest"], e.args["deltaCodec"])
                     for e in client.chain.events(EventCursor(devnet.deploy_block), {"DeltaSubmitted"})
                     if e.args["jobId"] == job_id)
    assert epoch_of(store.get(delta_cid), "delta") == 0

    before_removal = client.chain.w3.eth.block_number
    client.admit(job_id, address["b"])
    client.remove(job_id, address["a"])
    # Removed between a submission and its reveal, a miner still reveals under the key it held when it submitted,
    # which the validator reads: removal does not turn into a withheld-reveal slash.
    late_reveal = keyrings["a"].content(job_id, spec, store, as_of_block=before_removal).add(b"states", "reveal")
    assert epoch_of(store.get(late_reveal), "reveal") == 0
    assert keyrings["validator"].content(job_id, spec, store).get(late_reveal) == b"states"
    with pytest.raises(NotAdmitted):  # the current key is not its to use any more
        keyrings["a"].content(job_id, spec, store).add(b"states", "reveal")
    assert client.members(job_id) == {requester, address["aggregator"], address["b"], address["validator"]}
    with pytest.raises(JobError, match="requester or aggregator"):
        client.remove(job_id, address["aggregator"])
    with pytest.raises(JobError, match="already admitted"):
        client.admit(job_id, address["b"])

    # The removed miner can still read v1 (written under epoch 0) and trains it, but cannot publish its delta.
    step_until(lambda: (r := a.journal.get(job_id, 0, 1)) is not None and r.stage == "done", [a], "a's round 2")
    assert a.journal.get(job_id, 0, 1).outcome == "not submitted: removed from the private job"  # type: ignore[union-attr]
    step_until(lambda: client.chain.version_of(job_id, 0) == 2, daemons, "round 2")
    assert delta_state("b", 1) == DeltaState.MERGED  # admitted: read v1 (epoch 0), wrote under epoch 1
    assert delta_state("a", 1) == DeltaState.NONE  # removed: could not publish under the new key
    v1, v2 = (client.index.checkpoint_cid(spec, job_id, 0, v) for v in (1, 2))
    assert epoch_of(store.get(v1), "v1") == 0 and epoch_of(store.get(v2), "v2") == 1
    keyrings["a"].content(job_id, spec, store).get(v1)  # what it could read before, it still can
    with pytest.raises(NotAdmitted, match="key epoch 1"):
        keyrings["a"].content(job_id, spec, store).get(v2)
    keyrings["b"].content(job_id, spec, store).get(v2)

    tampered = bytearray(store.get(v2))
    tampered[len(tampered) // 2] ^= 0x01
    with pytest.raises(TamperedContent, match="fails authentication"):
        client.content(job_id, spec).get(store.add(bytes(tampered)))

    assert verify_merge(client.index, client.content(job_id, spec), spec, job_id, 0, 2).matches
    assert len(client.download(job_id).experts) == 1
    outsider = Client(chains["stranger"], store, devnet.deploy_block)
    with pytest.raises(JobError, match="not admitted"):
        outsider.download(job_id)


def test_the_private_job_commands(devnet: DevnetInfo, devnet_dir: Path) -> None:
    store = IpfsStore(devnet.ipfs_api)
    validator = Chain(devnet.rpc_url, devnet.contract, devnet_account(3))
    for chain in (validator, Chain(devnet.rpc_url, devnet.contract, devnet_account(2))):  # the devnet's aggregator
        Keyrings(chain, store.get, chain.account).register()
    newcomer = funded_chain(devnet)
    where = ("--dir", str(devnet_dir))
    submitted = paris("job", "submit", "--private", "--admit", "validator-1", "--experts", "1", "--rounds", "1",
                      "--reward", "0.1", "--local-steps", "4", "--segment-steps", "2", *where)
    assert submitted.returncode == 0, submitted.stdout + submitted.stderr
    job_id = re.search(r"job (\d+) is open", submitted.stdout).group(1)  # type: ignore[union-attr]
    assert "private, readable by" in submitted.stdout and validator.account.address in submitted.stdout  # type: ignore[union-attr]

    who = newcomer.account.address  # type: ignore[union-attr]
    refused = paris("job", "admit", job_id, who, *where)
    assert refused.returncode == 1 and f"{who} has no X25519 key" in refused.stdout, refused.stdout
    Keyrings(newcomer, store.get, newcomer.account).register()
    assert f"{who} admitted to job {job_id}" in paris("job", "admit", job_id, who, *where).stdout
    assert f"{who} removed from job {job_id}" in paris("job", "remove", job_id, who, *where).stdout
    again = paris("job", "remove", job_id, who, *where)
    assert again.returncode == 1 and "is not admitted" in again.stdout, again.stdout
    outsider = paris("job", "sample", job_id, "--as", "miner-5", *where)
    assert outsider.returncode == 1 and "not admitted" in outsider.stdout and "Traceback" not in outsider.stdout


class Plaintext(Honest):
    """Publishes its delta unencrypted in a private job (leaking what the requester's data taught it)."""


class Tampered(Honest):
    """Publishes its encrypted delta with one ciphertext bit flipped."""

    key = b""  # the job's data key, as an admitted miner holds it

    def publish(self, data: bytes) -> CID:
        blob = bytearray(encrypt(self.key, 0, data))
        blob[-20] ^= 0x01
        return self.market.store.add(bytes(blob))


class Outsider(Honest):
    """Was never admitted: encrypts under a key of its own, claiming epoch 0."""

    def publish(self, data: bytes) -> CID:
        return self.market.store.add(encrypt(new_data_key(), 0, data))


def test_the_validator_fails_unsealed_tampered_and_unadmitted_deltas(devnet: DevnetInfo, tmp_path: Path) -> None:
    store = IpfsStore(devnet.ipfs_api)
    client = Client(Chain(devnet.rpc_url, devnet.contract, devnet_account(1)), store, devnet.deploy_block)
    market = Market(devnet, store, spec=None, job_id=0, checkpoints={}, work_dir=tmp_path)
    miners = [Plaintext(market, "plaintext"), Tampered(market, "tampered"), Outsider(market, "outsider")]
    chains = [Chain(devnet.rpc_url, devnet.contract, devnet_account(n)) for n in (2, 3)] + [m.chain for m in miners]
    for chain in chains:
        Keyrings(chain, store.get, chain.account).register()
    job_id = client.create_job(JobRequest(experts=1, rounds=1, reward_eth=0.5, synthetic_clips=8, local_steps=4,
                                          segment_steps=2, batch=4, challenges=1, reveal_window_s=600, private=True,
                                          aggregator=devnet.address("aggregator"),
                                          admit=[devnet.address("validator-1"), miners[0].address,
                                                 miners[1].address]))
    market.spec, market.job_id = client.spec(job_id), job_id
    content = client.content(job_id, market.spec)
    market.checkpoints[0] = Checkpoint.from_bytes(content.get(market.spec.initial[0]))
    miners[1].key = Keyrings(miners[1].chain, store.get, miners[1].chain.account).current(job_id, market.spec)[1] \
        .of_epoch(0, "job key")
    ids = {miner.submit(0): miner for miner in miners}
    step_until(lambda: all([m.reveal(0) for m in miners]), [], "reveals")  # the market takes votes after them

    validator = ValidatorDaemon(chains[1], IpfsStore(devnet.ipfs_api), tmp_path / "validator", devnet.deploy_block,
                                {job_id})
    step_until(lambda: ids.keys() <= validator.records.keys() and all(validator.records[i].stage == "done"
                                                                      for i in ids),
               [validator, Pacer(devnet, {validator.address}, {job_id})], "verdicts")
    verdicts = {ids[i].name: (r.check, r.outcome, client.chain.delta(i).state) for i, r in validator.records.items()
                if i in ids}
    assert verdicts == {"plaintext": ("sealing", "failed; slashed", DeltaState.SLASHED),
                        "tampered": ("sealing", "failed; slashed", DeltaState.SLASHED),
                        "outsider": ("admission", "failed; not admitted", DeltaState.FAILED)}
    assert "not encrypted" in validator.records[next(iter(ids))].detail
    assert not client.chain.stake_of(miners[2].address).slashed
