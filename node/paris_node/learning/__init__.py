"""What the protocol computes, and anyone can compute again byte for byte.

`train.run_segment` is the unit of work a miner runs and a validator replays; `codec` keeps a few values of a
round's pseudo-gradient and `delta` writes them to a file with error feedback (and checks what it decodes);
`trace` commits to the boundary states of a round and `reveal` opens the challenged ones; `merge` is the
aggregator's bit-exact outer step; `checkpoint` is an expert's file on IPFS; `evaluate` and `coherence` measure
loss and samples; `jobspec` fixes every setting of a job and the segment specs derived from it. Nothing here reads
the chain: a replay or a merge needs the job's data, not an RPC endpoint.
"""

from paris_node.learning.checkpoint import Checkpoint
from paris_node.learning.jobspec import JobSpec, JobSpecError, segment_spec
from paris_node.learning.train import SegmentSpec, TrainState, run_segment, state_hash

__all__ = ["Checkpoint", "JobSpec", "JobSpecError", "SegmentSpec", "TrainState", "run_segment", "segment_spec",
           "state_hash"]
