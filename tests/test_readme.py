"""The README's code blocks run as written. Every bash and python block is marked: `readme: run` blocks run
here in README order as one shell session in an empty directory (`.venv` linked to this checkout's, python
blocks through `.venv/bin/python`): a devnet, its daemons, a job on real footage, the SDK's jobs; every other
block says why it is only shown."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
from pathlib import Path

import pytest

from paris_node.runtime.devnet import DevnetError, devnet_account, down

from helpers.pacer import Pacer

pytestmark = pytest.mark.devnet  # starts a devnet of its own, the README's way

ROOT = Path(__file__).resolve().parents[1]
BLOCK = re.compile(r"^```(bash|python)\n(.*?)^```\n", re.S | re.M)
MARK = re.compile(r"<!-- readme: (run|shown: .+) -->\n$")
STOP = 'trap \'kill $(jobs -p) 2>/dev/null; wait; .venv/bin/paris devnet down\' EXIT\n'  # "when you are done"


def blocks(text: str) -> list[tuple[str, str, str]]:
    """Each bash or python block as (its mark, or "" when it has none; language; body), in README order."""
    found = []
    for block in BLOCK.finditer(text):
        mark = MARK.search(text, 0, block.start())
        found.append((mark.group(1) if mark and mark.end() == block.start() else "", block.group(1),
                      block.group(2)))
    return found


def script(text: str) -> str:
    """The `run` blocks as one bash script; python blocks as here-documents to the venv's python."""
    parts = [STOP]
    for mark, language, body in blocks(text):
        if mark == "run":
            parts.append(body if language == "bash" else f".venv/bin/python - <<'PY'\n{body}PY\n")
    return "".join(parts)


def test_every_code_block_is_run_or_says_why_it_is_only_shown() -> None:
    found = blocks((ROOT / "README.md").read_text())
    assert [body[:60] for mark, _, body in found if not mark] == []
    assert sum(mark == "run" for mark, _, _ in found) >= 3
    assert blocks("<!-- readme: run -->\n\n```bash\nls\n```\n") == [("", "bash", "ls\n")]  # the mark must touch


@pytest.mark.timeout(900)
def test_the_readme_runs_as_written(tmp_path: Path) -> None:
    (tmp_path / ".venv").symlink_to(ROOT / ".venv")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARIS_")}  # a new user's shell
    process = subprocess.Popen(["bash", "-euo", "pipefail", "-c", script((ROOT / "README.md").read_text())],
                               cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                               start_new_session=True)
    try:
        with Pacer(tmp_path / ".paris" / "devnet", {devnet_account(3).address}):  # the validator-1 it starts
            out, _ = process.communicate(timeout=840)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        out, _ = process.communicate()
        pytest.fail(f"the README's blocks did not finish in 840 s:\n{out[-4000:]}")
    finally:
        with contextlib.suppress(DevnetError):  # a run killed before its trap stopped the devnet
            down(tmp_path / ".paris" / "devnet")
    logs = "".join(f"\n--- {p.name}\n{p.read_text()[-1500:]}" for p in (tmp_path / ".paris").glob("*.log"))
    assert process.returncode == 0, out[-4000:] + logs
    said = " ".join(out.split())
    assert "market contract" in said and "reading clips" in said and "job 1 is open" in said
    # the footage job through `paris job watch`, then through `Client.follow`; the SDK's own job opened
    assert said.count("done: experts at versions [1, 1]") == 2
    assert "sampled from expert 0 v1" in said and (tmp_path / "bunny.gif").stat().st_size > 0
    assert "JobSummary(job_id=1" in said and (tmp_path / "clip.gif").stat().st_size > 0
    assert "job 2 is open; the daemons above train it" in said and "{'0x" in said  # then the private job's members
    assert "devnet stopped" in said and not (tmp_path / ".paris" / "devnet" / "devnet.json").exists()
