"""Helpers for the browser tests: the system's Chromium, ``python app.py`` as a subprocess, and
small readers of what the page shows (job cards, My videos).

Only the system's Chromium is used (``playwright install`` cannot download a browser here).
Without it the browser tests are skipped, unless ``SUXI_REQUIRE_BROWSER=1`` (CI) makes that a
failure.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .apprunner import ROOT, AppProcess

SCREENSHOTS = ROOT / "assets" / "screenshots"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
]
NO_CHROMIUM = "chromium not installed (apt-get install chromium)"
START_TIMEOUT = 120.0  # importing gradio takes ~4 s; a busy shared machine can be much slower
WAIT = 90.0  # seconds for anything the page has to show
DESKTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}
RUNNING = {"waiting", "pending", "queued", "generating", "downloading"}


def require_browser() -> None:
    """Skip the test when Chromium (or Playwright) is missing; fail under CI's
    ``SUXI_REQUIRE_BROWSER=1``."""
    problem = ""
    if not CHROMIUM.is_file():
        problem = NO_CHROMIUM
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            problem = "playwright not installed (pip install -r requirements-dev.txt)"
    if not problem:
        return
    if os.environ.get("SUXI_REQUIRE_BROWSER") == "1":
        pytest.fail(
            f"SUXI_REQUIRE_BROWSER=1 but the browser tests cannot run: {problem}", pytrace=False
        )
    pytest.skip(problem)


class AppServer(AppProcess):
    """``python app.py`` on loopback: the offline demo (no key) or a real relay (a key and
    ``base_url``), at demo speed 15 unless told otherwise."""

    start_timeout = START_TIMEOUT

    def __init__(
        self,
        workdir: Path,
        *,
        api_key: str = "",
        base_url: str = "",
        speed: float = 15,
        **extra: str,
    ):
        super().__init__(workdir, api_key=api_key, base_url=base_url, speed=speed, **extra)

    def jobs(self) -> list[dict[str, Any]]:
        """The app's job records, newest first, straight from its SQLite file."""
        db = sqlite3.connect(self.data_dir / "jobs.sqlite3", timeout=10)
        try:
            db.row_factory = sqlite3.Row
            rows = db.execute("SELECT * FROM jobs ORDER BY created DESC").fetchall()
        finally:
            db.close()
        jobs = [dict(row) for row in rows]
        for job in jobs:
            for name in ("messages", "options", "lines"):
                if isinstance(job.get(name), str):
                    job[name] = json.loads(job[name])
        return jobs


# Installed before any page script runs (and again after a reload): every change of a job card
# is appended to ``window.__cards``, so no short-lived state can be missed by polling.
CARD_WATCH = """
(() => {
  const log = (window.__cards = []);
  const seen = new Map();
  const read = () => {
    for (const card of document.querySelectorAll('#cards .suxi-card')) {
      const text = (sel) => { const el = card.querySelector(sel); return el ? el.textContent.trim() : ''; };
      const snap = {
        id: card.dataset.job, state: [...card.classList].find((c) => c.startsWith('state-')) || '',
        word: text('.suxi-state'), percent: text('.suxi-percent'), clock: text('.suxi-clock'),
        prompt: text('.suxi-prompt'),
      };
      const key = JSON.stringify(snap);
      if (seen.get(snap.id) !== key) { seen.set(snap.id, key); log.push({ ...snap, t: performance.now() }); }
    }
  };
  new MutationObserver(read).observe(document, { subtree: true, childList: true, characterData: true, attributes: true });
})();
"""

CARDS_NOW = """() => [...document.querySelectorAll('#cards .suxi-card')].map((card) => {
  const text = (sel) => { const el = card.querySelector(sel); return el ? el.textContent.trim() : ''; };
  const video = card.querySelector('video');
  const stop = [...card.querySelectorAll('.suxi-buttons button')].find((b) => b.classList.contains('stop'));
  return {
    id: card.dataset.job,
    state: ([...card.classList].find((c) => c.startsWith('state-')) || '').slice(6),
    word: text('.suxi-state'), percent: text('.suxi-percent'), clock: text('.suxi-clock'),
    prompt: text('.suxi-prompt'), status: text('.suxi-status'), said: text('.suxi-said'),
    steps: text('.suxi-steps'), details: text('.suxi-details'),
    outside: [...card.children].filter((c) => !c.matches('.suxi-details')).map((c) => c.textContent).join(' '),
    video: video ? { ready: video.readyState, paused: video.paused, muted: video.muted, loop: video.loop,
                     src: video.getAttribute('src') } : null,
    stop: stop ? !stop.disabled : null,
  };
})"""


def cards(page) -> list[dict[str, Any]]:
    return page.evaluate(CARDS_NOW)


def card_log(page) -> list[dict[str, Any]]:
    return page.evaluate("() => window.__cards || []")


def card_for(page, prompt: str) -> dict[str, Any] | None:
    return next((c for c in cards(page) if c["prompt"] == prompt), None)


def describe(page, app: AppServer | None) -> str:
    """What the page and the app show right now, for a failure message."""
    try:
        seen = f"cards: {json.dumps(cards(page), ensure_ascii=False)[:3000]}"
        seen += f"\npage errors: {getattr(page, 'errors', [])}"
        seen += f"\nfollow trace: {page.evaluate('() => window.suxi.cards.trace')}"
    except Exception as err:  # the page itself may be the problem
        seen = f"(page unreadable: {err})"
    log = ""
    if app is not None:
        try:
            stored = [
                (j["prompt"][:30], j["state"], j["percent"], j["error_kind"])
                for j in app.jobs()[:8]
            ]
        except Exception as err:  # the database may be what broke
            stored = [f"(unreadable: {err})"]
        log = f"\nstored jobs: {stored}\napp log (tail):\n{app.log(2500)}"
    return seen + log


def wait_js(page, app, expression: str, what: str, arg: Any = None, timeout: float = WAIT):
    """Wait until ``expression`` (a JS function) is truthy; fail with what the page shows."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        return page.wait_for_function(expression, arg=arg, timeout=timeout * 1000, polling=100)
    except PlaywrightTimeout:
        pytest.fail(f"{what}: not seen within {timeout:.0f}s\n{describe(page, app)}")


def wait_card(page, app, prompt: str, states: tuple[str, ...], timeout: float = WAIT) -> dict:
    """Wait until the card of ``prompt`` is in one of ``states``; return it."""
    wait_js(
        page,
        app,
        f"([prompt, states]) => ({CARDS_NOW})().some((c) => c.prompt === prompt && states.includes(c.state))",
        f"the card of {prompt!r} in {states}",
        arg=[prompt, list(states)],
        timeout=timeout,
    )
    return card_for(page, prompt)


def wait_playing(page, app, prompt: str, timeout: float = WAIT) -> dict:
    """Wait until the card's video has decoded a frame and plays (muted, looping)."""
    wait_js(
        page,
        app,
        f"(prompt) => ({CARDS_NOW})().some((c) => c.prompt === prompt && c.video && c.video.ready >= 2 && !c.video.paused)",
        f"the video of {prompt!r} playing",
        arg=prompt,
        timeout=timeout,
    )
    return card_for(page, prompt)


def screenshot(page, name: str, *, full_page: bool = False) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / name
    page.mouse.move(0, 0)  # no hover highlight on the button just clicked
    page.screenshot(path=str(path), full_page=full_page, animations="disabled")
    return path


def wait_loaded(page, app: AppServer) -> None:
    """The page is up and its script ran: the visitor token is in the browser's storage."""
    page.locator("#generate").wait_for(state="visible")
    wait_js(
        page,
        app,
        "() => window.suxi && localStorage.getItem('suxi-visitor') !== null && document.querySelector('#cards .suxi-cards')",
        "the page's script and the visitor token",
    )


def generate(page, prompt: str, *, tap: bool = False) -> None:
    page.locator("#prompt textarea").fill(prompt)
    button = page.locator("#generate")
    button.tap() if tap else button.click()


@contextlib.contextmanager
def open_page(
    browser,
    app: AppServer,
    *,
    locale: str = "en-US",
    accept_language: str | None = None,
    phone: bool = False,
    context=None,
    **options: Any,
) -> Iterator[Any]:
    """A page showing the app, loaded and ready: in a fresh browser context (its own visitor)
    unless ``context`` is given (another tab of the same browser)."""
    own = context is None
    if own:
        options = {"locale": locale, "viewport": PHONE if phone else DESKTOP, **options}
        if phone:
            options.update(is_mobile=True, has_touch=True, device_scale_factor=2)
        if accept_language:
            options["extra_http_headers"] = {"Accept-Language": accept_language}
        context = browser.new_context(**options)
        context.set_default_timeout(WAIT * 1000)
        context.add_init_script(CARD_WATCH)
    page = context.new_page()
    page.errors = []  # uncaught exceptions in the page's own scripts
    page.on("pageerror", lambda err: page.errors.append(str(err)))
    page.on(
        "console",
        lambda msg: (
            page.errors.append(msg.text) if msg.type == "error" and "suxi" in msg.text else None
        ),
    )
    try:
        page.goto(app.url, wait_until="domcontentloaded")
        wait_loaded(page, app)
        yield page
    finally:
        page.close()
        if own:
            context.close()
