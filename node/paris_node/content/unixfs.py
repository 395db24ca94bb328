"""Decoding of the two IPFS block formats a UnixFS file is made of: dag-pb nodes and their UnixFS payload.

The store walks a file's DAG block by block so that it can check every block against its CID itself.
The message classes are built from descriptors at import time, so no protoc step is needed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

_F = descriptor_pb2.FieldDescriptorProto


def _schema() -> descriptor_pb2.FileDescriptorProto:
    """merkledag.proto (PBNode, PBLink) and unixfs.proto (Data), proto2 as in the IPFS specs."""
    file = descriptor_pb2.FileDescriptorProto(name="paris_unixfs.proto", package="paris_unixfs", syntax="proto2")

    def message(name: str, *fields: tuple[str, int, int, int, str]) -> None:
        msg = file.message_type.add(name=name)
        for field_name, number, kind, label, type_name in fields:
            added = msg.field.add(name=field_name, number=number, type=kind, label=label)
            if type_name:
                added.type_name = type_name

    opt, rep = _F.LABEL_OPTIONAL, _F.LABEL_REPEATED
    message("PBLink", ("Hash", 1, _F.TYPE_BYTES, opt, ""), ("Name", 2, _F.TYPE_STRING, opt, ""),
            ("Tsize", 3, _F.TYPE_UINT64, opt, ""))
    message("PBNode", ("Links", 2, _F.TYPE_MESSAGE, rep, ".paris_unixfs.PBLink"),
            ("Data", 1, _F.TYPE_BYTES, opt, ""))
    message("Data", ("Type", 1, _F.TYPE_INT32, opt, ""), ("Data", 2, _F.TYPE_BYTES, opt, ""),
            ("filesize", 3, _F.TYPE_UINT64, opt, ""), ("blocksizes", 4, _F.TYPE_UINT64, rep, ""))
    return file


_pool = descriptor_pool.DescriptorPool()
_pool.Add(_schema())
_PBNode = message_factory.GetMessageClass(_pool.FindMessageTypeByName("paris_unixfs.PBNode"))
_Data = message_factory.GetMessageClass(_pool.FindMessageTypeByName("paris_unixfs.Data"))

UNIXFS_RAW, UNIXFS_FILE = 0, 2


class UnixFSError(ValueError):
    """A dag-pb block that is not a UnixFS file node."""


@dataclass(frozen=True)
class FileNode:
    """One dag-pb node of a UnixFS file: inline bytes, then the children in order."""

    data: bytes
    links: tuple[bytes, ...]
    filesize: int | None


def decode_file_node(block: bytes) -> FileNode:
    """Parse a dag-pb block holding a UnixFS file (or raw) node."""
    node: Any = _PBNode()  # classes built from descriptors at import: no static attributes
    try:
        node.ParseFromString(block)
        unixfs: Any = _Data()
        unixfs.ParseFromString(node.Data)
    except Exception as exc:  # protobuf raises its own DecodeError and, for truncation, others
        raise UnixFSError(f"not a dag-pb/UnixFS block: {exc}") from exc
    if unixfs.Type not in (UNIXFS_RAW, UNIXFS_FILE):
        raise UnixFSError(f"UnixFS node type {unixfs.Type} is not a file")
    size = unixfs.filesize if unixfs.HasField("filesize") else None
    return FileNode(unixfs.Data, tuple(link.Hash for link in node.Links), size)
