"""Shared fixtures: one real devnet (anvil + IPFS + deployed market) for the tests that only use it.

Tests that need a devnet (this fixture, or one they start themselves) carry the `devnet` marker, so
`pytest -m "not devnet"` runs the fast unit half alone. Helpers the tests import live in `helpers/`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from paris_node.market.chain import Chain
from paris_node.runtime.devnet import Devnet, DevnetInfo

from helpers.chain import TEST_MARKET, unbond_fresh_validators


@pytest.fixture(scope="session")
def devnet_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the shared devnet keeps devnet.json, keystores and logs (what `--dir` takes)."""
    return tmp_path_factory.mktemp("devnet")


@pytest.fixture(scope="session")
def devnet(devnet_dir: Path) -> Iterator[DevnetInfo]:
    net = Devnet(devnet_dir, market=TEST_MARKET)
    try:
        yield net.start()
    finally:
        net.stop()


@pytest.fixture(autouse=True)
def fresh_validators_leave(request: pytest.FixtureRequest) -> Iterator[None]:
    """After each test on the shared devnet, the validators it staked from fresh accounts unbond."""
    if "devnet" not in request.fixturenames:
        yield
        return
    info: DevnetInfo = request.getfixturevalue("devnet")
    start = Chain(info.rpc_url, info.contract).w3.eth.block_number + 1
    yield
    unbond_fresh_validators(info, start)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that uses the shared devnet; modules that start their own mark themselves."""
    for item in items:
        if {"devnet", "devnet_dir"} & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.devnet)
