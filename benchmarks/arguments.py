"""The command line every benchmark script starts from: its module docstring as the help text."""

from __future__ import annotations

import argparse


def benchmark_parser(doc: str | None, size: str | None = None) -> argparse.ArgumentParser:
    """A parser whose help is `doc` as written; with `size`, a --size option (a named model size) defaulting to it."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    if size is not None:
        parser.add_argument("--size", default=size, help="named model size (paris_node.model.dit.SIZES)")
    return parser
