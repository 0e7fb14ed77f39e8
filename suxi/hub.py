"""Who is told when a job changes: subscriptions to job snapshots.

A follower subscribes to the ids it cares about *before* reading their current state, so no
change can fall between the read and the wait. Each subscription keeps only the newest snapshot
per job (a slow follower skips intermediate states, never the last one), so a publish costs one
dict write per follower and nothing waits for anyone.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Iterable

from .job import Job


class Subscription:
    def __init__(self, hub: Hub, ids: Iterable[str]) -> None:
        self._hub = hub
        self.ids = set(ids)
        self._pending: dict[str, Job] = {}
        self._ready = asyncio.Event()

    def offer(self, job: Job) -> None:
        self._pending[job.id] = job
        self._ready.set()

    def add(self, job_id: str) -> None:
        self.ids.add(job_id)
        self._hub._subs[job_id].add(self)

    async def changes(self, timeout: float | None = None) -> list[Job]:
        """The jobs that changed since the last call (waits up to ``timeout`` seconds for one;
        an empty list when nothing changed in time)."""
        if not self._pending:
            try:
                await asyncio.wait_for(self._ready.wait(), timeout)
            except TimeoutError:
                return []
        jobs, self._pending = list(self._pending.values()), {}
        self._ready.clear()
        return jobs

    def close(self) -> None:
        for job_id in self.ids:
            subs = self._hub._subs.get(job_id)
            if subs is not None:
                subs.discard(self)
                if not subs:
                    del self._hub._subs[job_id]

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Hub:
    def __init__(self) -> None:
        self._subs: defaultdict[str, set[Subscription]] = defaultdict(set)

    def subscribe(self, ids: Iterable[str]) -> Subscription:
        sub = Subscription(self, ids)
        for job_id in sub.ids:
            self._subs[job_id].add(sub)
        return sub

    def publish(self, job: Job) -> None:
        for sub in tuple(self._subs.get(job.id, ())):
            sub.offer(job)

    @property
    def followers(self) -> int:
        return sum(len(s) for s in self._subs.values())
