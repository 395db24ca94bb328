"""Video data: what experts train on, and which clips a miner trains on at each step.

`synthetic` is the built-in set (four families of moving objects, clip i a pure function of the seed);
`video` reads and writes files (GIF, MP4, WebM); `ingest` cuts a folder of videos into clips; `clips` is
the `ClipSet` a shard is stored as; `shards` clusters clips into one shard per expert on features that need
no downloaded weights; `assignment` draws a miner's batch at each step from a seed of (job, miner, expert,
version, step), so a copied delta fails its replay.
"""

from paris_node.data.clips import ClipSet, ClipSetError
from paris_node.data.ingest import ingest_folder
from paris_node.data.synthetic import synthetic_set

__all__ = ["ClipSet", "ClipSetError", "ingest_folder", "synthetic_set"]
