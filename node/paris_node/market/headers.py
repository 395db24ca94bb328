"""Block headers RLP-encoded as the chain hashed them: the proof of a block's prevrandao (its `mixHash`) that
`fixChallenge` checks against `blockhash`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import rlp
from eth_utils import keccak

from paris_node.market.errors import ChainError

# The header's fields in RLP order: Frontier's fifteen, then one group per fork that added fields (London,
# Shanghai, Cancun, Prague). A block carries a prefix of this list.
FIELDS = ("parentHash", "sha3Uncles", "miner", "stateRoot", "transactionsRoot", "receiptsRoot", "logsBloom",
          "difficulty", "number", "gasLimit", "gasUsed", "timestamp", "extraData", "mixHash", "nonce",
          "baseFeePerGas", "withdrawalsRoot", "blobGasUsed", "excessBlobGas", "parentBeaconBlockRoot",
          "requestsHash")


def header_rlp(block: Mapping[str, Any]) -> bytes:
    """The RLP header of `block` (as `eth_getBlockByNumber` returns it), checked against the block's hash."""
    present = [name for name in FIELDS if name in block]
    if present != list(FIELDS[:len(present)]):
        raise ChainError(f"block {block.get('number')}: header fields out of fork order ({', '.join(present)})")
    encoded = rlp.encode([_item(block[name]) for name in present])
    if keccak(encoded) != bytes(block["hash"]):
        raise ChainError(f"block {block['number']}: its header does not hash to its block hash (fields this "
                         "client does not know?), so its prevrandao cannot be proven")
    return encoded


def _item(value: Any) -> int | bytes:
    if isinstance(value, int):
        return value
    if isinstance(value, str):  # an address
        return bytes.fromhex(value.removeprefix("0x"))
    return bytes(value)
