"""Shared fixtures: a real simulated relay on loopback, settings pointing at it, and the app's
runtime (store, relays, jobs) built on a fresh data folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from suxi.runtime import Runtime
from suxi.settings import Settings
from suxi.simrelay import SimRelay

from .apprunner import ScriptsByPrompt

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
        poll_interval=0.05,
        poll_max_interval=0.2,
        min_free_bytes=0,
    )


@pytest.fixture
async def runtime(settings: Settings):
    """The app's parts as the server wires them, started in the test's event loop."""
    rt = Runtime(settings)
    await rt.start()
    yield rt
    await rt.close()


@pytest.fixture
def jobs(runtime: Runtime):
    return runtime.jobs


# — for the modules that launch the app —


@pytest.fixture(scope="module")
def scripts() -> ScriptsByPrompt:
    """What the module's relay answers, chosen by prompt (a test registers its own)."""
    return ScriptsByPrompt()


@pytest.fixture(scope="module")
def scripted_relay(scripts: ScriptsByPrompt):
    with SimRelay(speed=200).start() as sim:  # a script's Sleep(200) lasts one second
        sim.set_default(scripts)
        yield sim


@pytest.fixture(scope="module")
def browser():
    """The system's Chromium, through Playwright (skipped, or a failure in CI, without it)."""
    from .browser_support import CHROMIUM, CHROMIUM_ARGS, require_browser

    require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()
