"""Batches: many prompts, one job each, run in order within the visitor's limits.

The prompts are stored as jobs in the "waiting" state the moment the batch is accepted, so a
closed tab or a restart loses none of them. A runner per batch starts the next waiting job when
fewer than :data:`PARALLEL` of the batch run and the limits allow one more; a failed job does
not stop the rest; stopping the batch stops its running jobs and cancels the waiting ones
(nothing was sent for those).
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from .admission import KeyChoice, Visitor
from .errors import InputError
from .kinds import State

if TYPE_CHECKING:
    from .jobs import Jobs

log = logging.getLogger(__name__)
PARALLEL = 3  # jobs of one batch running at once (within the visitor's own limits)
RETRY = 15.0  # seconds before asking the limits again after a refusal


class Batches:
    def __init__(self, jobs: Jobs) -> None:
        self.jobs = jobs
        self._runners: dict[str, asyncio.Task[None]] = {}

    def add(self, group_id: str, choice: KeyChoice) -> None:
        if group_id and group_id not in self._runners:
            self._runners[group_id] = asyncio.create_task(
                self._run(group_id, choice), name=f"batch-{group_id}"
            )

    def stop(self, group_id: str) -> int:
        """Stop a batch: its running jobs stop, its waiting ones are cancelled."""
        runner = self._runners.pop(group_id, None)
        if runner is not None:
            runner.cancel()
        stopped = 0
        for job in self.jobs.store.group(group_id):
            live = self.jobs.get(job.id)
            if live is not None and (live.running or live.state == State.WAITING):
                self.jobs.stop(job.id)
                stopped += 1
        return stopped

    async def shutdown(self) -> None:
        runners = list(self._runners.values())
        for runner in runners:
            runner.cancel()
        await asyncio.gather(*runners, return_exceptions=True)

    async def _run(self, group_id: str, choice: KeyChoice) -> None:
        jobs = self.jobs
        try:
            ids = [j.id for j in jobs.store.group(group_id)]
            with jobs.subscribe(ids) as sub:
                while True:
                    # Waiting and running members are all live: ended ones need no store read.
                    members = [jobs.live(i) for i in ids]
                    waiting = [j for j in members if j is not None and j.state == State.WAITING]
                    if not waiting:
                        return
                    running = sum(1 for j in members if j is not None and j.running)
                    if running < PARALLEL:
                        nxt = waiting[0]
                        try:
                            jobs.admission.allowance(
                                Visitor(nxt.owner, nxt.address_hash), choice, 1
                            )
                        except InputError:
                            await sub.changes(RETRY)
                            continue
                        jobs.launch_waiting(nxt.id)
                        continue
                    await sub.changes(RETRY)
        except Exception:
            log.exception("batch %s stopped unexpectedly", group_id)
        finally:
            self._runners.pop(group_id, None)
