"""Chain bindings on the devnet: typed calls, decoded reverts, resumable event reading."""

from __future__ import annotations

import hashlib
import time

import pytest
from multiformats import CID

from paris_node.market.chain import (ROLE_MINER, Chain, ChainError, ChainUnreachable, ContractRevert, EventCursor,
                                     JobTerms, cid_from_chain, cid_to_chain)
from paris_node.runtime.devnet import DevnetInfo, devnet_account

from helpers.chain import funded_chain

SPEC = CID("base32", 1, "raw", ("sha2-256", hashlib.sha256(b"spec").digest()))


def _terms(chain: Chain, experts: int = 3) -> JobTerms:
    now = chain.w3.eth.get_block("latest")["timestamp"]
    return JobTerms(spec=SPEC, experts=experts, rounds=1, reward_per_round_wei=10**15, deadline=now + 3600,
                    aggregator=chain.account.address)


def test_duplicate_delta_names_every_argument(devnet: DevnetInfo) -> None:
    chain = funded_chain(devnet)  # an account of its own: its unsettled deltas are nobody else's
    miner = chain.account
    chain.stake(ROLE_MINER, wei=2 * 10**18)  # the market's minimum for each of the two deltas below
    requester = Chain(devnet.rpc_url, devnet.contract, devnet_account(1))
    job = requester.create_job(_terms(requester), escrow_wei=10**15)
    chain.submit_delta(job, 2, 0, SPEC, b"\x01" * 32, segments=4)
    with pytest.raises(ContractRevert) as caught:
        chain.submit_delta(job, 2, 0, SPEC, b"\x01" * 32, segments=4)
    assert caught.value.error == "DuplicateDelta"
    assert caught.value.arguments == {"jobId": job, "expert": 2, "baseVersion": 0, "lane": 0,
                                      "miner": miner.address.lower()}
    assert "use the next lane or version" in str(caught.value)
    second = chain.submit_delta(job, 2, 0, SPEC, b"\x02" * 32, segments=4, lane=1)  # its own delta, its own id
    assert second == chain.delta_id_of(job, 2, 0, miner.address, lane=1) != chain.delta_id_of(job, 2, 0, miner.address)
    assert chain.delta(second).lane == 1
    with pytest.raises(ContractRevert) as caught:  # rounds=1 jobs keep the default staleness bound of 1
        chain.submit_delta(job, 2, 0, SPEC, b"\x03" * 32, segments=4, lane=2)
    assert caught.value.error == "LaneOutOfRange" and caught.value.arguments == {"lane": 2, "bound": 1}


def test_wrong_rpc_url_fails_fast() -> None:
    started = time.monotonic()
    with pytest.raises(ChainUnreachable, match=r"127.0.0.1:9"):
        Chain("http://127.0.0.1:9", "0x" + "11" * 20)
    assert time.monotonic() - started < 3


def test_address_without_contract_is_refused(devnet: DevnetInfo) -> None:
    with pytest.raises(ChainError, match="no contract at"):
        Chain(devnet.rpc_url, "0x" + "22" * 20)


def test_transaction_without_account_is_refused(devnet: DevnetInfo) -> None:
    with pytest.raises(ChainError, match="no signing account"):
        reader = Chain(devnet.rpc_url, devnet.contract)
        reader.create_job(JobTerms(spec=SPEC, experts=1, rounds=1, reward_per_round_wei=1, deadline=2**39,
                                   aggregator="0x" + "11" * 20), escrow_wei=1)


def test_event_cursor_resumes_where_it_stopped(devnet: DevnetInfo) -> None:
    requester = Chain(devnet.rpc_url, devnet.contract, devnet_account(1))
    reader = Chain(devnet.rpc_url, devnet.contract)
    cursor = EventCursor(devnet.deploy_block)
    first = requester.create_job(_terms(requester), escrow_wei=10**15)
    seen = [e.args["jobId"] for e in reader.events(cursor, {"JobCreated"})]
    assert first in seen
    saved = cursor.to_json()
    second = requester.create_job(_terms(requester), escrow_wei=10**15)
    resumed = list(reader.events(EventCursor.from_json(saved), {"JobCreated"}))
    assert [e.args["jobId"] for e in resumed] == [second]


def test_cid_round_trips_through_its_chain_form() -> None:
    digest, codec = cid_to_chain(SPEC)
    assert len(digest) == 32 and codec == 0x55
    assert cid_from_chain(digest, codec) == SPEC


def test_non_sha256_cid_is_refused() -> None:
    identity = CID("base32", 1, "raw", ("identity", b"tiny"))
    with pytest.raises(ValueError, match="sha2-256"):
        cid_to_chain(identity)
