"""Paris node runtime: what every participant shares, plus the miner and the aggregator."""
