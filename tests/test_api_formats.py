"""Every wire format for every model family the simulator serves, through the launched app's
``/generate`` API: against a simulated relay this test controls, and against the offline demo's
built-in relay.

The formats are the app's choices (``chat``, ``unified``, ``openai``) plus new-api's dialect of the
unified format (``/v1/video/generations``), which the app reaches when a relay answers the unified
create with "no such route", and remembers for that relay and family afterwards.
"""

from __future__ import annotations

import re
import sqlite3
from typing import Any

import pytest

from suxi.families import family_for, is_video_model
from suxi.simrelay import DEFAULT_VIDEO, SimRelay, error_reply

from .apprunner import (
    AppProcess,
    creates_for,
    inputs,
    new_prompt,
    stop_all,
    video_server_path,
)

KEY = "sk-formats-0123456789"
SAMPLE = DEFAULT_VIDEO.read_bytes()
MODELS = [m for m in SimRelay().models if is_video_model(m)]  # its list, text models left out
FAMILIES = {"sora", "sora-pro", "veo", "grok", "wan", "kling", "seedance", "hailuo"}
CREATE_PATHS = {
    "chat": "/v1/chat/completions",
    "unified": "/v1/video/create",
    "generations": "/v1/video/generations",
    "openai": "/v1/videos",
}
TASK_ID_SHAPES = {
    "unified": re.compile(r".+:task_[0-9a-z]{26}"),
    "generations": re.compile(r"task_[0-9a-z]{32}"),
    "openai": re.compile(r"video_[0-9a-f]+"),
}
NO_ROUTE = error_reply(
    404,
    {"error": {"message": "Invalid URL (POST /v1/video/create)", "type": "invalid_request_error"}},
)


@pytest.fixture(scope="module")
def relay():
    with SimRelay(speed=200).start() as sim:
        yield sim


@pytest.fixture(scope="module")
def apps(relay: SimRelay, tmp_path_factory: pytest.TempPathFactory):
    keyed = AppProcess(tmp_path_factory.mktemp("keyed"), api_key=KEY, base_url=relay.base_url)
    demo = AppProcess(tmp_path_factory.mktemp("demo"), api_key="", base_url=relay.base_url)
    try:
        keyed.launch()
        demo.launch()
        yield keyed.wait_ready(), demo.wait_ready()
    finally:
        stop_all(keyed, demo)


def test_the_simulator_serves_every_family():
    assert {family_for(m).key for m in MODELS} == FAMILIES


def make_all(app: AppProcess, fmt: str, tag: str) -> dict[str, tuple[str, tuple]]:
    """One video per model in ``fmt``, all at once through one API session; model → (prompt,
    final outputs)."""
    client = app.client()
    calls: dict[str, tuple[str, Any]] = {}
    try:
        for model in MODELS:
            prompt = new_prompt(f"A red kite ({tag}, {model}, {fmt})")
            calls[model] = (
                prompt,
                client.submit(*inputs(prompt, model=model, fmt=fmt), api_name="/generate"),
            )
        results = {m: (p, call.result(timeout=60)) for m, (p, call) in calls.items()}
    finally:
        app.close_later(client)
    app.seen.extend(r for _p, r in results.values())
    return results


def check_made(app: AppProcess, results: dict[str, tuple[str, tuple]], route: str) -> None:
    records = {j["id"]: j for j in app.my_videos()}
    for model, (_prompt, (status, video, _panel, job_id)) in results.items():
        assert status.startswith("Done in"), (model, route, status)
        record = records[job_id]
        assert (record["model"], record["format"], record["state"]) == (model, route, "done")
        if route != "chat":
            assert TASK_ID_SHAPES[route].fullmatch(record["task_id"]), record
        path = video_server_path(video)
        assert path.is_relative_to(app.data_dir / "videos") and path.read_bytes() == SAMPLE


@pytest.mark.parametrize("fmt", ["chat", "unified", "openai"])
def test_each_family_in_each_format_on_our_relay(apps, relay: SimRelay, fmt: str):
    app = apps[0]
    results = make_all(app, fmt, "relay")
    check_made(app, results, fmt)
    for model, (prompt, _out) in results.items():
        (create,) = creates_for(relay, prompt)
        assert create.path == CREATE_PATHS[fmt], (model, create.path)
        assert create.headers["authorization"] == f"Bearer {KEY}"
        assert (create.form or create.json())["model"] == model


def test_each_family_through_the_generations_dialect_on_our_relay(apps, relay: SimRelay):
    """The relay answers the unified create "no such route": the app asks new-api's way, and
    asks that way first from then on for the family."""
    app = apps[0]
    families: set[str] = set()
    for model in MODELS:
        prompt = new_prompt(f"A blue kite (generations, {model})")
        first = family_for(model).key not in families
        families.add(family_for(model).key)
        if first:
            relay.push_create(NO_ROUTE)  # the next create is refused as an unknown route
        result = app.call(*inputs(prompt, model=model, fmt="unified"))
        check_made(app, {model: (prompt, result)}, "generations")
        paths = [c.path for c in creates_for(relay, prompt)]
        expected = ["/v1/video/create"] if first else []
        assert paths == [*expected, "/v1/video/generations"], (model, paths)


@pytest.mark.parametrize("fmt", ["chat", "unified", "openai"])
def test_each_family_in_each_format_in_the_offline_demo(apps, relay: SimRelay, fmt: str):
    demo = apps[1]
    before = len(relay.requests)
    check_made(demo, make_all(demo, fmt, "demo"), fmt)
    assert len(relay.requests) == before, "the demo called the configured relay"


def test_each_family_through_the_generations_dialect_in_the_offline_demo(apps, relay):
    """The demo's relay serves every route; the app takes the dialect when its memory of this
    relay says the dialect answered last time (as after a relay that refused the unified create)."""
    demo = apps[1]
    db = sqlite3.connect(demo.data_dir / "jobs.sqlite3", timeout=10)
    try:
        remembered = db.execute("SELECT family FROM routes").fetchall()
        assert {family_for(m).key for m in MODELS} <= {row[0] for row in remembered}
        with db:
            db.execute("UPDATE routes SET route = 'generations'")
    finally:
        db.close()
    check_made(demo, make_all(demo, "unified", "demo-dialect"), "generations")
    assert demo.log().count("POST /v1/video/generations") >= len(MODELS)
