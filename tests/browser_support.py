"""Helpers for ``tests/test_browser.py``: the system's Chromium, ``python app.py`` as a
subprocess, and small readers of what the page shows.

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
]
NO_CHROMIUM = "chromium not installed (apt-get install chromium)"
START_TIMEOUT = 120.0  # importing gradio takes ~4 s; a busy shared machine can be much slower
WAIT = 90.0  # seconds for anything the page has to show
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


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


# ── the app ────────────────────────────────────────────────────────────────────────────────────


class AppServer(AppProcess):
    """``python app.py`` on loopback (launched, awaited and stopped by
    :class:`tests.apprunner.AppProcess`): the offline demo (no key) or a real relay (a key and
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
    ) -> None:
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
            for name in ("messages", "params"):
                if isinstance(job.get(name), str):
                    job[name] = json.loads(job[name])
        return jobs


# ── the page ───────────────────────────────────────────────────────────────────────────────────

# Installed before any page script runs (and again after a reload): every change of the progress
# panel is appended to ``window.__suxiPanel``, so no short-lived state can be missed by polling.
PANEL_WATCH = """
(() => {
  const log = (window.__suxiPanel = []);
  const read = () => {
    const panel = document.querySelector('#panel');
    if (!panel) return;
    const text = (sel) => {
      const el = panel.querySelector(sel);
      return el ? el.textContent.trim() : null;
    };
    const snap = {
      state: text('.suxi-state'),
      percent: text('.suxi-percent'),
      clock: text('.suxi-clock'),
      task: text('.suxi-task code'),
    };
    const last = log[log.length - 1];
    if (!last || ['state', 'percent', 'clock', 'task'].some((k) => last[k] !== snap[k])) {
      log.push({ ...snap, t: performance.now() });
    }
  };
  new MutationObserver(read).observe(document, {
    subtree: true,
    childList: true,
    characterData: true,
  });
})();
"""

PANEL_NOW = """() => {
  const panel = document.querySelector('#panel');
  const text = (sel) => {
    const el = panel && panel.querySelector(sel);
    return el ? el.textContent.trim() : null;
  };
  return {
    state: text('.suxi-state'),
    percent: text('.suxi-percent'),
    clock: text('.suxi-clock'),
    task: text('.suxi-task code'),
    fill: (panel && panel.querySelector('.suxi-fill') || {style: {}}).style.width || null,
  };
}"""

STATUS_JS = "() => (document.querySelector('#status textarea') || {}).value || ''"


def panel(page) -> dict[str, Any]:
    return page.evaluate(PANEL_NOW)


def panel_log(page) -> list[dict[str, Any]]:
    return page.evaluate("() => window.__suxiPanel || []")


def status(page) -> str:
    return page.evaluate(STATUS_JS)


def percent_of(snap: dict[str, Any]) -> int | None:
    text = snap.get("percent")
    return int(text.rstrip("%")) if text else None


def describe(page, app: AppServer | None) -> str:
    """What the page and the app show right now, for a failure message."""
    try:
        seen = f"panel: {panel(page)}\nstatus: {status(page)!r}"
    except Exception as err:  # the page itself may be the problem
        seen = f"(page unreadable: {err})"
    log = f"\napp log (tail):\n{app.log(2500)}" if app is not None else ""
    return seen + log


def wait_js(page, app, expression: str, what: str, arg: Any = None, timeout: float = WAIT):
    """Wait until ``expression`` (a JS function) is truthy; fail with what the page shows."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        return page.wait_for_function(expression, arg=arg, timeout=timeout * 1000, polling=100)
    except PlaywrightTimeout:
        pytest.fail(f"{what}: not seen within {timeout:.0f}s\n{describe(page, app)}")


def wait_status(page, app, start: str, timeout: float = WAIT) -> str:
    """Wait until the status box starts with ``start``; return its text."""
    wait_js(
        page,
        app,
        f"(start) => ({STATUS_JS})().startsWith(start)",
        f"status starting with {start!r}",
        arg=start,
        timeout=timeout,
    )
    return status(page)


def wait_video(page, app, root: str = "#video", timeout: float = WAIT) -> None:
    """Wait until the player inside ``root`` has decoded a frame (``readyState`` ≥ 2)."""
    wait_js(
        page,
        app,
        "(root) => { const v = document.querySelector(root + ' video');"
        " return v && v.readyState >= 2; }",
        f"a playable <video> in {root}",
        arg=root,
        timeout=timeout,
    )


def screenshot(page, name: str, *, full_page: bool = False) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / name
    page.mouse.move(0, 0)  # no hover highlight on the button just clicked
    page.screenshot(path=str(path), full_page=full_page, animations="disabled")
    return path


def wait_loaded(page, app: AppServer) -> None:
    """The page is up and its load event ran: the visitor token is in the browser's storage
    (a job started before that belongs to the connection, not to the browser)."""
    page.locator("#generate").wait_for(state="visible")
    wait_js(
        page,
        app,
        "() => localStorage.getItem('suxi-visitor') !== null",
        "the visitor token in localStorage",
    )


@contextlib.contextmanager
def open_page(
    browser,
    app: AppServer,
    *,
    locale: str = "en-US",
    accept_language: str | None = None,
    phone: bool = False,
) -> Iterator[Any]:
    """A fresh browser context (its own visitor token) showing the app, loaded and ready."""
    options: dict[str, Any] = {"locale": locale, "viewport": PHONE if phone else DESKTOP}
    if phone:
        options.update(is_mobile=True, has_touch=True, device_scale_factor=2)
    if accept_language:
        options["extra_http_headers"] = {"Accept-Language": accept_language}
    context = browser.new_context(**options)
    context.set_default_timeout(WAIT * 1000)
    context.add_init_script(PANEL_WATCH)
    page = context.new_page()
    page.errors = []  # uncaught exceptions in the page's own scripts
    page.on("pageerror", lambda err: page.errors.append(str(err)))
    try:
        page.goto(app.url, wait_until="domcontentloaded")
        wait_loaded(page, app)
        yield page
    finally:
        context.close()
