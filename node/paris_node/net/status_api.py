"""Every daemon's HTTP status API (FastAPI, served by uvicorn in a thread).

`/health` says whether the daemon loop is running, `/status` what it is doing (typed), `/metrics` its
Prometheus counters. A status that cannot be built answers 503 with the reason; unknown paths 404.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable

import uvicorn
from fastapi import FastAPI, HTTPException
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST
from pydantic import BaseModel

from paris_node.net.metrics import Metrics

log = logging.getLogger(__name__)
START_TIMEOUT_S = 10.0


class StatusApiError(RuntimeError):
    """The status API could not start; the message names the address."""


class Health(BaseModel):
    status: str  # "ok" while the daemon loop runs, "stopped" after
    uptime_s: float


class PeerReport(BaseModel):
    address: str
    peer_id: str
    role: str
    alive: bool
    seconds_since_heartbeat: float
    working: list[tuple[int, int, int]]  # (job, expert, version)


class DeltaReport(BaseModel):
    delta_id: str
    job: int
    expert: int
    base_version: int
    cid: str
    stage: str
    passed: bool | None = None
    score: int | None = None


class Status(BaseModel):
    role: str
    address: str
    peer_id: str | None
    jobs: list[int]
    expert: int | None  # what it works on now, if anything
    round: int | None  # the checkpoint version of that work
    last_delta: DeltaReport | None
    peers: list[PeerReport]
    resting: bool  # nothing in flight: its passes and heartbeats stretched (see roles.daemon)


def build_app(status: Callable[[], Status], metrics: Metrics, running: Callable[[], bool]) -> FastAPI:
    app = FastAPI(title="Paris daemon status")
    started = time.monotonic()

    @app.get("/health")
    def health() -> Health:
        return Health(status="ok" if running() else "stopped", uptime_s=round(time.monotonic() - started, 3))

    @app.get("/status")
    def get_status() -> Status:
        try:
            return status()
        except Exception as exc:  # the daemon's state could not be read: say why, do not crash the server
            raise HTTPException(status_code=503, detail=f"status unavailable: {exc}") from exc

    @app.get("/metrics")
    def get_metrics() -> Response:
        return Response(metrics.text(), media_type=CONTENT_TYPE_LATEST)

    return app


class _Server(uvicorn.Server):
    """uvicorn, looking at its exit flag (and refreshing its Date header) once a second instead of ten times."""

    async def main_loop(self) -> None:
        counter = 0
        while not await self.on_tick(counter):
            counter = (counter + 10) % 864000  # on_tick refreshes the headers when counter % 10 == 0
            await asyncio.sleep(1.0)


class StatusServer:
    """uvicorn serving `app` on host:port in a daemon thread; port 0 picks a free one (see `.port`)."""

    def __init__(self, app: FastAPI, host: str = "127.0.0.1", port: int = 0) -> None:
        self._server = _Server(uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="off"))
        self._thread = threading.Thread(target=self._server.run, name="paris-status", daemon=True)
        self.host, self.port = host, port

    def start(self) -> StatusServer:
        self._thread.start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise StatusApiError(f"status API on {self.host}:{self.port} did not start (port in use?)")
            time.sleep(0.02)
        self.port = self._server.servers[0].sockets[0].getsockname()[1]
        log.info("status API on http://%s:%d", self.host, self.port)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(5.0)
