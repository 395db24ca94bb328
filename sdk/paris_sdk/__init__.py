"""The requester's side of Paris: open a job on your clips, follow it, download and sample the result.

`Client` (from a devnet, a config file or explicit parts) creates jobs from a `JobRequest`, follows them as
typed progress events (`Submitted`, `Scored`, `Collected`, `Decided`, `Merged`, `Paid`, `Slashed`,
`ValidatorSlashed`, `Finished`), and downloads the trained experts as a sampling pipeline. `cli` is the `paris`
command, `dashboard` a job's web page and `demo` the whole market on a local devnet.
"""

from paris_node.settings import SettingError
from paris_sdk.client import (Client, Collected, Decided, DeltaId, Finished, JobError, JobFeed, JobRequest, Merged,
                              Paid, Progress, SampleQuality, Scored, Slashed, Submitted, ValidatorSlashed)

__all__ = ["Client", "Collected", "Decided", "DeltaId", "Finished", "JobError", "JobFeed", "JobRequest", "Merged",
           "Paid", "Progress", "SampleQuality", "Scored", "SettingError", "Slashed", "Submitted", "ValidatorSlashed"]
