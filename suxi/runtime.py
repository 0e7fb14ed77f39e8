"""The app's long-lived parts, wired once per process: settings → store → relays → jobs.

Built when the server starts (:meth:`Runtime.start`, inside its event loop), so importing the
app stays cheap and tests can build one against their own relay. In demo mode (no key) a
simulated relay runs on a fixed loopback port (remembered in the database, so after a restart
the demo's task-format jobs resume against the same address) and the whole real path — HTTP,
parsing, polling, download, player — runs against it.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
import socket
import time
from dataclasses import dataclass
from pathlib import Path

from .admission import KeyChoice, Visitor
from .errors import InputError
from .job import Job
from .jobs import Jobs
from .kinds import Kind
from .relay import Backends, RelayHTTP
from .relay.http import check_key
from .settings import Settings
from .store import Store

log = logging.getLogger(__name__)
DEMO_KEY = "demo-key-not-secret"
RETENTION_EVERY = 3600.0


@dataclass(frozen=True)
class Relay:
    origin: str
    base_url: str
    backends: Backends


class Runtime:
    def __init__(self, configured: Settings) -> None:
        self.configured = configured
        self.store: Store | None = None
        self.jobs: Jobs | None = None
        self.operator_relay: Relay | None = None  # the operator's key goes here (demo: the sim)
        self.visitor_relay: Relay | None = None  # a visitor's own key goes here (the real relay)
        self.secret = ""
        self.demo_relay = None
        self._retention: asyncio.Task[None] | None = None

    @property
    def demo(self) -> bool:
        return self.configured.demo

    # — lifecycle —

    def open(self) -> Runtime:
        """Everything but the jobs' tasks: the store, the secret, the demo relay, the clients.
        Safe outside a running loop (tests and the command line use it)."""
        s = self.configured
        self.store = Store(s.data_dir / "jobs.sqlite3")
        self.secret = s.secret or self._stored_secret()
        self.open_relays()
        self.jobs = Jobs(s, self.store)
        return self

    def open_relays(self) -> Runtime:
        """The relay clients only (the command line needs no store)."""
        s = self.configured
        self.visitor_relay = _relay(s)
        if self.demo:
            self.demo_relay = self._start_demo_relay()
            self.operator_relay = _relay(s.with_(base_url=self.demo_relay.base_url))
        else:
            self.operator_relay = self.visitor_relay
        return self

    async def aclose_relays(self) -> None:
        for relay in {id(r): r for r in (self.operator_relay, self.visitor_relay) if r}.values():
            await relay.backends.aclose()

    def close_relays(self) -> None:
        if self.demo_relay is not None:
            self.demo_relay.stop()
            self.demo_relay = None

    async def start(self) -> Runtime:
        """Open, then resume what a restart interrupted, then prune old files periodically."""
        if self.store is None:
            self.open()
        assert self.jobs is not None
        resumed, interrupted = self.jobs.resume_all(self._choice_after_restart)
        if resumed or interrupted:
            log.info("after the restart: %d job(s) resumed, %d interrupted", resumed, interrupted)
        if self.configured.keep_days:
            self._retention = asyncio.create_task(self._prune_forever())
        return self

    async def close(self) -> None:
        if self._retention is not None:
            self._retention.cancel()
        if self.jobs is not None:
            await self.jobs.shutdown()
        await self.aclose_relays()
        self.close_relays()
        if self.store is not None:
            self.store.close()

    # — keys, relays, visitors —

    def key_for(self, visitor_key: str | None) -> KeyChoice:
        """Which key a request spends, where it goes, and whether the per-visitor limits apply
        (the operator's key on a shared deployment)."""
        assert self.operator_relay is not None and self.visitor_relay is not None
        s = self.configured
        if visitor_key and visitor_key.strip() and s.visitor_keys:
            return KeyChoice(check_key(visitor_key.strip()), self.visitor_relay, operator=False)
        if self.demo:
            return KeyChoice(DEMO_KEY, self.operator_relay, operator=True, limited=s.shared)
        if not s.api_key:
            raise InputError(Kind.NO_KEY)
        return KeyChoice(s.api_key, self.operator_relay, operator=True, limited=s.shared)

    def relay_for(self, origin: str) -> Relay:
        """The relay a job was sent to (an unknown origin: the operator's)."""
        assert self.operator_relay is not None and self.visitor_relay is not None
        if origin == self.visitor_relay.origin:
            return self.visitor_relay
        return self.operator_relay

    def choice_for_job(self, job: Job, visitor_key: str | None) -> KeyChoice:
        """The key to use again for an existing job: the visitor's own key for a job made with
        one (it is never kept: the page sends it again), else the operator's."""
        if job.own_key:
            if not visitor_key:
                raise InputError(Kind.BAD_KEY)
            return KeyChoice(check_key(visitor_key.strip()), self.relay_for(job.relay_origin))
        choice = self.key_for(None)
        return KeyChoice(choice.key, self.relay_for(job.relay_origin), True, choice.limited)

    def visitor(self, owner: str, address: str) -> Visitor:
        return Visitor(owner, self.address_hash(address))

    def address_hash(self, address: str) -> str:
        """Salted with this deployment's secret: an unsalted hash of an IPv4 address can be
        reversed by trying all 2³² of them."""
        if not address:
            return ""
        return hashlib.sha256(f"{self.secret}\x00{address}".encode()).hexdigest()[:24]

    def _choice_after_restart(self, job: Job) -> KeyChoice | None:
        if job.own_key:
            return None
        try:
            return self.choice_for_job(job, None)
        except InputError:
            return None

    # — demo relay, secret, retention —

    def _stored_secret(self) -> str:
        assert self.store is not None
        secret = self.store.meta("secret")
        if not secret:
            secret = secrets.token_hex(32)
            self.store.set_meta("secret", secret)
        return secret

    def _start_demo_relay(self):
        from .simrelay import SimRelay

        remembered = int(self.store.meta("demo_port") or 0) if self.store is not None else 0
        port = self.configured.demo_port or remembered or _free_port()
        try:
            relay = SimRelay(speed=self.configured.demo_speed, port=port).start()
        except OSError:
            log.warning("the demo relay's port %d is taken: using another one", port)
            relay = SimRelay(speed=self.configured.demo_speed, port=_free_port()).start()
        if self.store is not None:
            self.store.set_meta("demo_port", str(relay.port))
        return relay

    async def _prune_forever(self) -> None:
        while True:
            await asyncio.to_thread(self.prune_old_files)
            await asyncio.sleep(RETENTION_EVERY)

    def prune_old_files(self) -> int:
        """Remove video files older than ``SUXI_KEEP_DAYS`` (the records stay)."""
        assert self.store is not None
        before = time.time() - self.configured.keep_days * 86400
        count = 0
        for job in self.store.files_older_than(before):
            for path in (job.file, job.thumbnail):
                if path:
                    (self.configured.data_dir / path).unlink(missing_ok=True)
            full = self.store.get(job.id)
            if full is not None:
                self.store.save(full.with_(file=None, thumbnail=None, pruned=True))
            count += 1
        return count


def _relay(settings: Settings) -> Relay:
    http = RelayHTTP(settings)
    return Relay(http.origin, settings.base_url, Backends(http))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def data_path(settings: Settings, relative: str | None) -> Path | None:
    """A stored relative path → the file inside the data folder (None if it would leave it)."""
    if not relative:
        return None
    root = settings.data_dir.resolve()
    path = (root / relative).resolve()
    return path if path.is_relative_to(root) and path.is_file() else None
