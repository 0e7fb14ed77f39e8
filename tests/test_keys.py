"""Keys on a public deployment: the operator's key and a visitor's own key each reach the relay
only on their own requests, reach no other origin, and show up nowhere else — not in an API
output, the page, the page's routes, the app's log or any file the app wrote."""

from __future__ import annotations

import json
import uuid

import pytest

from suxi.simrelay import Content, Done, Finish, Frame, SimRelay, TaskPlan, error_reply

from .apprunner import AppProcess, creates_for, first_output, inputs, new_prompt

CANARY_OPERATOR = "sk-OPCANARY-" + uuid.uuid4().hex
CANARY_VISITOR = "sk-VISCANARY-" + uuid.uuid4().hex
OTHER_VISITOR = "sk-other-" + uuid.uuid4().hex
VISITOR, OTHER = "visitor-" + uuid.uuid4().hex, "other-" + uuid.uuid4().hex
BAD_KEY = "The API key looks wrong (it is empty or contains spaces); paste it again."
NOT_FETCHED = "The relay's video link points to an address the app will not fetch"


def needles(key: str) -> list[str]:
    """The key, and every 12 characters of its random part (a "masked" key is a leak too)."""
    secret = key.rsplit("-", 1)[1]
    return [key, *(secret[i : i + 12] for i in range(len(secret) - 11))]


@pytest.fixture(scope="module")
def relay(scripted_relay: SimRelay) -> SimRelay:
    return scripted_relay


@pytest.fixture(scope="module")
def app(relay: SimRelay, tmp_path_factory: pytest.TempPathFactory):
    with AppProcess(
        tmp_path_factory.mktemp("keys"),
        api_key=CANARY_OPERATOR,
        base_url=relay.base_url,
        SUXI_SHARED="1",
        SUXI_VISITOR_KEYS="1",
        SUXI_VISITOR_MAX_PER_HOUR="100",
    ) as process:
        yield process


def generate(app: AppProcess, prompt: str, visitor: str, key: str = "", **options) -> tuple:
    return app.call(*inputs(prompt, visitor=visitor, key=key, **options))


def made_by(app: AppProcess, relay: SimRelay, visitor: str, key: str) -> list[str]:
    """A chat video, a unified task and an OpenAI-format task; the prompts sent."""
    prompts = [new_prompt(f"A {fmt} video") for fmt in ("chat", "unified", "openai")]
    for prompt, (model, fmt) in zip(
        prompts, [("sora-2", "chat"), ("veo3", "unified"), ("sora-2", "openai")], strict=True
    ):
        status = generate(app, prompt, visitor, key, model=model, fmt=fmt)[0]
        assert status.startswith("Done in"), (prompt, status)
    return prompts


def authorization(request) -> str:
    return request.headers.get("authorization", "")


def test_each_key_reaches_the_relay_only_on_its_own_requests(app: AppProcess, relay: SimRelay):
    windows = {}
    for who, key, bearer in [
        (VISITOR, CANARY_VISITOR, CANARY_VISITOR),
        ("operator-" + uuid.uuid4().hex, "", CANARY_OPERATOR),
        (OTHER, OTHER_VISITOR, OTHER_VISITOR),
    ]:
        start = len(relay.requests)
        prompts = made_by(app, relay, who, key)
        windows[bearer] = (relay.requests[start:], prompts)

    for bearer, (requests, prompts) in windows.items():
        for prompt in prompts:
            (create,) = creates_for(relay, prompt)
            assert authorization(create) == f"Bearer {bearer}", prompt
        mine = {id(r) for r in requests}
        task_ids = {t for t in relay.made() if any(id(p) in mine for p in relay.polls(t))}
        assert len(task_ids) == 2, task_ids  # the unified and the OpenAI task were polled
        for task_id in task_ids:
            polls = relay.polls(task_id)
            assert polls and {authorization(p) for p in polls} == {f"Bearer {bearer}"}
        sent = {authorization(r) for r in requests} - {""}
        assert sent == {f"Bearer {bearer}"}, f"another key was sent while {bearer[:12]}… ran"


@pytest.mark.parametrize("key", ["sk-with space", "sk-tab\tinside", "sk-\x00nul", "sk-\u200bzw"])
def test_a_malformed_visitor_key_is_refused_before_anything_is_sent(app, relay, key: str):
    before = len(relay.requests)
    status, video, _panel, job_id = generate(app, new_prompt("A kite"), VISITOR, key)
    assert (status, video, job_id) == (BAD_KEY, None, "")
    assert len(relay.requests) == before


def test_the_key_goes_to_no_other_origin(app: AppProcess, relay, scripts):
    """Links to another origin — directly, or through a redirect on the relay — never carry
    the key (here they are not fetched at all: another port on loopback is not the relay)."""
    with SimRelay(speed=200).start() as elsewhere:
        other_video = elsewhere.add_file("other.mp4", b"\0" * 2048)
        for link in (other_video, f"{relay.base_url}/redirect?to={other_video}"):
            prompt = new_prompt("A video kept elsewhere")
            scripts.scripts[prompt] = [
                Content(f"> 生成完成 ✅\n\n[在线播放▶️]({link})\n\n"),
                Finish("stop"),
                Done(),
            ]
            for key in ("", CANARY_VISITOR):
                status = generate(app, prompt, VISITOR, key)[0]
                assert status.startswith(NOT_FETCHED), status
        assert elsewhere.requests == []


def test_the_keys_appear_nowhere_else(app: AppProcess, relay: SimRelay, scripts):
    # Every path once more: a failure, a refusal that repeats nothing, a check with the key.
    failing = new_prompt("A refused video")
    scripts.scripts[failing] = error_reply(500, {"error": {"message": "upstream broke"}})
    failed = generate(app, failing, VISITOR, CANARY_VISITOR)[3]
    generate(app, new_prompt("A refused key"), VISITOR, CANARY_VISITOR + " x")
    app.call(failed, VISITOR, CANARY_VISITOR, api_name="/check_again")
    relay.push_task(TaskPlan((Frame(0, "running", 30),)))  # keeps running: a live card
    client = app.client()
    slow = inputs(
        new_prompt("A slow one"), visitor=VISITOR, key=CANARY_VISITOR, model="veo3", fmt="unified"
    )
    call, _first = app.begin(client, *slow)
    running = first_output(call, lambda out: "30%" in out[0], timeout=20)
    app.seen.extend(call.outputs())
    app.act(VISITOR, "check", failed, api_key=CANARY_VISITOR)
    assert app.act(VISITOR, "stop", running[3], api_key=CANARY_VISITOR)["ok"]
    app.close_later(client)
    app.library(VISITOR, api_key=CANARY_VISITOR)
    app.follow(VISITOR, [failed], timeout=10)
    app.my_videos(VISITOR)

    everything = needles(CANARY_OPERATOR) + needles(CANARY_VISITOR)
    outputs = json.dumps(app.seen, ensure_ascii=False, default=str)
    assert len(app.seen) > 20 and "Done in" in outputs
    pages = [app.http.get(p).text for p in ("/", "/config", "/gradio_api/info")]
    for needle in everything:
        assert needle not in outputs, "a key is in an API or route output"
        assert not any(needle in page for page in pages), "a key is in the page"
    assert any(authorization(r) == f"Bearer {CANARY_VISITOR}" for r in relay.requests)

    log = app.log()
    assert "Sentence → video" in log and "Traceback" not in log, log[-3000:]
    files = [p for p in app.workdir.rglob("*") if p.is_file()]
    names = {p.name for p in files}
    assert {"jobs.sqlite3", "app.log"} <= names and any(p.suffix == ".mp4" for p in files)
    for path in files:
        content = path.read_bytes()
        for needle in everything:
            assert needle.encode() not in content, f"a key is in {path.relative_to(app.workdir)}"
