"""The demo's lazy validator: a real `ValidatorDaemon` that passes every delta the moment its reveal lands,
without fetching or replaying anything.

It is a separate program so that the demo can show the market catching it: its sealed pass on the cheating
miner's delta loses to the honest validator's fail (which has more stake behind it), and once the vote
settles the honest validator slashes it.

    python -m paris_sdk.demo_lazy_validator --as validator-2 --dir .paris/demo/devnet --work-dir .paris/demo/lazy
"""

from __future__ import annotations

from paris_sdk.demo_daemon import serve_demo_daemon
from paris_validator.daemon import DeltaRecord, Pending, ValidatorDaemon

LAZY_SCORE = 5_000


class LazyValidator(ValidatorDaemon):
    """Checks nothing: every revealed delta passes with the same score."""

    def _verify(self, record: DeltaRecord) -> int:
        if not record.reveal_cid:
            raise Pending("waiting for the reveal")
        return LAZY_SCORE


def main() -> None:
    serve_demo_daemon(__doc__ or "", "validator", lambda chain, store, work, presence, block:
                      LazyValidator(chain, store, work, block, presence=presence))


if __name__ == "__main__":
    main()
