"""Revert hints come from IParisMarket.sol's NatSpec through the build, for every error it declares."""

from __future__ import annotations

import json
import re
from pathlib import Path

from paris_node.market.chain import artifact_path, load_artifact
from paris_node.market.errors import ContractRevert, Revert, revert_hints

INTERFACE = Path(__file__).resolve().parents[1] / "contracts" / "src" / "IParisMarket.sol"


def test_every_error_the_interface_declares_reaches_python_with_its_notice() -> None:
    source = INTERFACE.read_text()
    declared = dict(re.findall(r"/// @notice (.+)\n\s+error (\w+)\(", source))
    hints = load_artifact().hints
    assert set(hints) == set(declared.values()) and "ZeroKey" in hints
    assert all(hints[name] == notice.strip() for notice, name in declared.items())


def test_the_reverts_daemons_decide_on_are_errors_of_the_contract() -> None:
    abi_errors = {item["name"] for item in load_artifact().abi if item["type"] == "error"}
    assert {r.value for r in Revert} <= abi_errors
    assert Revert.TOO_STALE == "TooStale"  # compares equal to ContractRevert.error


def test_a_revert_names_its_error_arguments_and_hint() -> None:
    raw = json.loads(artifact_path().read_text())["rawMetadata"]
    hint = revert_hints(raw)["TooStale"]
    error = ContractRevert("submitDelta", "TooStale", {"baseVersion": 1, "current": 4, "bound": 1}, hint)
    assert str(error) == f"submitDelta reverted: TooStale(baseVersion=1, current=4, bound=1): {hint}"
    assert "fetch the expert's current checkpoint" in hint
