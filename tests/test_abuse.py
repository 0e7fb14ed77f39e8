"""A public deployment under abuse: floods from one address, forwarded headers written by the
visitor, caps on the operator's key, models and numbers the site's key must not be spent on.

Three apps share one simulated relay, each with an operator key of its own, so the relay's record
of creates per key is the black-box count of what each app spent:

* **by address** — no trusted proxy (forwarded headers are ignored), 10 videos per hour and 2 at
  once per visitor, visitors may bring their own key;
* **behind a proxy** — ``SUXI_TRUSTED_PROXIES=127.0.0.1``: the rightmost untrusted
  ``X-Forwarded-For`` entry is the visitor's address; 2 videos per hour per address;
* **operator caps** — 3 videos at once and 6 per hour on the operator's key, whoever asks, and
  only the models ``SUXI_ALLOWED_MODELS`` names.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import pytest

from suxi.kinds import Kind
from suxi.simrelay import Content, Done, Finish, Script, SimRelay, Sleep
from suxi.texts import explain

from .apprunner import AppProcess, ScriptsByPrompt, inputs, new_prompt, stop_all, wait_for

KEYS = {name: f"sk-{name}-{uuid.uuid4().hex}" for name in ("address", "proxy", "caps")}
OWN_KEY = "sk-own-" + uuid.uuid4().hex
RUNNING = {"waiting", "pending", "queued", "generating", "downloading"}


def sentence(kind: Kind, limit: int) -> str:
    return explain(kind, "en", limit=limit)


def held_script(video_url: str, hold_seconds: float = 30.0, speed: float = 200) -> Script:
    """A family-A chat stream that stays queued for ``hold_seconds`` (real time at ``speed``)
    unless the relay is fast-forwarded (:func:`fast_forward`), then ends with ``video_url``."""
    pieces = max(1, int(hold_seconds / 0.1))
    return [
        Content(f"> ID: `task_{uuid.uuid4().hex[:26]}`\n\n"),
        Content("> 排队中"),
        *[Sleep(0.1 * speed)] * pieces,  # a Sleep's length is read when it starts
        Content("...\n\n> 生成中..\n\n>🏃 进度 50..\n\n> 生成完成 ✅\n\n"),
        Content(f"[在线播放▶️]({video_url})\n\n"),
        Finish("stop"),
        Done(),
    ]


def quick_script(video_url: str) -> Script:
    """A chat stream that names its video at once."""
    return [Content(f"> 生成完成 ✅\n\n[在线播放▶️]({video_url})\n\n"), Finish("stop"), Done()]


@contextmanager
def fast_forward(relay: SimRelay) -> Iterator[None]:
    """Play the rest of every held script at once."""
    speed = relay.speed
    relay.speed = speed * 10_000
    try:
        yield
    finally:
        relay.speed = speed


@pytest.fixture(scope="module")
def relay(scripted_relay: SimRelay) -> SimRelay:
    return scripted_relay


@pytest.fixture(scope="module")
def apps(relay: SimRelay, tmp_path_factory: pytest.TempPathFactory):
    shared = {"SUXI_SHARED": "1", "SUXI_VISITOR_KEYS": "1"}
    settings = {
        "address": {"SUXI_VISITOR_MAX_PER_HOUR": "10", "SUXI_VISITOR_MAX_RUNNING": "2"},
        "proxy": {
            "SUXI_TRUSTED_PROXIES": "127.0.0.1",
            "SUXI_VISITOR_MAX_PER_HOUR": "2",
            "SUXI_VISITOR_MAX_RUNNING": "10",
            "SUXI_OPERATOR_MAX_TOKENS": "3000",
        },
        "caps": {
            "SUXI_TRUSTED_PROXIES": "127.0.0.1",
            "SUXI_OPERATOR_MAX_RUNNING": "3",
            "SUXI_OPERATOR_MAX_PER_HOUR": "6",
            "SUXI_ALLOWED_MODELS": "sora-2,kling-v2-1-master",
        },
    }
    started = {
        name: AppProcess(
            tmp_path_factory.mktemp(name),
            api_key=KEYS[name],
            base_url=relay.base_url,
            **shared,
            **extra,
        ).launch()
        for name, extra in settings.items()
    }
    try:
        yield {name: app.wait_ready() for name, app in started.items()}
    finally:
        stop_all(*started.values())


def spent(relay: SimRelay, name: str) -> int:
    """Creates the relay received on this app's operator key."""
    return sum(1 for c in relay.creates() if authorization(c) == f"Bearer {KEYS[name]}")


def authorization(request) -> str:
    return request.headers.get("authorization", "")


def attempt(
    app: AppProcess, address: str | None, *, prompt: str = "", token: str = "", **options
) -> tuple[str, str]:
    """One ``/generate`` from a fresh visitor token with a forwarded address of our choosing;
    (the first sentence, the job id — "" when refused). An accepted job is not followed."""
    client = app.client(headers={"X-Forwarded-For": address} if address else None)
    try:
        prompt, token = prompt or new_prompt("A flood"), token or uuid.uuid4().hex
        call, (status, _video, _panel, job_id) = app.begin(
            client, *inputs(prompt, visitor=token, **options)
        )
        if job_id:
            call.cancel()
    finally:
        app.close_later(client)
    return status, job_id


def finished(app: AppProcess, jobs: dict[str, str]) -> bool:
    return all(app.job(job_id, token)["state"] not in RUNNING for token, job_id in jobs.items())


# ── by address ─────────────────────────────────────────────────────────────────────────────────


def test_a_flood_of_fresh_tokens_and_forged_addresses_gets_one_visitors_share(
    apps, relay: SimRelay, scripts: ScriptsByPrompt
):
    app = apps["address"]
    room = 10 - spent(relay, "address")
    prompts = [new_prompt("A flood") for _ in range(100)]
    for prompt in prompts:
        scripts.scripts[prompt] = held_script(f"{relay.base_url}/files/sample.mp4")
    tokens = [uuid.uuid4().hex for _ in prompts]
    with ThreadPoolExecutor(8) as pool:
        answers = list(
            pool.map(
                lambda i: attempt(
                    app, f"203.0.113.{i}, 10.0.0.{i}", prompt=prompts[i], token=tokens[i]
                ),
                range(100),
            )
        )
        # Meanwhile a visitor with their own key starts at once.
        own_status, own_job = attempt(app, None, key=OWN_KEY)
    accepted = {tokens[i]: job for i, (_s, job) in enumerate(answers) if job}
    refusals = {s for s, job in answers if not job}
    assert len(accepted) == min(2, room), answers
    assert refusals <= {sentence(Kind.VISITOR_RUNNING, 2), sentence(Kind.VISITOR_HOURLY, 10)}
    assert len(answers) - len(accepted) == 100 - min(2, room)
    assert own_job and own_status.startswith("Sending"), own_status
    own_bearer = f"Bearer {OWN_KEY}"
    wait_for(lambda: any(authorization(c) == own_bearer for c in relay.creates()), 10)
    with fast_forward(relay):
        wait_for(lambda: finished(app, accepted), 30, interval=0.2)


def test_the_hourly_count_ignores_own_keys_and_survives_deleting(
    apps, relay: SimRelay, scripts: ScriptsByPrompt
):
    app = apps["address"]
    assert attempt(app, None, key=OWN_KEY)[1]  # an own-key job spends nothing of the site's
    made: dict[str, str] = {}
    while True:
        token, prompt = uuid.uuid4().hex, new_prompt("A quick one")
        scripts.scripts[prompt] = quick_script(f"{relay.base_url}/files/sample.mp4")
        status, job_id = attempt(app, f"198.51.100.{len(made)}", token=token, prompt=prompt)
        if not job_id:
            break
        made[token] = job_id
        wait_for(lambda t=token, j=job_id: app.job(j, t)["state"] not in RUNNING, 20)
        assert len(made) <= 10, "the hourly limit did not hold"
    assert status == sentence(Kind.VISITOR_HOURLY, 10)
    assert spent(relay, "address") == 10

    for token, job_id in made.items():
        assert app.call(job_id, token, api_name="/delete_job").startswith("Deleted")
    assert attempt(app, None)[0] == sentence(Kind.VISITOR_HOURLY, 10)
    assert attempt(app, None, key=OWN_KEY)[1], "an own key is not rationed"
    assert spent(relay, "address") == 10


# ── behind a proxy ─────────────────────────────────────────────────────────────────────────────


def test_the_rightmost_untrusted_forwarded_address_is_the_visitor(apps, relay: SimRelay):
    app = apps["proxy"]
    hourly = sentence(Kind.VISITOR_HOURLY, 2)
    assert attempt(app, "203.0.113.7")[1] and attempt(app, "192.0.2.1, 203.0.113.7")[1]
    for forwarded in ("203.0.113.7", "192.0.2.99, 203.0.113.7", "203.0.113.7, 127.0.0.1"):
        assert attempt(app, forwarded)[0] == hourly, forwarded
    assert attempt(app, "203.0.113.8")[1], "another address has a quota of its own"
    assert attempt(app, "garbage, 203.0.113.9")[1]


def test_the_operator_key_takes_only_video_models_and_sane_numbers(apps, relay: SimRelay):
    app = apps["proxy"]
    before = len(relay.creates())
    status, job_id = attempt(app, "203.0.113.20", model="gpt-4o")
    assert (status, job_id) == (explain(Kind.MODEL_NOT_ALLOWED, "en", model="gpt-4o"), "")
    marker = uuid.uuid4().hex
    huge = (marker * (2**20 // len(marker)))[: 2**20]
    status, job_id = attempt(app, "203.0.113.21", model=huge)
    assert status.startswith("That is not a model name") and job_id == ""
    status, job_id = attempt(app, "203.0.113.22", max_tokens=3001)
    assert status.endswith("must be a whole number from 1 to 3000.") and job_id == ""
    assert len(relay.creates()) == before, "a refused call reached the relay"
    # A video model the relay lists is allowed, and so are 3000 tokens.
    assert attempt(app, "203.0.113.23", model="veo3", fmt="unified")[1]
    assert attempt(app, "203.0.113.24", max_tokens=3000)[1]
    stored = [p for p in app.workdir.rglob("*") if p.is_file()]
    assert all(marker.encode() not in p.read_bytes() for p in stored)
    assert app.log().count(marker) == 0 and app.seen


# ── operator caps ──────────────────────────────────────────────────────────────────────────────


def test_the_operator_caps_hold_across_visitors(apps, relay: SimRelay, scripts: ScriptsByPrompt):
    app = apps["caps"]
    not_allowed = attempt(app, "192.0.2.50", model="veo3", fmt="unified")
    assert not_allowed == (explain(Kind.MODEL_NOT_ALLOWED, "en", model="veo3"), "")

    held = {}
    for i in range(5):
        prompt = new_prompt("A held video")
        scripts.scripts[prompt] = held_script(f"{relay.base_url}/files/sample.mp4")
        token = uuid.uuid4().hex
        status, job_id = attempt(app, f"192.0.2.{i}", prompt=prompt, token=token)
        if job_id:
            held[token] = job_id
        else:
            assert status == sentence(Kind.OPERATOR_RUNNING, 3), status
    assert len(held) == 3
    assert attempt(app, "192.0.2.9", key=OWN_KEY)[1], "a visitor's own key is not capped"
    with fast_forward(relay):
        wait_for(lambda: finished(app, held), 30, interval=0.2)

    for i in range(10):
        token = uuid.uuid4().hex
        status, job_id = attempt(app, f"192.0.2.{100 + i}", model="kling-v2-1-master", token=token)
        if not job_id:
            break
        wait_for(lambda t=token, j=job_id: app.job(j, t)["state"] not in RUNNING, 20)
    assert status == sentence(Kind.OPERATOR_HOURLY, 6)
    assert spent(relay, "caps") == 6
