"""The Create tab in a real browser: ``python app.py`` in a subprocess, driven by the system's
Chromium through Playwright's sync API. One card per job, nothing from another tab or browser,
every failure in its card, the relay's words made human, the result in view.

Chromium missing: skipped, or a failure under ``SUXI_REQUIRE_BROWSER=1`` (CI). Screenshots go to
``assets/screenshots/``.
"""

from __future__ import annotations

import re
import time
from itertools import pairwise
from pathlib import Path

import pytest

from suxi.simrelay import SimRelay, error_reply

from .browser_support import (
    RUNNING,
    AppServer,
    card_for,
    card_log,
    cards,
    generate,
    open_page,
    screenshot,
    wait_card,
    wait_js,
    wait_loaded,
    wait_playing,
)

CJK = re.compile(r"[\u4e00-\u9fff]")
INTERNALS = ("Traceback", "Error(", "Exception", "undefined", "[object")


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("browser")


@pytest.fixture(scope="module")
def demo_app(browser, workdir: Path):
    app = AppServer(workdir / "demo", speed=15).launch()
    try:
        yield app.wait_ready()
    finally:
        app.stop()


@pytest.fixture(scope="module")
def slow_app(browser, workdir: Path):
    app = AppServer(workdir / "slow", speed=2).launch()
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
        workdir / "relay-error", api_key="sk-test-browser-0001", base_url=relay_401.base_url
    ).launch()
    try:
        yield app.wait_ready()
    finally:
        app.stop()


def no_page_errors(page) -> None:
    assert not page.errors, f"uncaught errors in the page: {page.errors}"


def box(page, selector: str) -> dict[str, float]:
    rect = page.locator(selector).first.bounding_box()
    assert rect, f"{selector} has no box (not visible?)"
    return rect


def percents(log: list[dict], prompt: str) -> list[int]:
    return [int(s["percent"].rstrip("%")) for s in log if s["prompt"] == prompt and s["percent"]]


# ── one job ──────────────────────────────────────────────────────────────────────────────────


def test_desktop_card_shows_progress_then_plays_the_video(browser, demo_app: AppServer):
    prompt = "A corgi surfing a wave at sunset, slow motion, cinematic"
    with open_page(browser, demo_app) as page:
        assert "Offline demo" in page.locator("#banner").inner_text()
        generate(page, prompt)
        wait_js(
            page, demo_app,
            "(p) => document.title.startsWith('[')",
            "the tab title with the percentage",
            arg=prompt,
        )  # fmt: skip
        running = wait_card(page, demo_app, prompt, ("generating",))
        assert running["stop"] is True, running  # Stop only while the job runs
        screenshot(page, "desktop-en-progress.png", full_page=True)
        done = wait_playing(page, demo_app, prompt)
        assert done["state"] == "done" and done["percent"] == "100%", done
        assert done["video"]["muted"] and done["video"]["loop"], done
        assert done["status"].startswith("Done in"), done
        assert done["stop"] is None, done  # no Stop once it ended
        assert re.match(
            r"^/media/[A-Za-z0-9_-]{16,}/\d{4}-\d\d-\d\d-a-corgi-surfing", done["video"]["src"]
        )
        found = percents(card_log(page), prompt)
        assert any(b > a for a, b in pairwise(found)), found
        clocks = {s["clock"] for s in card_log(page) if s["prompt"] == prompt}
        assert len(clocks) >= 2, clocks
        assert page.evaluate("() => document.title").startswith("✓ ")
        page.locator(".suxi-player video").first.scroll_into_view_if_needed()
        screenshot(page, "desktop-en-done.png", full_page=True)
        no_page_errors(page)


def test_phone_shows_the_finished_video_on_screen(browser, demo_app: AppServer):
    prompt = "Paper boats sailing down a rainy city street, seen from above"
    with open_page(browser, demo_app, phone=True) as page:
        generate(page, prompt, tap=True)
        wait_playing(page, demo_app, prompt)
        page.wait_for_timeout(800)  # the smooth scroll
        video = box(page, ".suxi-card .suxi-player video")
        assert video["y"] >= -1 and video["y"] + video["height"] <= 844 + 1, video
        assert video["width"] <= 390, video
        screenshot(page, "phone-en-done.png")
        no_page_errors(page)


def test_the_clock_moves_in_the_browser_while_the_server_is_silent(browser, slow_app: AppServer):
    prompt = "A lighthouse keeper reading by lamplight"
    with open_page(browser, slow_app) as page:
        frames: list[str] = []
        page.on("response", lambda r: frames.append(r.url) if "/suxi/follow" in r.url else None)
        generate(page, prompt)
        wait_card(page, slow_app, prompt, ("queued", "generating"))
        first = card_for(page, prompt)["clock"]
        page.wait_for_timeout(2200)
        assert card_for(page, prompt)["clock"] != first
        # One follow stream for the tab, not one request per second.
        assert len(frames) <= 2, frames


# ── several jobs, tabs and browsers ───────────────────────────────────────────────────────────


def test_a_reload_reattaches_and_a_second_generate_adds_a_card(browser, slow_app: AppServer):
    first, second = "A hot air balloon over snowy mountains at dawn", "A fox in a red scarf"
    with open_page(browser, slow_app) as page:
        generate(page, first)
        before = wait_card(page, slow_app, first, ("generating",))
        page.reload(wait_until="domcontentloaded")
        wait_loaded(page, slow_app)
        after = wait_card(page, slow_app, first, tuple(RUNNING))
        assert after["id"] == before["id"]
        assert page.locator("#prompt textarea").input_value() == first  # the box survives too
        generate(page, second)
        wait_card(page, slow_app, second, tuple(RUNNING))
        assert len(cards(page)) == 2
        for prompt in (first, second):
            wait_card(page, slow_app, prompt, ("done",), timeout=120)
        # No card ever showed another job: each id kept its own prompt from start to end.
        by_id: dict[str, set[str]] = {}
        for snap in card_log(page):
            if snap["prompt"]:
                by_id.setdefault(snap["id"], set()).add(snap["prompt"])
        assert all(len(p) == 1 for p in by_id.values()), by_id
        no_page_errors(page)


def test_other_tabs_and_other_browsers_never_show_or_stop_your_job(browser, slow_app: AppServer):
    prompt = "A paper plane crossing a library"
    with open_page(browser, slow_app) as mine:
        generate(mine, prompt)
        wait_card(mine, slow_app, prompt, ("queued", "generating"))
        with open_page(browser, slow_app, context=mine.context) as second_tab:
            second_tab.wait_for_timeout(1500)
            assert cards(second_tab) == []  # a new tab starts empty
        with open_page(browser, slow_app) as other_browser:
            other_browser.wait_for_timeout(1500)
            assert cards(other_browser) == []
            # Locally the owner's library shows every job, in My videos, not in Create.
            other_browser.get_by_role("tab", name="My videos").click()
            other_browser.locator(f'.suxi-tile:has-text("{prompt}")').wait_for()
        assert card_for(mine, prompt)["state"] in RUNNING  # nobody else stopped it


def test_a_broken_picture_is_said_in_the_page_and_nothing_is_sent(browser, demo_app: AppServer):
    with open_page(browser, demo_app) as page:
        before = len(demo_app.jobs())
        page.locator("#image-box").get_by_text("Starting picture (optional)").click()
        page.locator("#image input[type=file]").set_input_files(
            files=[
                {
                    "name": "photo.png",
                    "mimeType": "image/png",
                    "buffer": b"this is text, not a picture",
                }
            ]
        )
        page.wait_for_timeout(800)
        generate(page, "The picture comes alive")
        notice = page.locator(".suxi-notice")
        notice.wait_for()
        assert "not a picture the app can read" in notice.inner_text()
        assert len(demo_app.jobs()) == before
        no_page_errors(page)


def test_an_overlong_prompt_is_counted_and_refused_never_cut(browser, demo_app: AppServer):
    with open_page(browser, demo_app) as page:
        before = len(demo_app.jobs())
        page.locator("#prompt textarea").fill("word " * 1000)
        counter = page.locator(".suxi-counter")
        assert "Too long by 1000 characters" in counter.inner_text()
        page.locator("#generate").click()
        notice = page.locator(".suxi-notice")
        notice.wait_for()
        assert "too long (4999 characters)" in notice.inner_text()  # trailing space trimmed
        assert len(demo_app.jobs()) == before


# ── words ────────────────────────────────────────────────────────────────────────────────────


def test_the_english_page_words_the_relays_chinese_lines_itself(browser, demo_app: AppServer):
    prompt = "A small robot watering plants"
    with open_page(browser, demo_app) as page:
        generate(page, prompt)
        done = wait_card(page, demo_app, prompt, ("done",))
        assert not CJK.search(done["outside"]), done["outside"]
        assert "Waiting in the relay's queue" in done["steps"] and "Progress" in done["steps"]
        page.locator(".suxi-details summary").first.click()
        details = card_for(page, prompt)["details"]
        task = re.search(r"task_[0-9a-z]+", details)
        assert task and details.count(task.group(0)) >= 1
        assert card_for(page, prompt)["outside"].count(task.group(0)) == 0
        for word in INTERNALS:
            assert word not in done["outside"], word


def test_the_chinese_page_and_the_language_switch(browser, demo_app: AppServer):
    prompt = "一只熊猫在竹林里弹吉他，温暖的午后阳光，电影感"
    with open_page(browser, demo_app, locale="zh-CN", accept_language="zh-CN,zh;q=0.9") as page:
        wait_js(
            page,
            demo_app,
            "() => (document.querySelector('#generate') || {}).textContent?.trim() === '生成'",
            "生成",
        )
        assert page.locator("#banner").inner_text().startswith("离线演示")
        generate(page, prompt)
        done = wait_playing(page, demo_app, prompt)
        assert done["word"] == "完成" and done["status"].startswith("完成，用时"), done
        assert "在中转站排队" in done["steps"]
        screenshot(page, "desktop-zh-done.png", full_page=True)
        page.locator("#lang-switch").click()
        wait_js(
            page,
            demo_app,
            "() => (document.querySelector('#generate') || {}).textContent?.trim() === 'Generate'",
            "English",
        )
        no_page_errors(page)


def test_a_relay_error_is_one_sentence_in_the_card(
    browser, error_app: AppServer, relay_401: SimRelay
):
    prompt = "A lighthouse in a storm"
    with open_page(browser, error_app) as page:
        assert "this site's relay key" in page.locator("#banner").inner_text()
        generate(page, prompt)
        failed = wait_card(page, error_app, prompt, ("failed",))
        assert "API key" in failed["status"] and "无效的令牌" in failed["status"], failed
        assert "Nothing was charged." in page.locator(".suxi-card .suxi-hint").inner_text()
        assert "sk-test-browser-0001" not in page.content()
        assert relay_401.posts(), "the app never called the relay"
        screenshot(page, "relay-error.png", full_page=True)
        no_page_errors(page)


def test_the_banner_says_whose_key_pays(browser, demo_app: AppServer):
    with open_page(browser, demo_app) as page:
        page.locator("#key-box").get_by_text("Your API key").click()
        page.locator("#api-key input").fill("sk-my-own-key-000001")
        wait_js(
            page,
            demo_app,
            "() => document.querySelector('#banner').textContent.includes('your own API key')",
            "own key banner",
        )
        page.locator("#api-key input").fill("")
        wait_js(
            page,
            demo_app,
            "() => document.querySelector('#banner').textContent.includes('Offline demo')",
            "demo banner again",
        )


def test_a_remembered_key_survives_a_reload_and_forget_erases_it(browser, demo_app: AppServer):
    key = "sk-remember-me-0001"
    stored = "() => localStorage.getItem('suxi-key')"
    with open_page(browser, demo_app) as page:
        page.locator("#key-box").get_by_text("Your API key").click()
        page.locator("#api-key input").fill(key)
        page.wait_for_timeout(300)
        assert page.evaluate(stored) is None  # not kept unless asked
        page.locator("#remember input").check()
        wait_js(
            page,
            demo_app,
            "() => localStorage.getItem('suxi-key') !== null",
            "the remembered key",
            timeout=10,
        )
        assert key not in page.evaluate(stored)  # kept obfuscated, not as plain text
        page.reload(wait_until="domcontentloaded")
        wait_loaded(page, demo_app)
        page.locator("#key-box").get_by_text("Your API key").click()
        wait_js(
            page,
            demo_app,
            f"() => (document.querySelector('#api-key input') || {{}}).value === '{key}'",
            "restored",
            timeout=10,
        )
        assert page.locator("#remember input").is_checked()
        page.locator("#forget").click()
        wait_js(
            page, demo_app, "() => localStorage.getItem('suxi-key') === null", "erased", timeout=10
        )
        assert page.locator("#api-key input").input_value() == ""
        page.reload(wait_until="domcontentloaded")
        wait_loaded(page, demo_app)
        page.wait_for_timeout(500)
        assert page.evaluate(stored) is None
        # The page's load step can run after the visitor's first clicks: it must not undo them.
        page.locator("#key-box").get_by_text("Your API key").click()
        page.locator("#api-key input").fill("sk-typed-early-0002")
        page.locator("#remember input").check()
        page.evaluate("() => localStorage.removeItem('suxi-key')")
        restored = page.evaluate("() => window.suxi.savedKey()")
        assert restored == ["sk-typed-early-0002", True]


# ── after a restart ──────────────────────────────────────────────────────────────────────────


def test_check_again_collects_a_demo_video_after_a_restart(browser, workdir: Path):
    app = AppServer(workdir / "restart", speed=2).launch().wait_ready()
    prompt = "A clock tower in fog"
    try:
        with open_page(browser, app) as page:
            generate(page, prompt)
            wait_card(page, app, prompt, ("generating",))
            app.stop()  # the app goes down mid-job…
            app.launch().wait_ready()  # …and comes back on the same address and data folder
            page.reload(wait_until="domcontentloaded")
            wait_loaded(page, app)
            cut = wait_card(page, app, prompt, ("interrupted",))
            assert "restarted" in cut["status"], cut
            page.locator(".suxi-card .suxi-buttons button", has_text="Check again").click()
            wait_card(page, app, prompt, ("done",), timeout=120)
            wait_playing(page, app, prompt)
            assert len([j for j in app.jobs() if j["prompt"] == prompt]) == 1
    finally:
        app.stop()


def test_stop_says_what_it_means_for_money(browser, slow_app: AppServer):
    prompt = "A tram climbing a hill at night"
    with open_page(browser, slow_app) as page:
        generate(page, prompt)
        wait_card(page, slow_app, prompt, ("queued", "generating"))
        page.locator(".suxi-card .suxi-buttons button.stop").first.click()
        stopped = wait_card(page, slow_app, prompt, ("cancelled",))
        assert "may still charge" in stopped["status"], stopped
        time.sleep(0.2)
        assert [j["state"] for j in slow_app.jobs() if j["prompt"] == prompt] == ["cancelled"]
        # A snapshot from before the stop (an answer crossing the stream) must not undo it.
        page.evaluate("""() => {
          const [entry] = [...window.suxi.cards.byId.values()];
          window.suxi.cards.update({ ...entry.data, state: "queued", state_word: "Queued", running: true, updated: entry.data.updated - 1 });
        }""")
        assert wait_card(page, slow_app, prompt, ("cancelled",))["stop"] is None


# ── formats, pictures, the phone in Chinese ─────────────────────────────────────────────────


def pick_model(page, name: str) -> None:
    page.locator("#options").get_by_text("Options").first.click()
    box = page.locator("#model input")
    box.click()
    box.fill(name)
    page.get_by_role("option", name=re.compile(re.escape(name))).first.click()


def test_the_demo_makes_a_task_format_video(browser, demo_app: AppServer):
    prompt = "A lighthouse beam sweeping over a calm sea at night"
    with open_page(browser, demo_app) as page:
        pick_model(page, "veo3.1-fast")
        wait_js(
            page,
            demo_app,
            "() => (document.querySelector('#price') || {}).textContent !== undefined",
            "options",
        )
        generate(page, prompt)
        queued = wait_card(page, demo_app, prompt, ("queued", "generating"))
        assert queued is not None
        done = wait_playing(page, demo_app, prompt)
        page.locator(".suxi-card .suxi-details summary").first.click()
        details = card_for(page, prompt)["details"]
        assert "Unified task" in details and "veo3.1-fast:task_" in details, details
        job = next(j for j in demo_app.jobs() if j["prompt"] == prompt)
        assert job["route"] == "unified" and job["options"]["model"] == "veo3.1-fast"
        assert done["status"].startswith("Done in")
        screenshot(page, "task-format.png", full_page=True)


def test_a_starting_picture_is_sent_with_the_prompt(browser, demo_app: AppServer):
    from PIL import Image

    picture = Image.new("RGB", (480, 270))
    picture.putdata([(x % 256, (x + y) % 256, 200) for y in range(270) for x in range(480)])
    buffer = __import__("io").BytesIO()
    picture.save(buffer, "PNG")
    prompt = "The picture slowly comes alive, gentle camera push-in"
    with open_page(browser, demo_app) as page:
        page.locator("#image-box").get_by_text("Starting picture (optional)").click()
        page.locator("#image input[type=file]").set_input_files(
            files=[{"name": "start.png", "mimeType": "image/png", "buffer": buffer.getvalue()}]
        )
        page.wait_for_timeout(800)
        generate(page, prompt)
        wait_card(page, demo_app, prompt, ("done",))
        job = next(j for j in demo_app.jobs() if j["prompt"] == prompt)
        parts = job["messages"][-1]["content"]
        urls = [p["image_url"]["url"] for p in parts if p.get("type") == "image_url"]
        assert len(urls) == 1 and urls[0].startswith("data:image/jpeg;base64,"), urls
        assert job["image"] == "file"
        screenshot(page, "image-to-video.png", full_page=True)


def test_the_phone_page_in_chinese(browser, demo_app: AppServer):
    prompt = "雨中的城市街道，纸船顺水漂流，俯拍"
    with open_page(browser, demo_app, phone=True, locale="zh-CN", accept_language="zh-CN") as page:
        generate(page, prompt, tap=True)
        wait_card(page, demo_app, prompt, ("generating",))
        screenshot(page, "phone-zh-progress.png")
        wait_playing(page, demo_app, prompt)
        page.wait_for_timeout(800)
        screenshot(page, "phone-zh-done.png")
        no_page_errors(page)
