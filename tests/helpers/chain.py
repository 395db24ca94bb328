"""Accounts and time on the devnet chain, as a test moves them (anvil's own RPC methods)."""

from __future__ import annotations

from eth_account import Account

from paris_node.market.chain import Chain
from paris_node.runtime.devnet import DevnetInfo

ETH = 10**18


def funded_chain(devnet: DevnetInfo) -> Chain:
    """A fresh account with 10 ETH (anvil_setBalance), so each cheat loses its own stake."""
    account = Account.create()
    chain = Chain(devnet.rpc_url, devnet.contract, account)
    chain.w3.provider.make_request("anvil_setBalance", [account.address, hex(10 * ETH)])  # type: ignore[arg-type]
    return chain


def warp(chain: Chain, seconds: int) -> int:
    """Move the chain's clock `seconds` ahead and mine a block at the new time; returns that block's timestamp.

    Windows and deadlines in tests close this way, when the protocol has reached the point the test is about,
    rather than after wall-clock seconds that a busy machine may not have spent on the protocol at all."""
    chain.w3.provider.make_request("evm_increaseTime", [seconds])  # type: ignore[arg-type]
    chain.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
    return chain.timestamp()
