"""What can go wrong talking to the market, and the reverts that daemons act on.

Each custom error is declared once, with a `@notice` saying what it means to whoever hit it and what to do,
in `contracts/src/IParisMarket.sol`. Those notices reach Python through the build: forge writes them into the
contract artifact's metadata, which `scripts/setup.sh` ships inside this package, so hints are never kept by
hand here.
"""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Any


class ChainError(Exception):
    """A chain operation failed; the message says which call and why."""


class ChainUnreachable(ChainError):
    pass


class ContractRevert(ChainError):
    """The contract reverted with a custom error, decoded into its name and arguments."""

    def __init__(self, call: str, error: str, args: dict[str, Any], hint: str = "") -> None:
        self.call, self.error, self.arguments = call, error, args
        shown = ", ".join(f"{k}={_show(v)}" for k, v in args.items())
        super().__init__(f"{call} reverted: {error}({shown})" + (f": {hint}" if hint else ""))


class Revert(StrEnum):
    """Reverts a daemon decides on (names of errors in IParisMarket.sol; compared with `ContractRevert.error`)."""

    TOO_STALE = "TooStale"
    DEADLINE_PASSED = "DeadlinePassed"
    JOB_CLOSED = "JobClosed"
    ALL_ROUNDS_DONE = "AllRoundsDone"
    IS_SLASHED = "IsSlashed"
    UNBONDING = "Unbonding"
    NOT_STAKED = "NotStaked"
    CHALLENGE_NOT_READY = "ChallengeNotReady"
    CHALLENGE_EXPIRED = "ChallengeExpired"
    NOT_SLASHABLE = "NotSlashable"
    NOTHING_TO_COLLECT = "NothingToCollect"
    VOTING_CLOSED = "VotingClosed"
    NOT_ON_COMMITTEE = "NotOnCommittee"
    NOT_REVEAL_PHASE = "NotRevealPhase"
    NO_VERDICT = "NoVerdict"
    ALREADY_DECIDED = "AlreadyDecided"
    NOT_SETTLED = "NotSettled"
    RIGHT_VOTE = "RightVote"
    MERGE_NOT_SETTLED = "MergeNotSettled"
    NOTHING_TO_DISPUTE = "NothingToDispute"
    DISPUTE_WINDOW_CLOSED = "DisputeWindowClosed"
    ALREADY_DISPUTED = "AlreadyDisputed"
    ALREADY_RESOLVED = "AlreadyResolved"


def revert_hints(raw_metadata: str) -> dict[str, str]:
    """Each custom error's `@notice`, by error name, from a solc metadata document (forge's `rawMetadata`)."""
    userdoc = json.loads(raw_metadata)["output"]["userdoc"]
    return {signature.split("(")[0]: " ".join(docs[0]["notice"].split())
            for signature, docs in userdoc.get("errors", {}).items() if docs and "notice" in docs[0]}


def _show(value: Any) -> str:
    return "0x" + value.hex() if isinstance(value, bytes) else str(value)
