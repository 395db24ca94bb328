"""The miner's and the aggregator's work, and their daemons, on one skeleton.

`daemon.Daemon` is what every role's daemon shares (the validator's too): a signing account, the market
index, a CID cache, keyrings and presence, and a pass that registers the node's key, keeps its stake, syncs
the index and then does the role's `work`, one job's failure never stopping the others. `miner` trains a
round and builds reveals; `miner_daemon` follows jobs through their stages, journaled (`journal`) so that a
miner killed at any point resumes; `aggregator` merges and verifies merges; `aggregator_daemon` decides
when a round is merged.
"""

from paris_node.roles.daemon import RECOVERABLE, Daemon

__all__ = ["RECOVERABLE", "Daemon"]
