"""What the tests share besides fixtures (those are in conftest.py).

`wait` polls for a condition with a named timeout; `processes` runs the `paris` CLI and freezes or probes
processes; `chain` funds fresh accounts and moves the devnet's clock; `jobs` opens small real jobs on the
devnet; `miners` is a protocol-following miner driven step by step, and the one-expert market it works on.
"""
