"""Accounts and time on the devnet chain, as a test moves them (anvil's own RPC methods)."""

from __future__ import annotations

import dataclasses

from eth_account import Account

from paris_node.market.chain import ROLE_VALIDATOR, Chain, ContractRevert
from paris_node.market.errors import Revert
from paris_node.runtime.devnet import DEVNET_MARKET, DevnetInfo, devnet_account

ETH = 10**18
# Devnets started by tests have 8 s vote phases, not the demo's 20: tests that run daemons in real time wait
# through two of them per round (and a third before fees), and a validator checks a tiny delta in about a second.
TEST_MARKET = dataclasses.replace(DEVNET_MARKET, vote_window_s=8)


def funded_chain(devnet: DevnetInfo) -> Chain:
    """A fresh account with 10 ETH (anvil_setBalance), so each cheat loses its own stake."""
    account = Account.create()
    chain = Chain(devnet.rpc_url, devnet.contract, account)
    chain.w3.provider.make_request("anvil_setBalance", [account.address, hex(10 * ETH)])  # type: ignore[arg-type]
    return chain


def unbond_fresh_validators(devnet: DevnetInfo, from_block: int) -> None:
    """Unbond every validator a test staked from a fresh account since `from_block` (anvil impersonation: its key
    went with the test), so that each test's committees are drawn from the devnet's own validators and its own.

    A validator sits on a delta's committee with probability min(1, COMMITTEE_SIZE x stake / all validators'
    stake): stake that earlier tests left behind would otherwise leave a later test's validator out by chance."""
    chain = Chain(devnet.rpc_url, devnet.contract)
    latest = chain.w3.eth.block_number
    if latest < from_block:
        return
    own = {devnet_account(i).address for i in range(10)}
    stakers = {e.args["account"] for e in chain.logs(from_block, latest, {"Staked"})} - own
    for address in sorted(stakers):
        stake = chain.stake_of(address)
        if not stake.roles & ROLE_VALIDATOR or stake.slashed or stake.unbond_at:
            continue
        chain.w3.provider.make_request("anvil_impersonateAccount", [address])  # type: ignore[arg-type]
        tx = chain.contract.functions.requestUnbond().transact({"from": address})
        chain.w3.eth.wait_for_transaction_receipt(tx)
        chain.w3.provider.make_request("anvil_stopImpersonatingAccount", [address])  # type: ignore[arg-type]


def warp(chain: Chain, seconds: int) -> int:
    """Move the chain's clock `seconds` ahead and mine a block at the new time; returns that block's timestamp.

    Windows and deadlines in tests close this way, when the protocol has reached the point the test is about,
    rather than after wall-clock seconds that a busy machine may not have spent on the protocol at all."""
    chain.w3.provider.make_request("evm_increaseTime", [seconds])  # type: ignore[arg-type]
    chain.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
    return chain.timestamp()


SALT = b"\x5a" * 32


def warp_to(chain: Chain, timestamp: int) -> None:
    """Move the chain's clock to `timestamp` at least (never back)."""
    ahead = timestamp - chain.timestamp()
    if ahead > 0:
        warp(chain, ahead)


def vote(ballots: list[tuple[Chain, int, bool, int]]) -> None:
    """Seal each (validator, delta, pass, score) vote on revealed deltas, open them in the reveal phase and decide
    the deltas that have a verdict, warping the clock past each phase: the market's own protocol, quickly."""
    clock = ballots[0][0]
    for validator, delta_id, passed, score in ballots:
        validator.commit_vote(delta_id, passed, score, SALT)
    revealed = [clock.delta(delta_id).revealed_at for _, delta_id, _, _ in ballots]
    window = clock.vote_window
    assert max(revealed) - min(revealed) < window, "reveals too far apart to open their votes together"
    warp_to(clock, max(revealed) + window + 1)
    for validator, delta_id, passed, score in ballots:
        validator.reveal_vote(delta_id, passed, score, SALT)
    warp_to(clock, max(revealed) + 2 * window + 1)
    for delta_id in dict.fromkeys(delta_id for _, delta_id, _, _ in ballots):
        try:
            clock.decide(delta_id)
        except ContractRevert as exc:
            if exc.error != Revert.NO_VERDICT:
                raise


def settle(chain: Chain, delta_ids: list[int]) -> None:
    """Move the clock past the deltas' trap windows, when their votes may be collected or slashed."""
    warp_to(chain, max(chain.delta(i).revealed_at for i in delta_ids) + 3 * chain.vote_window + 1)
