"""Bytes by their content: an IPFS client that hashes every block it is served, and what sits around it.

`store` speaks the Kubo RPC API and checks each fetched block against its CID (`unixfs` decodes dag-pb);
`cache` keeps what a node fetched or wrote; `tensorfile` is the deterministic safetensors format that makes
equal tensors equal bytes and equal CIDs; `sealing` encrypts private jobs' content and seals data keys to
nodes (AES-256-GCM, HPKE); `atomic` writes local files whole or not at all. Nothing here knows the chain.
"""

from paris_node.content.atomic import write_atomic
from paris_node.content.cache import CidCache
from paris_node.content.store import ContentMismatch, IpfsStore, ObjectTooLarge, StoreError, parse_cid

__all__ = ["CidCache", "ContentMismatch", "IpfsStore", "ObjectTooLarge", "StoreError", "parse_cid", "write_atomic"]
