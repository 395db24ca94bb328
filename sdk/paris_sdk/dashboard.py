"""A live web dashboard of one job: experts and rounds, the held-out loss of every checkpoint version, every
participant (aggregator, miners, validators) with its liveness, deltas and scores, payouts, slashes, the deadline
and the latest sample video.

`JobBoard` keeps the state current from the chain (and heartbeats, when it has a p2p network); the
FastAPI app serves it as JSON (`/api/state`), the page (`/`) that renders it every second, and the latest
sample (`/sample.gif`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from fastapi import FastAPI, HTTPException
from fastapi.responses import FileResponse, HTMLResponse
from pydantic import BaseModel

from paris_node.content.store import StoreError
from paris_node.market.chain import Chain, ChainError
from paris_node.net.network import Members, Network
from paris_node.net.status_api import PeerReport, StatusServer
from paris_sdk.client import Client, Decided, JobFeed, Merged, Paid, Progress, Scored, Slashed, Submitted

log = logging.getLogger(__name__)
EVAL_CLIPS = 8
ETH = 10**18


class ExpertView(BaseModel):
    expert: int
    version: int
    rounds: int
    losses: list[float]  # held-out loss of versions 0..version


class DeltaView(BaseModel):
    delta_id: str
    miner: str
    expert: int
    base_version: int
    state: str  # submitted, passed, failed, merged, paid, slashed
    score: int | None = None


class Transfer(BaseModel):
    account: str
    eth: float
    delta_id: str


class ParticipantView(BaseModel):
    role: str  # miner, validator, aggregator
    address: str
    work: str  # what it did for this job


class BoardState(BaseModel):
    job: int
    name: str
    escrow_eth: float
    deadline: int  # chain time
    now: int  # chain time when read
    participants: list[ParticipantView]
    experts: list[ExpertView]
    deltas: list[DeltaView]
    payouts: list[Transfer]
    slashes: list[Transfer]
    peers: list[PeerReport]
    samples: int  # how many samples were drawn so far (the page reloads the image when it grows)
    updated: float


class JobBoard:
    def __init__(self, client: Client, job_id: int, sample_dir: Path, network: Network | None = None) -> None:
        self.client, self.job_id, self.network = client, job_id, network
        self.sample_path = sample_dir / "latest.gif"
        self.spec = client.spec(job_id)
        if network is not None:  # heard before it bonds its stake at its first merge
            network.members.vouch(client.chain.job(job_id).aggregator)
        self._feed = JobFeed(client.chain, job_id, client.from_block)
        self._deltas: dict[int, DeltaView] = {}
        self._payouts: list[Transfer] = []
        self._slashes: list[Transfer] = []
        self._votes: Counter[str] = Counter()  # validator -> votes opened on this job's deltas
        self._merges = 0
        self._losses: dict[int, list[float]] = {e: [] for e in range(self.spec.experts)}
        self._samples = 0
        self._lock = threading.Lock()

    def refresh(self) -> None:
        """Read new chain events; score and sample each new checkpoint version."""
        merged = False
        for event in self._feed.poll():
            merged |= self._apply(event)
        for expert in range(self.spec.experts):
            version = self.client.chain.version_of(self.job_id, expert)
            while len(self._losses[expert]) <= version:
                self._losses[expert].append(self.client.held_out_loss(self.job_id, expert, len(self._losses[expert]),
                                                                            EVAL_CLIPS))
        if merged or not self.sample_path.exists():
            drawing = self.sample_path.with_name("drawing.gif")  # never serve a half-written file
            self.client.sample(self.job_id, drawing, steps=8).replace(self.sample_path)
            self._samples += 1

    def _apply(self, event: Progress) -> bool:
        """Fold one event into the views; True when a checkpoint was merged."""
        with self._lock:
            if isinstance(event, Submitted):
                self._deltas[event.delta_id] = DeltaView(delta_id=hex(event.delta_id), miner=event.miner,
                                                         expert=event.expert, base_version=event.base_version,
                                                         state="submitted")
            elif isinstance(event, Merged):
                for delta_id in event.deltas:
                    self._set(delta_id, "merged")
                self._merges += 1
                return True
            elif isinstance(event, Scored):
                self._votes[event.validator] += 1
            elif isinstance(event, Decided):
                self._set(event.delta_id, "passed" if event.passed else "failed",
                          event.score if event.passed else None)
            elif isinstance(event, Paid):
                self._set(event.delta_id, "paid")
                self._payouts.append(Transfer(account=event.miner, eth=event.wei / ETH, delta_id=hex(event.delta_id)))
            elif isinstance(event, Slashed):
                self._set(event.delta_id, "slashed")
                self._slashes.append(Transfer(account=event.miner, eth=event.wei / ETH, delta_id=hex(event.delta_id)))
        return False

    def _set(self, delta_id: int, state: str, score: int | None = None) -> None:
        view = self._deltas.get(delta_id)
        if view is not None:
            self._deltas[delta_id] = view.model_copy(update={"state": state,
                                                             "score": score if score is not None else view.score})

    def state(self) -> BoardState:
        job = self.client.chain.job(self.job_id)
        now = self.client.chain.timestamp()
        peers = self.network.peer_reports() if self.network else []
        with self._lock:
            return BoardState(job=self.job_id, name=self.spec.name, escrow_eth=job.escrow / ETH, deadline=job.deadline,
                              now=now, participants=self._participants(job.aggregator, peers),
                              experts=[ExpertView(expert=e, version=len(losses) - 1, rounds=job.rounds,
                                                  losses=[round(x, 5) for x in losses])
                                       for e, losses in self._losses.items()],
                              deltas=list(self._deltas.values()), payouts=list(self._payouts),
                              slashes=list(self._slashes), peers=peers, samples=self._samples, updated=time.time())

    def _participants(self, aggregator: str, peers: list[PeerReport]) -> list[ParticipantView]:
        """The aggregator, every miner and validator that worked on the job, and the ones heard that did not yet."""
        deltas = Counter(d.miner for d in self._deltas.values())
        views = [ParticipantView(role="aggregator", address=aggregator, work=f"{self._merges} merges"),
                 *(ParticipantView(role="miner", address=m, work=f"{n} deltas") for m, n in deltas.items()),
                 *(ParticipantView(role="validator", address=v, work=f"{n} votes") for v, n in self._votes.items())]
        known = {v.address for v in views}
        return views + [ParticipantView(role=p.role, address=p.address, work="heard; nothing for this job yet")
                        for p in peers if p.address not in known and p.role in ("miner", "validator", "aggregator")]

    def run(self, stop: threading.Event, poll_s: float = 1.0) -> None:
        while not stop.is_set():
            try:
                self.refresh()
            except (ChainError, StoreError, ValueError) as exc:
                log.warning("dashboard refresh failed: %s (will retry)", exc)
            stop.wait(poll_s)


def build_dashboard(board: JobBoard) -> FastAPI:
    app = FastAPI(title=f"Paris job {board.job_id}")
    page = resources.files("paris_sdk").joinpath("dashboard.html").read_text()

    @app.get("/", response_class=HTMLResponse)
    def index() -> str:
        return page

    @app.get("/api/state")
    def api_state() -> BoardState:
        try:
            return board.state()
        except ChainError as exc:
            raise HTTPException(status_code=503, detail=f"chain unavailable: {exc}") from exc

    @app.get("/sample.gif")
    def sample() -> FileResponse:
        if not board.sample_path.exists():
            raise HTTPException(status_code=404, detail="no sample yet")
        return FileResponse(board.sample_path, media_type="image/gif", headers={"Cache-Control": "no-store"})

    return app


@dataclass
class ServedDashboard:
    """A job's dashboard being served: its URL, and `stop` to end it."""

    url: str
    server: StatusServer
    watcher: Network
    halt: threading.Event

    def stop(self) -> None:
        self.halt.set()
        self.server.stop()
        self.watcher.stop()


def serve_dashboard(client: Client, job_id: int, work_dir: Path, bootstrap: Sequence[str] = (), port: int = 0,
                    host: str = "127.0.0.1") -> ServedDashboard:
    """Serve job `job_id`'s dashboard on host:port (0: any free port): the board follows the chain, and an
    observer on the p2p network (its identity in `work_dir`) hears every participant's heartbeats."""
    assert client.chain.account is not None, "an observer gossips under an account"
    watcher = Network(client.chain.account, work_dir / "p2p.key", "observer",
                      Members(Chain(client.chain.rpc_url, client.chain.address)), bootstrap=bootstrap).start()
    board = JobBoard(client, job_id, work_dir, watcher)
    server = StatusServer(build_dashboard(board), host, port).start()
    halt = threading.Event()
    threading.Thread(target=board.run, args=(halt, 1.0), name="dashboard", daemon=True).start()
    return ServedDashboard(f"http://{host}:{server.port}/", server, watcher, halt)
