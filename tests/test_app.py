"""The whole app, end to end: ``python app.py`` in a subprocess, a simulated relay on loopback,
and the documented API through ``gradio_client`` — its contract, its streaming, the follow-up
endpoints, bad input, and a ``kill -9`` in the middle of a job (with a relay of our own, and in
the offline demo whose built-in relay dies and comes back with the app).
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import httpx
import pytest
from gradio_client import handle_file

from suxi.simrelay import (
    DEFAULT_VIDEO,
    Content,
    Done,
    Finish,
    Frame,
    SimRelay,
    Sleep,
    TaskPlan,
    error_reply,
)

from .apprunner import (
    AppProcess,
    creates_for,
    inputs,
    new_prompt,
    stop_all,
    video_server_path,
    video_url,
    wait_for,
)

KEY = "sk-app-test-0123456789"
SAMPLE = DEFAULT_VIDEO.read_bytes()
JOB_ID = re.compile(r"[0-9a-f]{32}")
RUNNING = {"waiting", "pending", "queued", "generating", "downloading"}
INTERNALS = re.compile(r"Traceback|Exception|httpx|gradio|\b\w+Error\b", re.IGNORECASE)
GENERATE_INPUTS = [
    ("prompt", False, None),
    ("max_tokens", True, 1000),
    ("stream", True, True),
    ("visitor", True, None),
    ("api_key", True, ""),
    ("model", True, ""),
    ("orientation", True, "auto"),
    ("duration", True, "auto"),
    ("image", True, None),
    ("image_url", True, ""),
    ("format", True, "auto"),
    ("size", True, "auto"),
    ("watermark", True, True),
    ("private", True, False),
    ("count", True, 1),
]


@pytest.fixture(scope="module")
def relay(scripted_relay: SimRelay) -> SimRelay:
    return scripted_relay


@pytest.fixture(scope="module")
def apps(relay: SimRelay, tmp_path_factory: pytest.TempPathFactory):
    """An app with a key on our relay, and the offline demo (slow enough to be cut mid-job)."""
    keyed = AppProcess(tmp_path_factory.mktemp("app"), api_key=KEY, base_url=relay.base_url)
    demo = AppProcess(tmp_path_factory.mktemp("demo"), api_key="", base_url=relay.base_url, speed=8)
    try:
        keyed.launch()
        demo.launch()
        yield keyed.wait_ready(), demo.wait_ready()
    finally:
        stop_all(keyed, demo)


@pytest.fixture(scope="module")
def app(apps) -> AppProcess:
    return apps[0]


@pytest.fixture(scope="module")
def demo_app(apps) -> AppProcess:
    return apps[1]


def generate(app: AppProcess, prompt: str, **options) -> tuple:
    return app.call(*inputs(prompt, **options))


def media_bytes(app: AppProcess, job_id: str) -> bytes:
    """The job's video as the page plays it (``/media/…`` from its card)."""
    (card,) = app.follow("local-visitor-0001", [job_id])
    response = app.http.get(card["video"])
    assert response.status_code == 200, card
    return response.content


# ── 1. the contract ───────────────────────────────────────────────────────────────────────────


def test_generate_keeps_its_positional_inputs_and_four_outputs(app: AppProcess):
    info = app.http.get("/gradio_api/info").json()["named_endpoints"]
    endpoints = ("/generate", "/modify", "/my_videos", "/open_job", "/check_again", "/delete_job")
    assert {*endpoints, "/stop"} <= set(info)
    inputs = [
        (p["parameter_name"], p["parameter_has_default"], p["parameter_default"])
        for p in info["/generate"]["parameters"]
    ]
    assert inputs == GENERATE_INPUTS
    assert len(info["/generate"]["returns"]) == 4  # status, video, panel_html, job_id
    modify = [p["parameter_name"] for p in info["/modify"]["parameters"]]
    assert modify[:2] == ["parent_id", "instruction"]
    # A client that knows only the prompt is served.
    status, video, panel, job_id = app.call(new_prompt("A kite over a hill"))
    assert status.startswith("Done in") and JOB_ID.fullmatch(job_id) and video_url(video)
    assert 'class="suxi-panel state-done"' in panel


def test_a_video_comes_from_the_data_folder_with_the_relays_bytes(app: AppProcess, relay):
    prompt = new_prompt("A lighthouse in a storm")
    status, video, _panel, job_id = generate(app, prompt, max_tokens=777, stream=False)

    assert re.fullmatch(r"Done in \d+:\d{2}\.", status), status
    path = video_server_path(video)
    assert path.is_relative_to(app.data_dir / "videos"), path  # the one copy, not a cached one
    assert path.read_bytes() == SAMPLE
    assert app.http.get(video_url(video)).content == SAMPLE
    assert media_bytes(app, job_id) == SAMPLE
    (post,) = creates_for(relay, prompt)
    assert post.headers["authorization"] == f"Bearer {KEY}"
    assert post.json() == {
        "model": "sora-2",
        "max_tokens": 777,
        "messages": [{"role": "user", "content": prompt}],
        "stream": False,
    }


def test_the_allowed_durations_depend_on_the_model(app: AppProcess, relay: SimRelay):
    prompt = new_prompt("A glacier calving")
    status, video, _panel, job_id = generate(app, prompt, model="sora-2", duration="25")
    assert status == "sora-2 does not take duration “25”; choose one of: 10, 15."
    assert (video, job_id) == (None, "") and creates_for(relay, prompt) == []

    status, video, _panel, job_id = generate(
        app, prompt, model="sora-2-pro", duration="25", fmt="unified"
    )
    assert status.startswith("Done in"), status
    (create,) = creates_for(relay, prompt)
    assert create.path == "/v1/video/create"
    assert create.json()["model"] == "sora-2-pro" and create.json()["duration"] == 25


# ── 2. streaming: an output for each change, none for the clock ──────────────────────────────


def test_a_silent_relay_causes_no_outputs(app: AppProcess, relay: SimRelay, scripts):
    """Three seconds without news — a chat stream that says nothing, a task whose every poll
    answers the same — and the API client hears nothing either: no clock ticks."""
    chat_prompt, task_prompt = new_prompt("A snail on a leaf"), new_prompt("A snail on a rock")
    scripts.scripts[chat_prompt] = [
        Content("> ID: `task_01kapptest0000000000000001`\n\n> 排队中"),
        Sleep(600),
        Content(f"...\n\n> 生成完成 ✅\n\n[在线播放▶️]({relay.base_url}/files/sample.mp4)\n\n"),
        Finish("stop"),
        Done(),
    ]
    relay.push_task(TaskPlan((Frame(0, "running", 20), Frame(600, "done", 100))))
    client = app.client()
    started = time.monotonic()
    calls = [
        app.begin(client, *inputs(chat_prompt, model="sora-2", fmt="chat"))[0],
        app.begin(client, *inputs(task_prompt, model="veo3", fmt="unified"))[0],
    ]
    finals = [call.result(timeout=30) for call in calls]
    took = time.monotonic() - started
    outputs = [[*call.outputs()] for call in calls]
    app.close_later(client)

    assert all(final[0].startswith("Done in") for final in finals), finals
    task_id = app.job(finals[1][3])["task_id"]
    assert took >= 3 and len(relay.polls(task_id)) >= 10, "the relay was not silent long enough"
    for silent, out in zip(("Queued…", "Generating 20%…"), outputs, strict=True):
        statuses = [o[0] for o in out]
        assert statuses.count(silent) == 1 and len(statuses) <= 8, statuses


# ── 3. the follow-up endpoints ─────────────────────────────────────────────────────────────────


def test_open_modify_check_stop_and_delete_answer_in_plain_sentences(app: AppProcess, relay):
    prompt = new_prompt("A paper crane unfolding")
    status, _video, _panel, job_id = generate(app, prompt)
    assert status.startswith("Done in")

    status, video, shown_prompt, same_id = app.call(job_id, None, api_name="/open_job")
    assert (shown_prompt, same_id) == (prompt, job_id) and status.startswith("Done in")
    assert video_server_path(video).read_bytes() == SAMPLE

    changed = new_prompt("Make it fold back")
    status, video, _panel, child_id = app.call(
        job_id, changed, 1000, True, None, "", "", "auto", "auto", api_name="/modify"
    )
    assert status.startswith("Done in") and child_id != job_id and video_url(video)
    (post,) = creates_for(relay, changed)
    roles = [m["role"] for m in post.json()["messages"]]
    assert roles == ["user", "assistant", "user"]  # the conversation, answer verbatim

    status, video = app.call(job_id, None, "", api_name="/check_again")
    assert status == "This video is done or still being made; there is nothing to check."

    relay.push_task(TaskPlan((Frame(0, "running", 10),)))  # never finishes
    client = app.client()
    _call, (_status, _video, _panel, running_id) = app.begin(
        client, *inputs(new_prompt("A slow sunrise"), model="veo3", fmt="unified")
    )
    stopped = app.call(running_id, None, api_name="/stop")
    assert stopped.startswith("Stopped following."), stopped
    wait_for(lambda: app.job(running_id)["state"] == "cancelled", 10)
    app.close_later(client)

    assert app.call(job_id, None, api_name="/delete_job").startswith("Deleted, together with")
    status, video, shown_prompt, _ = app.call(job_id, None, api_name="/open_job")
    assert status.startswith("There is no such video") and video is None and shown_prompt == ""
    assert app.call(job_id, None, api_name="/stop").startswith("This video is not being made")


def test_stop_on_a_card_answers_with_the_stopped_card_not_the_moment_before(app, relay):
    # The page applies the answer and the follow stream's frames in whatever order they come:
    # an answer showing the job still running would put the card back to "queued" for good.
    visitor = "stopper-" + new_prompt("v").replace(" ", "-")
    relay.push_task(TaskPlan((Frame(0, "running", 10),)))  # never finishes
    client = app.client()
    prompt = new_prompt("A kite that never lands")
    _call, (_status, _video, _panel, job_id) = app.begin(
        client, *inputs(prompt, visitor=visitor, model="veo3")
    )
    (running,) = app.library(visitor, search=prompt)["cards"]
    assert running["running"] is True, running
    answer = app.act(visitor, "stop", job_id)
    card = answer["card"]
    assert answer["ok"] and card["state"] == "cancelled" and card["running"] is False, card
    assert card["updated"] > running["updated"]
    (followed,) = app.follow(visitor, [job_id])
    assert followed["state"] == "cancelled" and followed["updated"] == card["updated"]
    app.close_later(client)


def test_a_relay_error_ends_in_one_sentence_with_the_relays_words(app, relay, scripts):
    prompt = new_prompt("A corgi surfing")
    scripts.scripts[prompt] = error_reply(401, {"error": {"message": "无效的令牌", "type": "x"}})
    outputs = app.stream(*inputs(prompt))
    status, video, panel, job_id = outputs[-1]
    assert status.startswith("The relay refused the API key") and "无效的令牌" in status
    assert "state-failed" in panel and JOB_ID.fullmatch(job_id) and video is None
    assert not any(INTERNALS.search(o[0]) for o in outputs), [o[0] for o in outputs]
    assert len(creates_for(relay, prompt)) == 1, "the request was sent again"


# ── 4. bad input: one sentence, nothing sent ───────────────────────────────────────────────────

LONG = "A fox in the snow. " * 263 + "End"  # 5,000 characters
BAD_INPUT = {
    "empty": ("", 1000, None, "Please describe the video you want first."),
    "whitespace": (" \n\t ", 1000, None, "Please describe the video you want first."),
    "5000-chars": (
        LONG,
        1000,
        None,
        "The description is too long (5000 characters); please keep it under 4000. "
        "Nothing was sent.",
    ),
    "max-tokens-0": ("A kite", 0, None, "must be a whole number from 1 to 4000."),
    "max-tokens-1e9": ("A kite", 10**9, None, "must be a whole number from 1 to 4000."),
    "max-tokens-2.5": ("A kite", 2.5, None, "must be a whole number from 1 to 4000."),
    "text-as-png": ("A kite", 1000, "broken.png", "That file is not a picture the app can read"),
}


@pytest.mark.parametrize("case", list(BAD_INPUT))
def test_bad_input_gets_one_sentence_and_sends_nothing(app, relay, tmp_path: Path, case: str):
    prompt, max_tokens, image, expected = BAD_INPUT[case]
    assert len(LONG) == 5000
    if image:
        (tmp_path / image).write_text("this is a text file, not a picture\n")
        image = handle_file(str(tmp_path / image))
    requests_before, jobs_before = len(relay.requests), len(app.my_videos())

    status, video, panel, job_id = app.call(*inputs(prompt, max_tokens=max_tokens, image=image))
    assert expected in status, status
    assert (video, panel, job_id) == (None, "", "")
    time.sleep(0.2)  # a job started by mistake would have reached the relay by now
    assert len(relay.requests) == requests_before
    assert len(app.my_videos()) == jobs_before


# ── 5. kill -9 ─────────────────────────────────────────────────────────────────────────────────


def test_a_task_job_cut_by_kill_9_finishes_by_itself_after_the_restart(app, relay: SimRelay):
    prompt = new_prompt("A heron fishing at dawn")
    frames = (Frame(0, "queued", 0), Frame(100, "running", 40), Frame(800, "done", 100))
    relay.push_task(TaskPlan(frames))  # done 4 s after the create
    client = app.client()
    call, (_status, _video, _panel, job_id) = app.begin(
        client, *inputs(prompt, model="veo3", fmt="unified")
    )
    task_id = wait_for(lambda: app.job(job_id)["task_id"], 10)
    assert app.job(job_id)["state"] in RUNNING
    call.cancel()
    app.close_later(client)

    app.kill()
    app.launch().wait_ready()

    record = wait_for(lambda: (j := app.job(job_id)) and j["state"] not in RUNNING and j, 30)
    assert record["state"] == "done" and record["task_id"] == task_id, record
    assert media_bytes(app, job_id) == SAMPLE
    assert len(creates_for(relay, prompt)) == 1 and relay.made().count(task_id) == 1
    assert "Traceback" not in app.log()


def test_demo_jobs_cut_by_kill_9_resume_or_are_collected(demo_app: AppProcess, app: AppProcess):
    banner = 'data-kind=\\"demo\\"'  # in the page's config (JSON)
    assert banner in demo_app.http.get("/config").text
    assert banner not in app.http.get("/config").text
    client = demo_app.client()
    task_call, task_first = demo_app.begin(
        client, *inputs(new_prompt("A lantern on a lake"), model="veo3", fmt="unified")
    )
    chat_call, chat_first = demo_app.begin(
        client, *inputs(new_prompt("A panda playing guitar"), model="sora-2", fmt="chat")
    )
    task_job, chat_job = task_first[3], chat_first[3]
    wait_for(lambda: demo_app.job(task_job)["task_id"] and demo_app.job(chat_job)["task_id"], 20)
    assert demo_app.job(task_job)["state"] in RUNNING and demo_app.job(chat_job)["state"] in RUNNING
    task_call.cancel()
    chat_call.cancel()
    demo_app.close_later(client)

    demo_app.kill()  # the built-in relay dies with the app
    demo_app.launch().wait_ready()

    assert demo_app.job(chat_job)["state"] == "interrupted"
    status, _video = demo_app.call(chat_job, None, "", api_name="/check_again")
    assert status.startswith(("Found it", "The relay is still working")), status
    for job_id in (task_job, chat_job):  # the task job needed no button
        record = wait_for(lambda j=job_id: demo_app.job(j)["state"] not in RUNNING, 30)
        assert record and demo_app.job(job_id)["state"] == "done", demo_app.job(job_id)
        assert media_bytes(demo_app, job_id) == SAMPLE
    log = demo_app.log()  # the built-in relay logs each request it answers
    assert log.count("POST /v1/video/create") == log.count("POST /v1/chat/completions") == 1
    assert "Traceback" not in log


def test_the_restarted_app_serves_as_before(app: AppProcess):
    """Ran last: the app that came back serves the page and its API as before."""
    assert httpx.get(app.url, timeout=10, trust_env=False).status_code == 200
    assert generate(app, new_prompt("A last video"))[0].startswith("Done in")
