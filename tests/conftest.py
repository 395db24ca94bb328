"""Shared fixtures: one real devnet (anvil + IPFS + deployed market) for the tests that only use it.

Tests that need a devnet (this fixture, or one they start themselves) carry the `devnet` marker, so
`pytest -m "not devnet"` runs the fast unit half alone. Helpers the tests import live in `helpers/`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest

from paris_node.runtime.devnet import DEVNET_MARKET, Devnet, DevnetInfo


@pytest.fixture(scope="session")
def devnet_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the shared devnet keeps devnet.json, keystores and logs (what `--dir` takes)."""
    return tmp_path_factory.mktemp("devnet")


# The shared devnet's vote phases are 8 s, not the demo's 20: tests that run daemons in real time wait through
# two of them per round (and a third before fees), and its validators check a delta in about a second.
TEST_MARKET = dataclasses.replace(DEVNET_MARKET, vote_window_s=8)


@pytest.fixture(scope="session")
def devnet(devnet_dir: Path) -> Iterator[DevnetInfo]:
    net = Devnet(devnet_dir, market=TEST_MARKET)
    try:
        yield net.start()
    finally:
        net.stop()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that uses the shared devnet; modules that start their own mark themselves."""
    for item in items:
        if {"devnet", "devnet_dir"} & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.devnet)
