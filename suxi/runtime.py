"""The app's long-lived parts, wired once per process: settings → store → relay client → jobs.

Built lazily on first use (inside Gradio's event loop) so importing ``app`` stays cheap and
tests can point it at their own relay. In demo mode (no key) a simulated relay is started on
loopback and the whole real path — HTTP, stream parsing, download, player — runs against it.
"""

from __future__ import annotations

import logging
from functools import cached_property

from .client import RelayClient, check_key
from .jobs import Jobs
from .settings import Settings, load_settings
from .store import Store

log = logging.getLogger(__name__)
DEMO_KEY = "demo-key-not-secret"


class Runtime:
    def __init__(self, settings: Settings) -> None:
        self.configured = settings
        self._demo_relay = None

    @classmethod
    def from_env(cls) -> Runtime:
        return cls(load_settings())

    @property
    def demo(self) -> bool:
        return self.configured.demo

    @cached_property
    def settings(self) -> Settings:
        """The effective settings: in demo mode, the simulated relay's address."""
        if not self.demo:
            return self.configured
        from .simrelay import SimRelay

        self._demo_relay = SimRelay(speed=self.configured.demo_speed).start()
        return self.configured.with_(base_url=self._demo_relay.base_url)

    @property
    def operator_key(self) -> str:
        return DEMO_KEY if self.demo else self.configured.api_key

    @cached_property
    def store(self) -> Store:
        store = Store(self.configured.data_dir / "jobs.sqlite3")
        interrupted = store.mark_interrupted()
        if interrupted:
            log.info("%d job(s) were running when the app stopped: marked interrupted", interrupted)
        return store

    @cached_property
    def client(self) -> RelayClient:
        return RelayClient(self.settings)

    @cached_property
    def real_client(self) -> RelayClient:
        """The configured relay, for visitors' own keys (in demo mode ``client`` is the
        simulator)."""
        return RelayClient(self.configured) if self.demo else self.client

    @cached_property
    def jobs(self) -> Jobs:
        return Jobs(self.settings, self.store, self.client)

    def key_for(self, visitor_key: str | None) -> tuple[str, RelayClient, bool]:
        """Which key a request spends, the relay it goes to, and whether the per-visitor limits
        apply (the operator's key on a shared deployment)."""
        if visitor_key and self.configured.visitor_keys:
            return check_key(visitor_key), self.real_client, False
        if self.demo:
            return DEMO_KEY, self.client, False
        return self.configured.api_key, self.client, self.configured.shared

    def relay_for_host(self, host: str) -> RelayClient:
        """The client that talks to the relay a job was sent to."""
        return self.client if host == self.settings.relay_host else self.real_client

    def close(self) -> None:
        if self._demo_relay is not None:
            self._demo_relay.stop()
