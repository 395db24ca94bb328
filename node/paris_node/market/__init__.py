"""The ParisMarket contract as every role sees it.

`chain.Chain` has one typed method per contract call and view and decodes reverts (`errors`: the error
types, the revert names daemons decide on, hints taken from IParisMarket.sol's NatSpec through the build).
`index.MarketIndex` is the one reader of the market's shared state (jobs, submitted deltas, reveals, merges)
for miners, validators, the aggregator, the SDK and the dashboard: topic-filtered reads from a persisted
cursor, so a pass costs what its new events cost. `keyring` holds who may read a private job, as recorded
on chain. It sits above `learning`, since the index hands out job specs.
"""

from paris_node.market.chain import Chain, DeltaState, Event, JobTerms, cid_from_chain, cid_to_chain
from paris_node.market.errors import ChainError, ChainUnreachable, ContractRevert, Revert
from paris_node.market.index import MarketIndex, MarketIndexError

__all__ = ["Chain", "ChainError", "ChainUnreachable", "ContractRevert", "DeltaState", "Event", "JobTerms",
           "MarketIndex", "MarketIndexError", "Revert", "cid_from_chain", "cid_to_chain"]
