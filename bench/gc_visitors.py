"""Realistic visitors for small N: separate ``gradio_client.Client`` objects, each with its own
session, heartbeat thread and SSE stream — what an API user of ``/generate`` runs.

gradio_client hands messages from its reader thread to the job thread through a deque that the
job thread polls every 50 ms (``gradio_client/utils.py``, ``stream_sse_v1plus``), so the moment
``Job.outputs`` grows is up to 50 ms late. :func:`install_stamps` patches gradio_client in this
process only and records both moments: **wire** (the message reached the stream reader — what a
browser sees; targets are judged on it) and **exposed** (``Job.outputs`` showed it).
"""

from __future__ import annotations

import contextlib
import os
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

# gradio_client must never phone home (it starts a telemetry thread unless this is "False").
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"

ARRIVALS: dict[str, list[tuple[float, str]]] = {}  # event id → [(wire time, msg)]
_patched = False


class _StampDeque(deque):
    def append(self, item: Any) -> None:  # the stream-reader thread, on arrival
        if isinstance(item, dict) and "event_id" in item:
            ARRIVALS.setdefault(item["event_id"], []).append((time.time(), str(item.get("msg"))))
        super().append(item)


class _StampList(list):
    """``job.outputs``: remembers when each output became visible to the job's user."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.times: list[float] = []

    def append(self, item: Any) -> None:
        self.times.append(time.time())
        super().append(item)


def install_stamps() -> None:
    global _patched
    if _patched:
        return
    import gradio_client.client as gc
    from gradio_client.utils import JobStatus

    class StampJobStatus(JobStatus):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.outputs = _StampList(self.outputs)

    gc.deque = _StampDeque
    gc.JobStatus = StampJobStatus
    _patched = True


def new_client(url: str):
    from gradio_client import Client

    return Client(
        url,
        verbose=False,
        download_files=False,  # the video stays on the server: measure the app, not copies
        analytics_enabled=False,
        max_workers=4,
        httpx_kwargs={"timeout": 60},
    )


def make_clients(url: str, n: int, workers: int = 8) -> list[Any]:
    install_stamps()
    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(lambda _: new_client(url), range(n)))


def close_clients(clients: list[Any]) -> None:
    for client in clients:
        with contextlib.suppress(Exception):
            client.close()


@dataclass
class Visit:
    """One visitor's ``/generate``: its outputs with wire and exposed times."""

    index: int
    submitted: float = 0.0
    job: Any = None
    result: Any = None
    error: str | None = None
    outputs: list[Any] = field(default_factory=list)
    exposed: list[float] = field(default_factory=list)
    wire: list[float] = field(default_factory=list)
    completed: float | None = None

    def collect(self) -> None:
        if self.job is None:
            return
        outs = self.job.communicator.job.outputs
        self.outputs = list(outs)
        self.exposed = list(getattr(outs, "times", []))
        arrivals = ARRIVALS.get(getattr(self.job.communicator, "event_id", None) or "", [])
        self.wire = [t for t, kind in arrivals if kind == "process_generating"]
        done = [t for t, kind in arrivals if kind == "process_completed"]
        self.completed = done[0] if done else None
        if len(self.wire) != len(self.outputs):  # should not happen; fall back
            self.wire = list(self.exposed)
        if self.job.done():
            try:
                self.result = self.job.result(timeout=0)
            except Exception as err:
                self.error = f"{type(err).__name__}: {err}"[:300]
        elif self.error is None:
            self.error = "unfinished"

    @property
    def ok(self) -> bool:
        if self.error or not isinstance(self.result, (list, tuple)) or len(self.result) < 2:
            return False
        return bool(self.result[1])  # the video's path: set only when the job is done


def submit_all(clients: list[Any], prompt: str = "A corgi surfing a wave") -> list[Visit]:
    """Every visitor presses Generate now (as close to at once as one thread can)."""
    visits = []
    for i, client in enumerate(clients):
        visit = Visit(i, submitted=time.time())
        visit.job = client.submit(
            prompt=f"{prompt} #{i}", max_tokens=1000, stream=True, api_name="/generate"
        )
        visits.append(visit)
    return visits


def wait_visits(visits: list[Visit], timeout: float) -> None:
    wait([v.job.future for v in visits if v.job is not None], timeout=max(timeout, 0))
    for v in visits:
        v.collect()
