"""Local files replaced atomically: a reader, or a daemon restarted after `kill -9`, sees the old bytes or the
new ones, never a torn write."""

from __future__ import annotations

import os
from pathlib import Path


def write_atomic(path: Path, data: bytes) -> None:
    """Write `data` to a sibling temporary file, fsync it, then rename it over `path`."""
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    tmp.replace(path)
