"""A day of making videos, in a real browser: the tab title and a notification when a job ends
in a hidden tab, four variations side by side, a 12-prompt batch with one failure, My videos as a
gallery on desktop and phone, share links, and the studio's helpers (storyboard, prompt help,
balance).

Chromium missing: skipped, or a failure under ``SUXI_REQUIRE_BROWSER=1`` (CI).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from suxi.simrelay import Content, Done, Finish, RecordedRequest, SimRelay, Sleep, demo_script
from suxi.simrelay import user_prompt as prompt_of

from .browser_support import (
    AppServer,
    card_for,
    cards,
    generate,
    open_page,
    screenshot,
    wait_card,
    wait_js,
)

FAILING = "prompt number 7 (this one fails)"


def quick_or_failing(request: RecordedRequest, base_url: str):
    """The relay's answer by prompt: one batch prompt fails, every other one is the demo."""
    if FAILING in prompt_of(request):
        return [Sleep(20), Content("> ❌ 生成失败：内容不符合规范\n\n"), Finish("stop"), Done()]
    return demo_script(request, base_url)


@pytest.fixture(scope="module")
def relay():
    sim = SimRelay(speed=30).start()
    sim.set_default(quick_or_failing)
    sim.balance = 12.5
    try:
        yield sim
    finally:
        sim.stop()


@pytest.fixture(scope="module")
def app(browser, tmp_path_factory: pytest.TempPathFactory, relay: SimRelay):
    workdir: Path = tmp_path_factory.mktemp("studio")
    server = AppServer(
        workdir,
        api_key="sk-studio-browser-0001",
        base_url=relay.base_url,
        SUXI_VISITOR_KEYS="1",
        SUXI_MAX_BATCH="20",
    ).launch()
    try:
        yield server.wait_ready()
    finally:
        server.stop()


NOTIFY_SPY = """
(() => {
  window.__notes = [];
  class Spy { constructor(title, options) { window.__notes.push({ title, body: (options || {}).body }); } }
  Spy.permission = 'granted';
  Spy.requestPermission = () => Promise.resolve('granted');
  window.Notification = Spy;
  Object.defineProperty(document, 'visibilityState', { get: () => window.__hidden ? 'hidden' : 'visible' });
})();
"""


def test_title_and_a_notification_for_a_job_that_ends_in_a_hidden_tab(browser, app):
    prompt = "A kite festival on a beach"
    context = browser.new_context(locale="en-US", permissions=["notifications"])
    context.add_init_script(NOTIFY_SPY)
    try:
        with open_page(browser, app, context=context) as page:
            generate(page, prompt)
            wait_js(page, app, "() => /^\\[\\d+%\\] /.test(document.title)", "[NN%] in the title")
            page.evaluate("() => { window.__hidden = true; }")  # the visitor looks elsewhere
            wait_card(page, app, prompt, ("done",))
            wait_js(page, app, "() => window.__notes.length > 0", "a notification")
            notes = page.evaluate("() => window.__notes")
            assert notes[0]["title"].startswith("✓") and prompt in notes[0]["body"], notes
            assert page.evaluate("() => document.title").startswith("✓ ")
            # The switch turns them off.
            page.locator(".suxi-switches input").first.uncheck()
            generate(page, "A second kite")
            wait_card(page, app, "A second kite", ("done",))
            page.wait_for_timeout(300)
            assert len(page.evaluate("() => window.__notes")) == 1
    finally:
        context.close()


def test_four_variations_side_by_side(browser, app):
    prompt = "A glass teapot pouring tea in slow motion"
    with open_page(browser, app) as page:
        page.locator("#count input[type=number]").fill("4")
        page.locator("#count input[type=number]").press("Enter")
        generate(page, prompt)
        wait_js(
            page,
            app,
            "(p) => document.querySelectorAll('#cards .suxi-group.variations .suxi-card').length === 4",
            "four cards in one group",
            arg=prompt,
        )
        row = page.evaluate(  # both read at one moment: the page may be scrolling
            "() => [...document.querySelectorAll('#cards .suxi-group .suxi-card')].slice(0, 2)"
            ".map((c) => c.getBoundingClientRect().toJSON())"
        )
        assert abs(row[0]["y"] - row[1]["y"]) < 2 and row[1]["x"] > row[0]["x"], row  # side by side
        wait_js(
            page,
            app,
            "() => [...document.querySelectorAll('#cards .suxi-group .suxi-card')].every((c) => c.classList.contains('state-done'))",
            "all four done",
            timeout=120,
        )
        ids = {c["id"] for c in cards(page)}
        assert len(ids) == 4
        screenshot(page, "variations.png", full_page=True)


def test_a_twelve_prompt_batch_with_one_failure_finishes_the_other_eleven(browser, app):
    prompts = [f"batch prompt number {i}" for i in range(1, 13)]
    prompts[6] = FAILING
    with open_page(browser, app) as page:
        page.locator("#batch-box").get_by_text("Many prompts at once (batch)").click()
        page.locator("#batch-text textarea").fill("\n".join(prompts))
        page.locator("#batch-start").click()
        line = page.locator(".suxi-batch-line .suxi-batch-text")
        line.wait_for()
        wait_js(
            page,
            app,
            "() => (document.querySelector('.suxi-batch-line .suxi-batch-text') || {}).textContent === 'Batch: 11 of 12 done, 1 failed'",
            "the batch line at 11 of 12",
            timeout=180,
        )
        failed = card_for(page, FAILING)
        assert failed["state"] == "failed" and "内容不符合规范" in failed["status"], failed
        assert page.locator(".suxi-batch-line button").is_disabled()  # nothing left to stop
        screenshot(page, "batch.png", full_page=True)
    jobs = [j for j in app.jobs() if j["group_kind"] == "batch"]
    assert len(jobs) == 12 and sorted(j["group_index"] for j in jobs) == list(range(12))


@pytest.mark.parametrize("phone", [False, True], ids=["desktop", "phone"])
def test_my_videos_is_a_gallery(browser, app, phone):
    with open_page(browser, app, phone=phone) as page:
        where = "on a phone" if phone else "on a desk"
        lantern, snail = f"A lantern on a lake {where}", f"A snail climbing a mushroom {where}"
        for prompt in (lantern, snail):
            generate(page, prompt)
        for prompt in (lantern, snail):
            wait_card(page, app, prompt, ("done",))
        page.get_by_role("tab", name="My videos").click()
        tile = page.locator(f'.suxi-tile:has-text("{snail}")').first
        tile.wait_for()
        wait_js(
            page,
            app,
            "() => [...document.querySelectorAll('.suxi-tile img')].some((i) => i.complete && i.naturalWidth > 0)",
            "a thumbnail",
        )
        tiles = page.locator(".suxi-tile")
        assert tiles.count() >= 2
        first = page.locator(".suxi-tile-prompt").first.inner_text()
        assert snail in first  # newest first
        page.locator(".suxi-search").fill(lantern)
        wait_js(
            page,
            app,
            "() => document.querySelectorAll('.suxi-tile').length === 1",
            "one tile for the search",
        )
        page.locator(".suxi-search").fill("")
        wait_js(
            page,
            app,
            "() => document.querySelectorAll('.suxi-tile').length >= 2",
            "all tiles again",
        )
        screenshot(page, f"my-videos-{'phone' if phone else 'desktop'}.png", full_page=not phone)
        tile.click()
        dialog = page.locator("dialog.suxi-detail")
        dialog.wait_for()
        wait_js(
            page,
            app,
            "() => { const v = document.querySelector('dialog.suxi-detail video'); return v && v.readyState >= 2; }",
            "the video in the detail",
        )
        assert "What the relay understood" in dialog.inner_text()
        if not phone:
            screenshot(page, "my-videos-detail.png")


def test_selected_videos_download_as_one_zip(browser, app, tmp_path):
    with open_page(browser, app) as page:
        generate(page, "A zip of one video")
        wait_card(page, app, "A zip of one video", ("done",))
        page.get_by_role("tab", name="My videos").click()
        page.locator('.suxi-tile:has-text("A zip of one video") .suxi-pick').check()
        with page.expect_download() as download:
            page.locator(".suxi-zip").click()
        path = tmp_path / "videos.zip"
        download.value.save_as(path)
        import zipfile

        names = zipfile.ZipFile(path).namelist()
        assert len(names) == 1 and names[0].endswith("-a-zip-of-one-video.mp4"), names


def test_a_share_link_plays_elsewhere_until_it_is_revoked(browser, app):
    prompt = "A sunflower turning to the sun"
    with open_page(browser, app) as page:
        generate(page, prompt)
        wait_card(page, app, prompt, ("done",))
        page.locator(".suxi-card .suxi-buttons button", has_text="Share link").first.click()
        said = page.locator(".suxi-card .suxi-said")
        said.wait_for()
        url = said.inner_text().split()[-1]
        assert "/s/" in url
        other = browser.new_context()
        try:
            viewer = other.new_page()
            viewer.goto(url)
            viewer.wait_for_function(
                "() => { const v = document.querySelector('video'); return v && v.readyState >= 2; }"
            )
            page.locator(".suxi-card .suxi-buttons button", has_text="Stop sharing").first.click()
            page.wait_for_timeout(500)
            assert viewer.goto(url).status == 404
        finally:
            other.close()


def test_storyboard_and_balance(browser, app, relay):
    with open_page(browser, app) as page:
        wait_js(
            page,
            app,
            "() => /Balance: \\$?\\d/.test((document.querySelector('#balance') || {}).textContent)",
            "the balance",
        )
        generate(page, "A job with a price")
        wait_card(page, app, "A job with a price", ("done",))
        wait_js(
            page,
            app,
            "() => (document.querySelector('#balance') || {}).textContent.includes('cost')",
            "what the job cost, after it ended",
        )
        page.locator("#storyboard").get_by_text("Storyboard").click()
        page.locator("#sb-read").wait_for()
        page.locator("#prompt textarea").fill(
            "Shot 1:\nduration: 5sec\nScene: a paper boat sets off\n\nShot 2:\nduration: 5sec\nScene: it reaches the sea"
        )
        page.locator("#sb-read").click()
        wait_js(
            page,
            app,
            "() => document.querySelector('#shots').textContent.includes('it reaches the sea')",
            "the shots read back",
        )
        page.locator("#sb-use").click()
        wait_js(
            page,
            app,
            "() => (document.querySelector('#sb-note') || {}).textContent?.includes('2 shots')",
            "the summary",
        )
        screenshot(page, "storyboard.png", full_page=True)


def test_prompt_help_is_shown_beside_the_prompt_and_used_only_when_accepted(browser, app):
    idea = "a cat asleep on a sunny windowsill"
    with open_page(browser, app) as page:
        page.locator("#prompt textarea").fill(idea)
        page.locator("#improve").click()
        suggestion = page.locator("#suggestion textarea")
        suggestion.wait_for()
        wait_js(
            page,
            app,
            "() => (document.querySelector('#suggestion textarea') || {}).value?.length > 0",
            "a suggestion",
        )
        better = suggestion.input_value()
        assert better != idea and "cat" in better.lower()
        assert page.locator("#prompt textarea").input_value() == idea  # not used yet
        screenshot(page, "prompt-help.png")
        page.locator("#use-suggestion").click()
        wait_js(
            page,
            app,
            "(b) => document.querySelector('#prompt textarea').value === b",
            "the suggestion used",
            arg=better,
        )
