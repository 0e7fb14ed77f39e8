"""The whole app, end to end: ``python app.py`` in a subprocess, a simulated relay on loopback,
and the documented ``gradio_client`` API (``/generate``, ``/my_videos``).

One app (with a canary key) serves most tests; the offline demo gets its own. Relay scripts are
chosen by prompt (every test uses a prompt of its own), so tests cannot eat each other's scripts
and a POST is attributed to the test that caused it.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest

from suxi.simrelay import (
    Content,
    Done,
    Finish,
    RecordedRequest,
    Script,
    SimRelay,
    Sleep,
    demo_script,
    error_reply,
    user_prompt,
)

from .apprunner import ROOT, AppProcess, first_output, wait_for

SAMPLE = ROOT / "assets" / "sample.mp4"
FIXTURES = Path(__file__).parent / "fixtures"
SPEED = 200  # the relay plays scripts 200x faster than real time
CANARY = uuid.uuid4().hex
KEY = f"sk-CANARY-{CANARY}"  # the main app's key: it must never show up anywhere but the relay

PERCENT = re.compile(r'<span class="suxi-percent">(\d+)%</span>')
STATE = re.compile(r'<span class="suxi-state state-(\w+)">([^<]*)</span>')
CLOCK = re.compile(r"⏱ (\d+):(\d{2})")
RUNNING = {"pending", "queued", "generating", "downloading"}
# What a person must never read: tracebacks, exception class names, library names.
INTERNALS = re.compile(r"Traceback|Exception|httpx|gradio|\b\w+Error\b|\bError:", re.IGNORECASE)


# ── the relay and the apps ─────────────────────────────────────────────────────────────────────


class ScriptsByPrompt:
    """The relay's default script: the one registered for the request's prompt, else the demo."""

    def __init__(self) -> None:
        self.scripts: dict[str, Script | Callable[[RecordedRequest, str], Script]] = {}

    def __call__(self, request: RecordedRequest, base_url: str) -> Script:
        script = self.scripts.get(user_prompt(request))
        if script is None:
            return demo_script(request, base_url)
        return script(request, base_url) if callable(script) else list(script)


@pytest.fixture(scope="module")
def scripts() -> ScriptsByPrompt:
    return ScriptsByPrompt()


@pytest.fixture(scope="module")
def relay(scripts: ScriptsByPrompt):
    with SimRelay(speed=SPEED).start() as sim:  # a script's Sleep(200) lasts one second
        sim.set_default(scripts)
        yield sim


@pytest.fixture(scope="module")
def apps(relay: SimRelay, tmp_path_factory: pytest.TempPathFactory):
    """The main app (canary key) and the offline demo (no key: it must run its own simulated
    relay, never the configured one). Both start at once: importing Gradio is the slow part."""
    main = AppProcess(tmp_path_factory.mktemp("app"), api_key=KEY, base_url=relay.base_url)
    demo = AppProcess(tmp_path_factory.mktemp("demo"), api_key="", base_url=relay.base_url)
    try:
        main.launch()
        demo.launch()
        main.wait_ready()
        demo.wait_ready()
        yield main, demo
    finally:
        main.stop()
        demo.stop()


@pytest.fixture(scope="module")
def app(apps: tuple[AppProcess, AppProcess]) -> AppProcess:
    return apps[0]


@pytest.fixture(scope="module")
def demo_app(apps: tuple[AppProcess, AppProcess]) -> AppProcess:
    return apps[1]


# ── helpers ────────────────────────────────────────────────────────────────────────────────────


def new_prompt(text: str) -> str:
    return f"{text} #{uuid.uuid4().hex[:10]}"


def posts_for(relay: SimRelay, prompt: str) -> list[RecordedRequest]:
    return [p for p in relay.posts() if user_prompt(p) == prompt]


def file_gets(relay: SimRelay, name: str) -> list[RecordedRequest]:
    return [r for r in relay.requests if r.method == "GET" and r.path == f"/files/{name}"]


def video_path(value: Any) -> str | None:
    """The local file of a Video output: a path, a ``{"video": path}`` dict, or nothing (None or
    a skipped update)."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and isinstance(value.get("video"), str):
        return value["video"]
    assert value is None or value.get("__type__") == "update", f"unexpected video: {value!r}"
    return None


def percent_of(panel: str) -> int | None:
    match = PERCENT.search(panel)
    return int(match.group(1)) if match else None


def state_of(panel: str) -> tuple[str, str] | None:
    match = STATE.search(panel)
    return (match.group(1), match.group(2)) if match else None


def video_script(
    url: str, *, percents: tuple[int, ...] = (10, 30, 60, 90), hold_at: int = 0, hold: float = 0.0
) -> Script:
    """A family-A stream: queue, progress dots, then the video link. ``hold`` relay-seconds of
    silence after the ``hold_at`` percentage."""
    steps: Script = [
        Content("> ID: `task_01kapptest0000000000000001`\n\n"),
        Content("> 排队中"),
        Sleep(4),
        Content("...\n\n> 生成中..\n\n"),
        Content(">🏃 进度 "),
    ]
    for pct in percents:
        steps += [Sleep(4), Content(f"{pct}..")]
        if pct == hold_at:
            steps.append(Sleep(hold))
    steps += [
        Sleep(4),
        Content(f"\n\n> 生成完成 ✅\n\n[在线播放▶️]({url})\n\n"),
        Finish("stop"),
        Done(),
    ]
    return steps


def serve_unique_video(relay: SimRelay) -> tuple[str, str, bytes]:
    """A video at a URL no other test uses, with bytes of its own (the sample plus a tag that
    players ignore): proves the file a test gets is the one the relay served to it."""
    name = f"clip-{uuid.uuid4().hex}.mp4"
    data = SAMPLE.read_bytes() + b"\0suxi-test " + name.encode()
    return name, relay.add_file(name, data), data


def ended(app: AppProcess, viewer: Any, job_id: str) -> dict | None:
    """The job as ``/my_videos`` lists it once it has ended, else None."""
    mine = [job for job in app.my_videos(viewer) if job["id"] == job_id]
    return mine[0] if mine and mine[0]["state"] not in RUNNING else None


def assert_plain(text: str) -> None:
    assert not INTERNALS.search(text), f"internals leaked to the person: {text!r}"


# ── 1. success ─────────────────────────────────────────────────────────────────────────────────


def test_generation_ends_done_with_the_video_the_relay_served(app: AppProcess, relay: SimRelay):
    prompt = new_prompt("A lighthouse in a storm, waves crashing")  # the default demo script
    posts_before = len(relay.posts())
    fetches_before = len(file_gets(relay, "sample.mp4"))
    status, video, panel, job_id = app.call(prompt, 1000, True)

    assert re.fullmatch(r"Done in \d+:\d{2}\.", status), status
    assert state_of(panel) == ("done", "Done") and percent_of(panel) == 100
    assert re.fullmatch(r"[0-9a-f]{32}", job_id)
    path = video_path(video)
    assert path and Path(path).read_bytes() == SAMPLE.read_bytes()
    assert len(file_gets(relay, "sample.mp4")) == fetches_before + 1, "fetched not once"

    (post,) = posts_for(relay, prompt)
    assert len(relay.posts()) == posts_before + 1
    assert post.path == "/v1/chat/completions"
    assert post.headers["authorization"] == f"Bearer {KEY}"
    assert post.headers["content-type"] == "application/json"
    assert post.json() == {
        "model": "sora-2",
        "max_tokens": 1000,
        "messages": [{"role": "user", "content": prompt}],
        "stream": True,
    }
    stored = app.data_dir / "videos" / f"{job_id}.mp4"
    assert stored.read_bytes() == SAMPLE.read_bytes()


# ── 2. streaming progress ──────────────────────────────────────────────────────────────────────


def test_progress_and_the_elapsed_clock_stream_while_the_relay_works(
    app: AppProcess, relay: SimRelay, scripts: ScriptsByPrompt
):
    prompt = new_prompt("Paper boats on a rainy street")
    name, url, data = serve_unique_video(relay)
    # 40 %, then 2 s of silence from the relay: the page's clock must keep moving meanwhile.
    scripts.scripts[prompt] = video_script(url, percents=(15, 40, 85), hold_at=40, hold=400)
    outputs = app.stream(prompt, 1000, True)

    *running, final = outputs
    assert final[0].startswith("Done in"), final[0]
    assert Path(video_path(final[1])).read_bytes() == data
    progress = [
        (percent_of(panel), state_of(panel), status)
        for status, _video, panel, _id in running
        if percent_of(panel) is not None and 1 <= percent_of(panel) <= 99
    ]
    assert progress, f"no intermediate percentage in {[o[2] for o in running]}"
    assert any(state == ("generating", "Generating") for _pct, state, _s in progress)
    assert any(re.search(r"Generating \d+%", status) for _pct, _state, status in progress)
    assert {pct for pct, _state, _s in progress} >= {40}
    percents = [pct for pct, _state, _s in progress]
    assert percents == sorted(percents), "progress went backwards"
    # The elapsed clock is on every running panel, and it moved during the relay's silence.
    clocks = [CLOCK.search(panel) for _status, _video, panel, _id in running]
    assert all(clocks), "a running panel without the elapsed clock"
    seconds = [int(m.group(1)) * 60 + int(m.group(2)) for m in clocks]
    assert seconds == sorted(seconds), seconds
    # 40 % arrived at ~0.1 s; an output still at 40 % a second later was the clock's own tick.
    at_40 = [sec for sec, out in zip(seconds, running, strict=True) if percent_of(out[2]) == 40]
    assert at_40 and max(at_40) >= 1, f"the clock stood still while the relay was silent: {at_40}"
    assert len(posts_for(relay, prompt)) == 1
    assert len(file_gets(relay, name)) == 1


# ── 3. relay errors ────────────────────────────────────────────────────────────────────────────


def _json_error(message: str, kind: str = "new_api_error", code: str = "") -> dict:
    return {"error": {"message": message, "type": kind, "code": code}}


ERRORS = {
    "401-bad-key": (
        error_reply(401, _json_error("无效的令牌")),
        "The relay refused the API key",
        "无效的令牌",
    ),
    "503-model-not-found": (
        error_reply(
            503,
            _json_error(
                "No available channel for model sora-2 under group default",
                code="model_not_found",
            ),
        ),
        "This model is not available on this key right now",
        "No available channel for model sora-2 under group default",
    ),
    "524-html-page": (
        error_reply(524, (FIXTURES / "error_524.html").read_bytes(), "text/html; charset=UTF-8"),
        "A proxy in front of the relay gave up waiting",
        "524: A timeout occurred",
    ),
}


@pytest.mark.parametrize("case", list(ERRORS))
def test_relay_errors_end_in_one_plain_sentence_with_the_relays_words(
    app: AppProcess, relay: SimRelay, scripts: ScriptsByPrompt, case: str
):
    script, sentence, relay_words = ERRORS[case]
    prompt = new_prompt(f"A corgi surfing ({case})")
    scripts.scripts[prompt] = script
    posts_before = len(relay.posts())
    outputs = app.stream(prompt, 1000, True)

    status, _video, panel, job_id = outputs[-1]
    assert sentence in status, status
    assert relay_words in status, status
    assert status.index(sentence) < status.index(relay_words)
    assert "<" not in status and ">" not in status
    assert state_of(panel) == ("failed", "Failed")
    assert re.fullmatch(r"[0-9a-f]{32}", job_id)
    for out_status, video, out_panel, _id in outputs:
        assert_plain(out_status)
        assert_plain(out_panel)
        assert video_path(video) is None
    assert len(posts_for(relay, prompt)) == 1
    assert len(relay.posts()) == posts_before + 1, "the app sent the request again"
    assert not (app.data_dir / "videos" / f"{job_id}.mp4").exists()


# ── 4. bad input ───────────────────────────────────────────────────────────────────────────────


@pytest.mark.parametrize(
    ("prompt", "max_tokens", "expected"),
    [
        ("", 1000, "Please describe the video you want first."),
        ("   \n\t  ", 1000, "Please describe the video you want first."),
        ("A kite on a hill", 0, "max_tokens must be a whole number from 1 to 100000."),
        ("A kite on a hill", 10**9, "max_tokens must be a whole number from 1 to 100000."),
    ],
    ids=["empty", "whitespace", "max-tokens-0", "max-tokens-1e9"],
)
def test_bad_input_gets_a_clear_sentence_and_sends_nothing(
    app: AppProcess, relay: SimRelay, prompt: str, max_tokens: Any, expected: str
):
    prompt = new_prompt(prompt) if prompt.strip() else prompt
    posts_before = len(relay.posts())
    jobs_before = {job["id"] for job in app.my_videos()}

    # The app's own sentence as the status output (not an error raised by a component).
    status, video, _panel, job_id = app.call(prompt, max_tokens, True)

    assert status == expected
    assert job_id == "" and video_path(video) is None
    time.sleep(0.3)  # a job started by mistake would have sent its POST by now
    assert len(relay.posts()) == posts_before
    assert {job["id"] for job in app.my_videos()} == jobs_before


# ── 5. the offline demo ────────────────────────────────────────────────────────────────────────


def visible_texts(config: dict) -> list[str]:
    """The visible Markdown of a page config, with i18n keys resolved to English."""
    english = config.get("i18n_translations", {}).get("en", {})
    texts = []
    for component in config["components"]:
        props = component.get("props", {})
        value = props.get("value")
        if component.get("type") != "markdown" or not props.get("visible", True):
            continue
        if isinstance(value, str) and value.startswith("__i18n__"):
            value = english.get(json.loads(value[len("__i18n__") :])["key"], value)
        texts.append(str(value))
    return texts


def test_offline_demo_shows_its_banner_and_makes_the_sample_video(
    demo_app: AppProcess, app: AppProcess, relay: SimRelay
):
    page = httpx.get(demo_app.url, timeout=10, trust_env=False)
    assert page.status_code == 200 and "demo-banner" in page.text
    config = httpx.get(demo_app.url + "config", timeout=10, trust_env=False).json()
    assert any("Offline demo" in text for text in visible_texts(config))
    # …and a keyed app has no such banner.
    keyed = httpx.get(app.url + "config", timeout=10, trust_env=False).json()
    assert not any("Offline demo" in text for text in visible_texts(keyed))
    assert "demo-banner" not in httpx.get(app.url, timeout=10, trust_env=False).text

    posts_before = len(relay.posts())
    status, video, panel, job_id = demo_app.call(new_prompt("A panda playing guitar"), 1000, True)
    assert status.startswith("Done in"), status
    assert state_of(panel) == ("done", "Done")
    assert Path(video_path(video)).read_bytes() == SAMPLE.read_bytes()
    assert (demo_app.data_dir / "videos" / f"{job_id}.mp4").read_bytes() == SAMPLE.read_bytes()
    assert len(relay.posts()) == posts_before, "the demo called the configured relay"
    assert "Traceback" not in demo_app.log()


# ── 6. without streaming ───────────────────────────────────────────────────────────────────────


def test_non_streaming_generation_succeeds_and_asks_for_no_stream(
    app: AppProcess, relay: SimRelay, scripts: ScriptsByPrompt
):
    prompt = new_prompt("A red kite over a green hill")
    name, url, data = serve_unique_video(relay)
    scripts.scripts[prompt] = video_script(url)
    posts_before = len(relay.posts())
    status, video, panel, job_id = app.call(prompt, 777, False)

    assert status.startswith("Done in"), status
    assert state_of(panel) == ("done", "Done")
    assert Path(video_path(video)).read_bytes() == data
    assert (app.data_dir / "videos" / f"{job_id}.mp4").read_bytes() == data
    (post,) = posts_for(relay, prompt)
    assert len(relay.posts()) == posts_before + 1
    body = post.json()
    assert body["stream"] is False
    assert body == {
        "model": "sora-2",
        "max_tokens": 777,
        "messages": [{"role": "user", "content": prompt}],
        "stream": False,
    }
    assert len(file_gets(relay, name)) == 1


# ── 7. closing the client loses nothing ────────────────────────────────────────────────────────

ROUNDS = 20


@contextmanager
def fast_forward(relay: SimRelay):
    """Play the rest of every running script at once (a Sleep's length is read when it starts:
    a hold made of many short Sleeps ends within one of them)."""
    relay.speed = SPEED * 1000
    try:
        yield
    finally:
        relay.speed = SPEED


def test_dropping_the_client_at_30_percent_loses_nothing(
    app: AppProcess, relay: SimRelay, scripts: ScriptsByPrompt
):
    chat_disconnects_before = [d for d in relay.disconnects if d[0] == "/v1/chat/completions"]
    for round_no in range(ROUNDS):
        prompt = new_prompt(f"Round {round_no}: a fox in the snow")
        name, url, data = serve_unique_video(relay)
        # At 30 % the relay holds for 4 s (50 Sleeps of 80 ms) unless the test fast-forwards it:
        # the drop happens in there however slow the machine is, and no round waits for nothing.
        script = video_script(url, percents=(10, 30, 70))
        at_30 = script.index(Content("30..")) + 1
        scripts.scripts[prompt] = script[:at_30] + [Sleep(16)] * 50 + script[at_30:]

        client = app.client()
        job = client.submit(prompt, 1000, True, api_name="/generate")
        status, _video, panel, job_id = first_output(
            job, lambda out: (percent_of(out[2]) or 0) >= 30, timeout=30
        )
        fetched_before_drop = file_gets(relay, name)
        job.cancel()
        app.close_later(client)  # the browser tab is gone
        app.seen.extend(job.outputs())
        with fast_forward(relay):
            viewer = app.client()  # a new session, e.g. the page opened again
            try:
                record = wait_for(partial(ended, app, viewer, job_id), timeout=20, interval=0.1)
            finally:
                app.close_later(viewer)

        assert not fetched_before_drop, f"round {round_no}: the video came before the drop"
        assert state_of(panel) == ("generating", "Generating"), (round_no, panel)
        assert re.match(r"Generating \d+%", status), (round_no, status)
        assert 30 <= percent_of(panel) < 100 and re.fullmatch(r"[0-9a-f]{32}", job_id)
        assert record["state"] == "done", (round_no, record)
        assert record["prompt"] == prompt and record["percent"] == 100
        assert record["video_url"] == url and record["error_kind"] is None
        assert record["task_id"] == "task_01kapptest0000000000000001"
        stored = app.data_dir / "videos" / f"{job_id}.mp4"
        assert stored.read_bytes() == data, round_no
        assert len(posts_for(relay, prompt)) == 1, round_no
        assert len(file_gets(relay, name)) == 1, round_no

    # Dropping the page never dropped the relay's stream.
    after = [d for d in relay.disconnects if d[0] == "/v1/chat/completions"]
    assert after == chat_disconnects_before


# ── 8. the key stays secret ────────────────────────────────────────────────────────────────────


def test_the_api_key_appears_in_no_log_output_or_stored_file(
    app: AppProcess, relay: SimRelay, scripts: ScriptsByPrompt
):
    # Exercise every path once more (the tests above have added theirs to app.seen already).
    ok = new_prompt("A cat on a skateboard")
    app.stream(ok, 1000, True)
    app.call(new_prompt("A dog on a skateboard"), 1000, False)
    refused = new_prompt("Refused")
    scripts.scripts[refused] = error_reply(401, _json_error("无效的令牌"))
    app.stream(refused, 1000, True)
    app.call("", 1000, True)
    app.my_videos()

    # The key did reach the relay, so a leak would be visible in what we scan.
    assert posts_for(relay, ok)[0].headers["authorization"] == f"Bearer {KEY}"

    # The whole key, and any 12 characters of its random part (a "masked" key is a leak too).
    needles = (KEY, *(CANARY[i : i + 12] for i in range(len(CANARY) - 11)))
    log = app.log()
    assert "Running on local URL" in log  # the capture works
    assert "Traceback" not in log, log[-3000:]  # nothing above went wrong inside the app
    for needle in needles:
        assert needle not in log, "the key is in the app's log"

    outputs = json.dumps(app.seen, ensure_ascii=False, default=str)
    assert len(app.seen) >= 5 and "Done in" in outputs
    for needle in needles:
        assert needle not in outputs, "the key is in an API output"
    for path in ("", "config", "gradio_api/info"):
        page = httpx.get(app.url + path, timeout=10, trust_env=False)
        assert page.status_code == 200, path
        for needle in needles:
            assert needle not in page.text, f"the key is in /{path}"

    # Every file the app or its clients wrote: the data dir (database, WAL, videos), Gradio's
    # cache, the client's downloads.
    files = [p for p in app.workdir.rglob("*") if p.is_file()]
    names = {p.name for p in files}
    assert {"jobs.sqlite3", "jobs.sqlite3-wal"} <= names, names
    assert any(p.parent == app.data_dir / "videos" for p in files), names
    for path in files:
        content = path.read_bytes()
        for needle in needles:
            assert needle.encode() not in content, f"the key is stored in {path}"
