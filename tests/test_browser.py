"""The page in a real browser: ``python app.py`` in a subprocess, driven by the system's Chromium
through Playwright's sync API.

One offline-demo app (SUXI_SHARED=1, so each browser context sees only its own videos) serves
the desktop, phone, Chinese, image and modify tests; the relay-error test and the reload test
get apps of their own. Screenshots go to ``assets/screenshots/``.

Chromium missing: skipped, or a failure under ``SUXI_REQUIRE_BROWSER=1`` (CI).
"""

from __future__ import annotations

import io
import time
from itertools import pairwise
from pathlib import Path

import pytest

from suxi.simrelay import SimRelay, error_reply

from .browser_support import (
    CHROMIUM,
    CHROMIUM_ARGS,
    AppServer,
    open_page,
    panel,
    panel_log,
    percent_of,
    require_browser,
    screenshot,
    status,
    wait_js,
    wait_loaded,
    wait_status,
    wait_video,
)

RUNNING_WORDS = {"Waiting to start", "Queued", "Generating", "Saving the video"}
INTERNALS = ("Traceback", "Error(", "Exception")


# ── fixtures ───────────────────────────────────────────────────────────────────────────────────


@pytest.fixture(scope="module")
def browser():
    require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("browser")


@pytest.fixture(scope="module")
def demo_app(browser, workdir: Path):
    app = AppServer(workdir / "demo", speed=15, SUXI_SHARED="1").launch()
    try:
        yield app.wait_ready()
    finally:
        app.stop()


@pytest.fixture(scope="module")
def relay_401():
    relay = SimRelay(speed=50).start()
    relay.set_default(
        error_reply(401, {"error": {"message": "无效的令牌", "type": "new_api_error"}})
    )
    try:
        yield relay
    finally:
        relay.stop()


@pytest.fixture(scope="module")
def error_app(browser, workdir: Path, relay_401: SimRelay):
    app = AppServer(
        workdir / "relay-error", api_key="sk-test-browser", base_url=relay_401.base_url
    ).launch()
    try:
        yield app.wait_ready()
    finally:
        app.stop()


@pytest.fixture(scope="module")
def slow_app(browser, workdir: Path):
    app = AppServer(workdir / "slow", speed=3).launch()
    try:
        yield app.wait_ready()
    finally:
        app.stop()


# ── helpers ────────────────────────────────────────────────────────────────────────────────────


def generate(page, prompt: str, *, tap: bool = False) -> None:
    page.locator("#prompt textarea").fill(prompt)
    button = page.locator("#generate")
    button.tap() if tap else button.click()


def wait_done(page, app: AppServer, done_word: str = "Done in") -> str:
    """Wait for the finished state and a playable video; return the status sentence."""
    text = wait_status(page, app, done_word)
    wait_video(page, app)
    return text


def assert_progress_advanced(log: list[dict]) -> None:
    percents = [p for p in (percent_of(snap) for snap in log) if p is not None]
    assert any(b > a for a, b in pairwise(percents)), f"the percent never increased: {percents}"
    clocks = [snap["clock"] for snap in log if snap["clock"]]
    assert len(set(clocks)) >= 2, f"the elapsed clock never changed: {clocks}"


def assert_no_page_errors(page) -> None:
    assert not page.errors, f"uncaught errors in the page: {page.errors}"


def box(page, selector: str) -> dict[str, float]:
    rect = page.locator(selector).bounding_box()
    assert rect, f"{selector} has no box (not visible?)"
    return rect


def wait_mid_progress(page, app: AppServer) -> None:
    wait_js(
        page,
        app,
        "() => { const p = document.querySelector('#panel .suxi-percent');"
        " const n = p ? parseInt(p.textContent) : NaN; return n >= 10 && n < 100; }",
        "a percentage between 10 and 99",
    )


def start_image() -> bytes:
    """A 480x270 colour gradient as PNG (the demo relay ignores it; the app must send it)."""
    from PIL import Image

    width, height = 480, 270
    picture = Image.new("RGB", (width, height))
    picture.putdata(
        [
            (int(255 * x / width), int(200 * y / height) + 40, 180 - int(120 * x / width))
            for y in range(height)
            for x in range(width)
        ]
    )
    out = io.BytesIO()
    picture.save(out, "PNG")
    return out.getvalue()


# ── tests ──────────────────────────────────────────────────────────────────────────────────────


def test_desktop_generate_shows_progress_then_video(browser, demo_app: AppServer):
    with open_page(browser, demo_app) as page:
        banner = page.locator("#demo-banner")
        banner.wait_for(state="visible")
        assert "Offline demo" in banner.inner_text()

        generate(page, "A corgi surfing a wave at sunset, slow motion, cinematic")
        wait_mid_progress(page, demo_app)
        started = time.monotonic()
        screenshot(page, "desktop-en-progress.png", full_page=True)
        during = panel(page)
        assert during["state"] in RUNNING_WORDS, (
            f"the job ended before the progress screenshot was taken "
            f"({time.monotonic() - started:.1f}s): {during}"
        )

        text = wait_done(page, demo_app)
        assert text.startswith("Done in"), text
        done = panel(page)
        assert done["state"] == "Done" and done["percent"] == "100%", done
        assert_progress_advanced(panel_log(page))

        # Wide screen: the panel and the video side by side, in one row.
        left, right = box(page, "#panel"), box(page, "#video")
        assert right["x"] >= left["x"] + left["width"] - 1, (left, right)
        assert right["y"] < left["y"] + left["height"], (left, right)
        screenshot(page, "desktop-en-done.png", full_page=True)
        assert_no_page_errors(page)


def test_phone_generate_stacks_panel_above_video(browser, demo_app: AppServer):
    with open_page(browser, demo_app, phone=True) as page:
        page.locator("#demo-banner").wait_for(state="visible")
        generate(page, "Paper boats sailing down a rainy city street, seen from above", tap=True)
        text = wait_done(page, demo_app)
        assert text.startswith("Done in"), text
        assert_progress_advanced(panel_log(page))

        top, bottom = box(page, "#panel"), box(page, "#video")
        assert top["y"] + top["height"] <= bottom["y"] + 1, (top, bottom)
        assert bottom["width"] <= 390 and top["width"] <= 390, (top, bottom)
        page.locator("#panel").evaluate("el => el.scrollIntoView({block: 'start'})")
        screenshot(page, "phone-en-done.png")
        assert_no_page_errors(page)


def test_chinese_page_and_messages(browser, demo_app: AppServer):
    with open_page(browser, demo_app, locale="zh-CN", accept_language="zh-CN,zh;q=0.9") as page:
        generate_button = page.locator("#generate")
        wait_js(
            page,
            demo_app,
            "() => document.querySelector('#generate').textContent.trim() === '生成'",
            "the Generate button in Chinese",
        )
        assert generate_button.inner_text().strip() == "生成"
        assert page.locator("#demo-banner").inner_text().startswith("离线演示")

        generate(page, "一只熊猫在竹林里弹吉他，温暖的午后阳光，电影感")
        text = wait_done(page, demo_app, "完成")
        assert "完成" in text and "Done" not in text, text
        assert panel(page)["state"] == "完成"
        screenshot(page, "desktop-zh-done.png", full_page=True)
        assert_no_page_errors(page)


def test_image_to_video_sends_the_picture(browser, demo_app: AppServer):
    with open_page(browser, demo_app) as page:
        page.locator("#image-box").get_by_text("Starting image (optional)").click()
        page.locator("#image input[type=file]").set_input_files(
            files=[{"name": "start.png", "mimeType": "image/png", "buffer": start_image()}]
        )
        page.locator("#image img").first.wait_for(state="visible")

        prompt = "The picture slowly comes alive, gentle camera push-in"
        generate(page, prompt)
        wait_done(page, demo_app)

        job = demo_app.jobs()[0]
        assert job["prompt"] == prompt and job["state"] == "done", job
        content = job["messages"][-1]["content"]
        assert isinstance(content, list), f"no image part was sent: {content!r}"
        urls = [p["image_url"]["url"] for p in content if p.get("type") == "image_url"]
        assert len(urls) == 1 and urls[0].startswith("data:image/"), [u[:40] for u in urls]
        screenshot(page, "image-to-video.png", full_page=True)
        assert_no_page_errors(page)


def test_modify_then_my_videos(browser, demo_app: AppServer):
    with open_page(browser, demo_app) as page:
        original = "A red kite flying over a green hill on a windy day"
        generate(page, original)
        wait_done(page, demo_app)
        first_task = panel(page)["task"]
        assert first_task, panel(page)

        page.locator("#modify-box").get_by_text("Change this video").click()
        page.locator("#instruction textarea").fill("make it night time")
        page.locator("#modify").click()
        wait_js(
            page,
            demo_app,
            "(first) => { const s = document.querySelector('#panel .suxi-state');"
            " const t = document.querySelector('#panel .suxi-task code');"
            " return s && s.textContent.trim() === 'Done' && t && t.textContent !== first; }",
            "the changed video finished (a new task, done)",
            arg=first_task,
        )
        wait_video(page, demo_app)
        assert status(page).startswith("Done in"), status(page)

        page.get_by_role("tab", name="My videos").click()
        page.locator("#refresh").click()
        rows = page.locator("#history [role=row].virtual-row")
        wait_js(
            page,
            demo_app,
            "() => document.querySelectorAll('#history [role=row].virtual-row').length === 2"
            " && document.querySelector('#history [data-testid=\"cell-0-2\"]')",
            "two rows in My videos",
            timeout=30,
        )
        assert rows.count() == 2
        newer = page.locator('#history [data-testid="cell-0-2"]').inner_text().strip()
        older = page.locator('#history [data-testid="cell-1-2"]').inner_text().strip()
        assert newer.startswith("↳ ") and "make it night time" in newer, newer
        assert older == original, older

        page.locator('#history [data-testid="cell-0-2"]').click()
        wait_video(page, demo_app, "#picked-video")
        picked = page.locator("#picked-status textarea").input_value()
        assert picked.startswith("Done in") and "Made from" in picked, picked
        assert "make it night time" in page.locator("#picked-prompt textarea").input_value()
        screenshot(page, "my-videos.png", full_page=True)
        assert_no_page_errors(page)


def test_relay_error_is_a_readable_sentence(browser, error_app: AppServer, relay_401: SimRelay):
    with open_page(browser, error_app) as page:
        assert page.locator("#demo-banner").count() == 0
        generate(page, "A lighthouse in a storm")
        wait_js(
            page,
            error_app,
            "() => (document.querySelector('#status textarea') || {}).value.includes('API key')",
            "an error sentence about the API key",
        )
        text = status(page)
        assert "无效的令牌" in text, text
        for word in INTERNALS:
            assert word not in text, text
        assert panel(page)["state"] == "Failed", panel(page)
        assert "sk-test-browser" not in page.content()
        assert relay_401.posts(), "the app never called the relay"
        screenshot(page, "relay-error.png", full_page=True)
        assert_no_page_errors(page)


def test_reload_reattaches_to_the_running_job(browser, slow_app: AppServer):
    with open_page(browser, slow_app) as page:
        generate(page, "A hot air balloon drifting over snowy mountains at dawn")
        wait_js(
            page,
            slow_app,
            "() => document.querySelector('#panel .suxi-percent')",
            "a percentage in the panel",
        )
        before = panel(page)
        assert before["state"] == "Generating" and before["task"], before

        page.reload(wait_until="domcontentloaded")
        wait_loaded(page, slow_app)
        wait_js(
            page,
            slow_app,
            "() => { const s = document.querySelector('#panel .suxi-state');"
            " return s && s.textContent.trim() !== 'Ready'; }",
            "the running job in the panel after the reload",
        )
        after = panel(page)
        assert after["state"] in RUNNING_WORDS, after
        assert after["task"] == before["task"], (before, after)
        assert (percent_of(after) or 0) >= percent_of(before), (before, after)

        text = wait_done(page, slow_app)
        assert text.startswith("Done in"), text
        jobs = slow_app.jobs()
        assert len(jobs) == 1 and jobs[0]["state"] == "done", jobs
        assert_no_page_errors(page)


def test_idle_panel_stays_after_load_in_the_page_language(browser, demo_app: AppServer):
    with open_page(browser, demo_app, locale="zh-CN", accept_language="zh-CN,zh;q=0.9") as page:
        page.wait_for_timeout(2500)  # the load chain (ensure_visitor → reattach) has ended
        assert panel(page)["state"] == "就绪", panel_log(page)


def test_remembered_key_survives_a_reload_and_forget_erases_it(browser, demo_app: AppServer):
    key = "sk-remember-me-0001"
    stored = "() => localStorage.getItem('suxi-key')"
    with open_page(browser, demo_app) as page:
        page.locator("#key-box").get_by_text("Your API key").click()
        page.locator("#api-key input").fill(key)
        page.wait_for_timeout(500)
        assert page.evaluate(stored) is None  # not kept unless asked
        page.locator("#remember input").check()
        wait_js(page, demo_app, f"() => {stored[6:]} !== null", "the remembered key")
        assert key not in page.evaluate(stored)  # kept obfuscated, not as plain text

        page.reload(wait_until="domcontentloaded")
        wait_loaded(page, demo_app)
        page.locator("#key-box").get_by_text("Your API key").click()
        wait_js(
            page,
            demo_app,
            f"() => (document.querySelector('#api-key input') || {{}}).value === '{key}'",
            "the key restored after a reload",
        )
        assert page.locator("#remember input").is_checked()

        page.locator("#forget").click()
        wait_js(page, demo_app, f"() => {stored[6:]} === null", "the key erased")
        assert page.locator("#api-key input").input_value() == ""
        assert not page.locator("#remember input").is_checked()
        page.reload(wait_until="domcontentloaded")
        wait_loaded(page, demo_app)
        page.wait_for_timeout(1000)
        assert page.evaluate(stored) is None
        page.locator("#key-box").get_by_text("Your API key").click()
        assert page.locator("#api-key input").input_value() == ""
