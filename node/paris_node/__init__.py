"""Paris: what every participant of the market runs, one package per subsystem.

`content` moves and verifies bytes (IPFS, cache, deterministic tensor files, sealing); `model` and `data` are
the video diffusion core; `learning` is what the protocol computes and anyone can recompute (a training
segment, the delta codec, the trace, the merge); `market` is the contract seen from Python, with the index
every role reads shared state through; `net` is the p2p layer; `roles` are the miner's and aggregator's work
on one daemon skeleton; `runtime` starts things (configuration, keys, the devnet, command lines); `settings`
is the one check of a job setting that all of them share. Imports point one way, in that order (`settings`
imports nothing of Paris); nothing here imports `paris_validator` or `paris_sdk`.
"""
