"""A local, content-addressed cache in front of the store: each CID is fetched (and verified) once."""

from __future__ import annotations

from pathlib import Path

from multiformats import CID

from paris_node.content.atomic import write_atomic
from paris_node.content.store import IpfsStore, parse_cid


class CidCache:
    def __init__(self, store: IpfsStore, directory: Path) -> None:
        self.store, self.directory = store, directory

    def add(self, data: bytes, name: str = "blob") -> CID:
        """Store `data` and keep a copy, so reading back what this node wrote needs no fetch."""
        cid = self.store.add(data, name=name)
        self._keep(cid, data)
        return cid

    def _keep(self, cid: CID, data: bytes) -> None:
        path = self.directory / str(cid)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, data)

    def get(self, cid: str | CID, max_bytes: int | None = None) -> bytes:
        """Bytes of `cid`: from disk when fetched before, else from the store (verified), then kept."""
        cid = parse_cid(cid)
        path = self.directory / str(cid)
        if path.exists():
            return path.read_bytes()
        data = self.store.get(cid, max_bytes=max_bytes)
        self._keep(cid, data)
        return data
