"""Shared fixtures: a real simulated relay on loopback and settings pointing at it."""

from __future__ import annotations

from pathlib import Path

import pytest

from suxi.client import RelayClient
from suxi.jobs import Jobs
from suxi.settings import Settings
from suxi.simrelay import SimRelay
from suxi.store import Store

FIXTURES = Path(__file__).parent / "fixtures"
KEY = "sk-test-0123456789"


@pytest.fixture
def relay():
    with SimRelay(speed=200).start() as sim:
        yield sim


@pytest.fixture
def settings(relay: SimRelay, tmp_path: Path) -> Settings:
    return Settings(
        api_key=KEY,
        base_url=relay.base_url,
        data_dir=tmp_path / "data",
        connect_timeout=2.0,
        read_timeout=1.0,
        total_timeout=10.0,
        download_timeout=10.0,
    )


@pytest.fixture
async def client(settings: Settings):
    relay_client = RelayClient(settings)
    yield relay_client
    await relay_client.aclose()


@pytest.fixture
async def jobs(settings: Settings):
    """The job runner as the app wires it, on a fresh data folder."""
    store = Store(settings.data_dir / "jobs.sqlite3")
    client = RelayClient(settings)
    runner = Jobs(settings, store, client)
    yield runner
    await runner.shutdown()
    await client.aclose()
    store.close()
