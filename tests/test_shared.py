"""A public deployment (SUXI_SHARED=1) with the operator's key and visitors' own keys: who can
see what, which key reaches the relay, and what the file routes refuse."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import pytest
from gradio_client.exceptions import AppError

from suxi.simrelay import SimRelay

from .apprunner import AppProcess

OPERATOR = "sk-operator-shared-0001"
ALICE, BOB = "alice-" + uuid.uuid4().hex, "bob-" + uuid.uuid4().hex


@pytest.fixture(scope="module")
def relay():
    with SimRelay(speed=200).start() as sim:
        yield sim


@pytest.fixture(scope="module")
def app(relay, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("shared")
    with AppProcess(
        workdir,
        api_key=OPERATOR,
        base_url=relay.base_url,
        SUXI_SHARED="1",
        SUXI_VISITOR_KEYS="1",
        SUXI_VISITOR_MAX_PER_HOUR="50",
    ) as process:
        yield process


def generate(app, visitor, key=""):
    return app.call("a shared video", 1000, True, visitor, key)


def test_visitors_cannot_see_open_download_or_delete_each_others_jobs(app):
    alice_job = generate(app, ALICE)[3]
    bob_job = generate(app, BOB)[3]
    assert alice_job and bob_job

    alice_sees = [j["id"] for j in app.call(ALICE, api_name="/my_videos")]
    bob_sees = [j["id"] for j in app.call(BOB, api_name="/my_videos")]
    assert alice_job in alice_sees and bob_job not in alice_sees
    assert bob_job in bob_sees and alice_job not in bob_sees

    status, video, prompt, _ = app.call(alice_job, BOB, api_name="/open_job")
    assert video is None and prompt == ""
    assert "no such video" in status
    assert "no such video" in app.call(alice_job, BOB, api_name="/delete_job")
    assert "no such video" in app.call(alice_job, BOB, "", api_name="/check_again")[0]
    # Alice still has her job and its video.
    status, video, prompt, _ = app.call(alice_job, ALICE, api_name="/open_job")
    assert prompt == "a shared video" and video and Path(video).stat().st_size > 0
    # An API session without a visitor token sees neither.
    anonymous = [j["id"] for j in app.call(None, api_name="/my_videos")]
    assert alice_job not in anonymous and bob_job not in anonymous


def test_each_visitor_key_reaches_the_relay_only_with_its_own_requests(app, relay):
    before = len(relay.posts())
    carol_key, dave_key = "sk-carol-" + uuid.uuid4().hex, "sk-dave-" + uuid.uuid4().hex
    generate(app, "carol", carol_key)
    generate(app, "dave", dave_key)
    generate(app, "erin")  # no key of her own: the operator's
    sent = [p.headers["authorization"] for p in relay.posts()[before:]]
    assert sent == [f"Bearer {carol_key}", f"Bearer {dave_key}", f"Bearer {OPERATOR}"]


def test_a_visitor_key_leaves_no_trace_on_the_server(app, relay):
    canary = "sk-CANARY-" + uuid.uuid4().hex
    generate(app, "frank", canary)
    generate(app, "frank", canary + " with a space")  # refused: shows up in no message either
    assert canary not in app.log()
    for root in (app.data_dir, app.data_dir.parent / "gradio-tmp"):
        for path in root.rglob("*"):
            if path.is_file():
                assert canary.encode() not in path.read_bytes(), path
    assert canary not in repr(app.seen)


@pytest.mark.parametrize(
    "target",
    [
        "{data}/jobs.sqlite3",
        "{data}/jobs.sqlite3-wal",
        "{root}/.env.example",
        "{root}/app.py",
        ".env",
    ],
)
def test_file_routes_refuse_the_data_folder_and_the_code(app, target):
    root = Path(__file__).resolve().parent.parent
    path = target.format(data=app.data_dir.resolve(), root=root)
    response = httpx.get(f"{app.url}gradio_api/file={path}", timeout=10, trust_env=False)
    assert response.status_code in (403, 404)
    assert b"SQLite" not in response.content and b"SUXI_" not in response.content


def test_limits_apply_to_the_operator_key_only(relay, tmp_path):
    with AppProcess(
        tmp_path,
        api_key=OPERATOR,
        base_url=relay.base_url,
        SUXI_SHARED="1",
        SUXI_VISITOR_KEYS="1",
        SUXI_VISITOR_MAX_PER_HOUR="2",
    ) as app:
        for _ in range(2):
            assert "Done" in generate(app, "greta")[0]
        before = len(relay.posts())
        status = generate(app, "greta")[0]
        assert "limit of 2 videos per hour" in status
        assert len(relay.posts()) == before
        # Her own key is not rationed.
        assert "Done" in generate(app, "greta", "sk-greta-own-key")[0]


def test_no_error_reaches_the_api_as_an_exception(app):
    for args, words in [
        (("", 1000), "describe the video"),
        (("ok", 0), "whole number"),
        (("ok", 10**9), "whole number"),
    ]:
        try:
            result = app.call(*args, True, ALICE)
        except AppError as err:
            pytest.fail(f"the API raised instead of answering: {err}")
        assert words in result[0] and "Traceback" not in result[0]
