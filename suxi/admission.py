"""Who may start a job now: the app's decision, made before anything is sent.

- **Per visitor** (a shared deployment, the operator's key): jobs running at once and jobs per
  hour, counted by visitor token *or* by the salted hash of the address — a fresh token from
  the same address gains nothing. Hours are counted from the append-only ledger of spends
  (:meth:`suxi.store.Store.spend`), never from the job rows a visitor can delete.
- **Per operator key** (any deployment): ``SUXI_OPERATOR_MAX_RUNNING`` and
  ``SUXI_OPERATOR_MAX_PER_HOUR`` cap the whole app's use of the operator's key.
- **Stream slots**: a chat-format job holds one of ``SUXI_MAX_JOBS`` streams while it is
  followed; ``SUXI_OWN_KEY_RESERVED`` of them are never given to the operator's key, so a flood
  on the operator's key cannot lock out a visitor who brings a key. Task-format jobs hold no
  slot (a poll every few seconds costs nothing).

A visitor's own key counts against none of the operator's limits.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from .errors import InputError
from .kinds import Kind
from .settings import Settings
from .store import Store

HOUR = 3600.0


@dataclass(frozen=True)
class KeyChoice:
    """Which key a request spends and where it goes."""

    key: str = ""
    relay: Any = None  # the relay the key belongs to (suxi.runtime.Relay)
    operator: bool = False  # the operator's key (the site pays)
    limited: bool = False  # per-visitor limits apply (operator's key, shared deployment)


@dataclass(frozen=True)
class Visitor:
    owner: str
    address: str  # salted hash of the address ("" when unknown)


class Admission:
    def __init__(self, settings: Settings, store: Store, running: Callable[[], list[Any]]) -> None:
        """``running()`` lists the jobs running now (each with ``owner``, ``address_hash`` and
        ``own_key``)."""
        self.settings = settings
        self.store = store
        self._running = running

    def allowance(
        self, visitor: Visitor, choice: KeyChoice, wanted: int, what: str = "video"
    ) -> int:
        """How many of ``wanted`` jobs may start now (at least one, else the limiting reason
        is raised as an InputError)."""
        if not choice.operator:
            return wanted
        s = self.settings
        now = time.time()
        room: list[tuple[int, Kind, int]] = []
        operator_jobs = [j for j in self._running() if not j.own_key]
        if s.operator_max_running:
            room.append(
                (
                    s.operator_max_running - len(operator_jobs),
                    Kind.OPERATOR_RUNNING,
                    s.operator_max_running,
                )
            )
        if s.operator_max_per_hour:
            spent = self.store.spends_since(now - HOUR, what=what)
            room.append(
                (s.operator_max_per_hour - spent, Kind.OPERATOR_HOURLY, s.operator_max_per_hour)
            )
        if choice.limited:
            mine = [
                j
                for j in operator_jobs
                if j.owner == visitor.owner
                or (visitor.address and j.address_hash == visitor.address)
            ]
            room.append(
                (s.visitor_max_running - len(mine), Kind.VISITOR_RUNNING, s.visitor_max_running)
            )
            spent = self.store.spends_since(
                now - HOUR, what=what, owner=visitor.owner, address=visitor.address or None
            )
            room.append(
                (s.visitor_max_per_hour - spent, Kind.VISITOR_HOURLY, s.visitor_max_per_hour)
            )
        if not room:
            return wanted
        left, kind, limit = min(room, key=lambda r: r[0])
        if left <= 0:
            raise InputError(kind, limit=limit)
        return min(wanted, left)

    def help_allowed(self, visitor: Visitor, choice: KeyChoice) -> None:
        """Prompt help on the operator's key has its own hourly limit per visitor."""
        if not (choice.operator and choice.limited):
            return
        limit = self.settings.visitor_prompt_help_per_hour
        spent = self.store.spends_since(
            time.time() - HOUR, what="help", owner=visitor.owner, address=visitor.address or None
        )
        if spent >= limit:
            raise InputError(Kind.HELP_HOURLY, limit=limit)

    def record(self, visitor: Visitor, choice: KeyChoice, job_id: str, what: str = "video") -> None:
        self.store.spend(
            owner=visitor.owner,
            address=visitor.address,
            job_id=job_id,
            operator=choice.operator,
            what=what,
        )


class StreamSlots:
    """The chat streams followed at once, with a share kept for visitors' own keys."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._all: asyncio.Semaphore | None = None
        self._operator: asyncio.Semaphore | None = None

    def _semaphores(self) -> tuple[asyncio.Semaphore, asyncio.Semaphore]:
        if self._all is None or self._operator is None:  # made inside the running loop
            s = self.settings
            self._all = asyncio.Semaphore(s.max_jobs)
            self._operator = asyncio.Semaphore(s.max_jobs - min(s.own_key_reserved, s.max_jobs - 1))
        return self._all, self._operator

    def check(self, operator: bool, in_flight: dict[bool, int], adding: int = 1) -> None:
        """Refuse chat jobs beyond the streams plus the waiting room (``SUXI_MAX_QUEUE``); the
        operator's key gets neither the reserved streams nor their share of the waiting room."""
        s = self.settings
        reserved = min(s.own_key_reserved, s.max_jobs - 1)
        total = sum(in_flight.values()) + adding
        if total > s.max_jobs + s.max_queue:
            raise InputError(Kind.BUSY)
        if operator and in_flight[True] + adding > (s.max_jobs - reserved) + max(
            1, s.max_queue - reserved
        ):
            raise InputError(Kind.BUSY)

    @asynccontextmanager
    async def hold(self, operator: bool) -> AsyncIterator[None]:
        every, operators = self._semaphores()
        taken: list[asyncio.Semaphore] = []
        try:
            if operator:
                await operators.acquire()
                taken.append(operators)
            await every.acquire()
            taken.append(every)
        except BaseException:
            for sem in taken:
                sem.release()
            raise
        try:
            yield
        finally:
            for sem in taken:
                sem.release()
