"""The simulated relay's task formats, account routes and prompt help, over loopback HTTP."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from suxi.families import family_for
from suxi.simrelay import (
    CHAT_PATH,
    DEFAULT_TIMELINE,
    DEFAULT_VIDEO,
    REMOVE,
    THUMB_WEBP,
    UNLIMITED_BALANCE,
    Content,
    Done,
    Drop,
    Frame,
    SimRelay,
    Sleep,
    TaskPlan,
    error_body,
    error_reply,
)

KEY = "sk-test-tasks"
AUTH = {"Authorization": f"Bearer {KEY}"}
SPEED = 100.0  # the default ~45 s timeline takes under half a second


@pytest.fixture
def relay():
    with SimRelay(speed=SPEED).start() as sim:
        yield sim


@pytest.fixture
async def client(relay: SimRelay):
    async with httpx.AsyncClient(base_url=relay.base_url, headers=AUTH, timeout=10) as c:
        yield c


async def until(fetch: Callable[[], Any], done: Callable[[Any], bool], timeout: float = 3.0):
    """Call ``fetch`` until ``done`` holds for its result; return that result."""
    deadline = time.monotonic() + timeout
    while True:
        result = await fetch()
        if done(result):
            return result
        assert time.monotonic() < deadline, f"still not done: {result!r}"
        await asyncio.sleep(0.02)


def json_of(resp: httpx.Response) -> Any:
    return resp.json()


async def unified(client: httpx.AsyncClient, **fields: Any) -> str:
    resp = await client.post("/v1/video/create", json={"model": "sora-2", "prompt": "猫", **fields})
    assert resp.status_code == 200, resp.text
    return resp.json()["id"]


async def openai_video(client: httpx.AsyncClient, **fields: Any) -> dict[str, Any]:
    data = {"model": "sora-2", "prompt": "a cat", **fields}
    resp = await client.post("/v1/videos", data=data)
    assert resp.status_code == 200, resp.text
    return resp.json()


def query(client: httpx.AsyncClient, task_id: str):
    async def fetch() -> Any:
        return (await client.get("/v1/video/query", params={"id": task_id})).json()

    return fetch


def get(client: httpx.AsyncClient, path: str):
    async def fetch() -> httpx.Response:
        return await client.get(path)

    return fetch


# -------------------------------------------------------------------- the three formats, end to end


async def test_unified_create_then_poll_to_completion(relay, client):
    started = time.monotonic()
    create = await client.post(
        "/v1/video/create",
        json={
            "model": "veo3.1-fast",
            "prompt": "海边日落",
            "images": ["https://example.com/a.png"],
            "orientation": "portrait",
            "size": "1080p",
            "duration": 8,
            "watermark": False,
            "private": True,
        },
    )
    body = create.json()
    assert set(body) == {"id", "status", "status_update_time"}
    assert re.fullmatch(r"veo3\.1-fast:task_01[0-9a-z]{24}", body["id"])
    assert body["status"] == "pending"
    assert abs(body["status_update_time"] / 1000 - time.time()) < 5

    first = await query(client, body["id"])()
    assert first["status"] in ("pending", "processing")  # the queue lasts 90 ms at this speed
    if first["status"] == "pending":
        assert first["detail"]["pending_info"]["progress_pos_in_queue"] in (1, 2, 3)
    assert (first["width"], first["height"], first["seconds"]) == (1080, 1920, 8)
    assert first["enhanced_prompt"] == "海边日落" and first["video_url"] is None

    seen: list[dict] = []

    async def fetch() -> dict:
        seen.append(await query(client, body["id"])())
        return seen[-1]

    done = await until(fetch, lambda b: b["status"] == "completed")
    assert time.monotonic() - started < 2
    assert done["video_url"] == f"{relay.base_url}/files/sample.mp4"
    assert done["thumbnail_url"] == f"{relay.base_url}/files/thumb.webp"
    assert done["detail"]["gif_url"] == done["thumbnail_url"]
    assert done["detail"]["pending_info"]["progress_pct"] == 1.0
    fractions = [b["detail"]["pending_info"]["progress_pct"] for b in seen]
    assert fractions == sorted(fractions) and all(0 <= f <= 1 for f in fractions)
    assert (await client.get(done["video_url"])).content == DEFAULT_VIDEO.read_bytes()


async def test_generations_dialect_create_then_poll_to_completion(relay, client):
    create = await client.post(
        "/v1/video/generations",
        json={
            "model": "kling-v2-1-master",
            "prompt": "a fox",
            "duration": 10,
            "size": "720p",
            "metadata": {"aspect_ratio": "9:16"},
        },
    )
    body = create.json()
    assert re.fullmatch(r"task_[0-9a-z]{32}", body["task_id"]) and body["id"] == body["task_id"]
    assert (body["object"], body["status"], body["progress"]) == ("video", "queued", 0)
    assert body["model"] == "kling-v2-1-master"

    path = f"/v1/video/generations/{body['task_id']}"
    first = (await client.get(path)).json()
    assert (first["status"], first["progress"], first["url"], first["metadata"]) == (
        "queued",
        "0%",
        "",
        None,
    )
    done = (await until(get(client, path), lambda r: r.json()["status"] == "succeeded")).json()
    assert done == {
        "task_id": body["task_id"],
        "status": "succeeded",
        "url": f"{relay.base_url}/files/sample.mp4",
        "format": "mp4",
        "metadata": {**done["metadata"], "duration": 10, "width": 720, "height": 1280},
        "error": None,
        "progress": "100%",
    }


async def test_generations_envelope_is_new_apis_task_record(relay, client):
    relay.generations_shape = "envelope"
    relay.push_task(TaskPlan([Frame(0, "running", 50), Frame(30, "done")]))
    task_id = (
        await client.post("/v1/video/generations", json={"model": "veo3", "prompt": "x"})
    ).json()["task_id"]
    path = f"/v1/video/generations/{task_id}"
    running = (await client.get(path)).json()
    assert (running["code"], running["message"]) == ("success", "")
    assert running["data"]["status"] == "IN_PROGRESS" and running["data"]["progress"] == "50%"
    assert running["data"]["result_url"] == "" and running["data"]["task_id"] == task_id
    done = await until(get(client, path), lambda r: r.json()["data"]["status"] == "SUCCESS")
    data = done.json()["data"]
    assert data["progress"] == "100%" and data["fail_reason"] == ""
    assert data["result_url"] == f"{relay.base_url}/files/sample.mp4"
    assert data["properties"]["origin_model_name"] == "veo3"


async def test_openai_multipart_create_then_poll_and_download(relay, client):
    image = b"\x89PNG\r\n\x1a\n\x00\x00\r\n--not-a-boundary\xff\xfe" + bytes(range(256))
    create = await client.post(
        "/v1/videos",
        data={
            "model": "sora-2",
            "prompt": "a paper boat",
            "seconds": "15",
            "size": "1024x1792",
            "watermark": "false",
            "private": "true",
            "character_url": "https://example.com/me.mp4",
            "character_timestamps": "1,3",
            "character_from_task": "video_x",
        },
        files={"input_reference": ("start.png", image, "image/png")},
    )
    video = create.json()
    assert re.fullmatch(r"video_[0-9a-f]+", video["id"])
    assert video == {
        "id": video["id"],
        "object": "video",
        "model": "sora-2",
        "status": "queued",
        "progress": 0,
        "created_at": video["created_at"],
        "seconds": "15",
        "size": "1024x1792",
    }
    recorded = relay.creates("openai")[-1]
    assert recorded.form["prompt"] == "a paper boat"
    assert recorded.form["character_timestamps"] == "1,3"
    assert recorded.form["private"] == "true"
    assert recorded.files == {"input_reference": ("start.png", "image/png", image)}

    path = f"/v1/videos/{video['id']}"
    polls: list[dict] = []

    async def fetch() -> dict:
        polls.append((await client.get(path)).json())
        return polls[-1]

    done = await until(fetch, lambda b: b["status"] == "completed")
    assert {b["status"] for b in polls} <= {"queued", "in_progress", "completed"}
    percents = [b["progress"] for b in polls]
    assert percents == sorted(percents) and done["progress"] == 100
    assert done["expires_at"] > done["completed_at"] >= done["created_at"]
    content = await client.get(f"{path}/content")
    assert content.headers["content-type"] == "video/mp4"
    assert content.content == DEFAULT_VIDEO.read_bytes()
    thumb = await client.get(f"{path}/content", params={"variant": "thumbnail"})
    assert (thumb.headers["content-type"], thumb.content) == ("image/webp", THUMB_WEBP)
    assert len(relay.polls(video["id"])) == len(polls)


async def test_openai_create_accepts_json_too(relay, client):
    resp = await client.post(
        "/v1/videos", json={"model": "veo3", "prompt": "rain", "seconds": "6", "size": "720x1280"}
    )
    assert resp.json()["size"] == "720x1280" and resp.json()["seconds"] == "6"
    assert relay.creates("openai")[-1].form == {}
    # curl -d sends JSON labelled as a form.
    curl = await client.post(
        "/v1/video/create",
        content=json.dumps({"model": "veo3", "prompt": "rain"}).encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert curl.status_code == 200 and curl.json()["id"].startswith("veo3:task_")


async def test_malformed_multipart_is_a_400(relay, client):
    resp = await client.post(
        "/v1/videos",
        content=b"--xyz\r\nno headers here",
        headers={"Content-Type": "multipart/form-data; boundary=xyz"},
    )
    assert resp.status_code == 400 and resp.json()["error"]["type"] == "invalid_request_error"


async def test_any_poll_route_answers_for_any_id_of_this_relay(relay, client):
    task_id = (
        await client.post("/v1/video/generations", json={"model": "veo3", "prompt": "x"})
    ).json()["task_id"]
    as_openai = (await client.get(f"/v1/videos/{task_id}")).json()
    assert as_openai["id"] == task_id and as_openai["object"] == "video"
    assert as_openai["model"] == "veo3"
    as_unified = (await client.get("/v1/video/query", params={"id": task_id})).json()
    assert as_unified["id"] == task_id and as_unified["status"] == "pending"


async def test_default_timeline_queues_then_rises_then_finishes():
    queued = [f for f in DEFAULT_TIMELINE if f.state == "queued"]
    running = [f for f in DEFAULT_TIMELINE if f.state == "running"]
    assert [f.position for f in queued] == [3, 2, 1]
    percents = [f.progress for f in running]
    assert percents == sorted(percents) and len(percents) >= 5
    assert DEFAULT_TIMELINE[-1].state == "done" and 40 <= DEFAULT_TIMELINE[-1].after <= 48
    assert [f.after for f in DEFAULT_TIMELINE] == sorted(f.after for f in DEFAULT_TIMELINE)


# ------------------------------------------------------------------------- restart, fixed port


async def test_task_state_survives_a_restart_on_the_same_port():
    first = SimRelay(speed=SPEED).start()
    async with httpx.AsyncClient(base_url=first.base_url, headers=AUTH, timeout=5) as client:
        unified_id = await unified(client, orientation="portrait", size="large", duration=15)
        gen = await client.post("/v1/video/generations", json={"model": "veo3", "prompt": "x"})
        video = await openai_video(client, model="sora-2-pro", seconds="25", size="1792x1024")
        first.stop()
        with pytest.raises(httpx.ConnectError):
            await client.get("/v1/models")

        second = SimRelay(speed=SPEED, port=first.port).start()
        try:
            assert second.base_url == first.base_url
            done = await until(query(client, unified_id), lambda b: b["status"] == "completed")
            assert (done["width"], done["height"], done["seconds"]) == (1024, 1792, 15)
            assert done["video_url"] == f"{second.base_url}/files/sample.mp4"
            path = f"/v1/video/generations/{gen.json()['task_id']}"
            assert (await until(get(client, path), lambda r: r.json()["url"])).status_code == 200
            again = (await client.get(f"/v1/videos/{video['id']}")).json()
            assert (again["model"], again["seconds"], again["size"]) == (
                "sora-2-pro",
                "25",
                "1792x1024",
            )
            assert second.creates() == []  # the new process made nothing: it read the ids
        finally:
            second.stop()


def test_start_on_a_busy_port_raises_a_clear_oserror():
    with SimRelay().start() as first:
        second = SimRelay(port=first.port)
        with pytest.raises(OSError, match=f"cannot listen on 127.0.0.1:{first.port}"):
            second.start()


# ------------------------------------------------------------------------------ scripted creates


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/video/create", {"model": "sora-2", "prompt": "x"}),
        ("/v1/video/generations", {"model": "sora-2", "prompt": "x"}),
        ("/v1/videos", {"model": "sora-2", "prompt": "x"}),
    ],
)
async def test_push_create_answers_the_next_create_of_any_format(relay, client, path, body):
    limited = error_body("当前分组上游负载已饱和，请稍后再试", code="rate_limit_exceeded")
    relay.push_create(error_reply(429, limited, headers=(("Retry-After", "2"),)))
    first = await client.post(path, json=body)
    assert first.status_code == 429 and first.headers["retry-after"] == "2"
    assert first.content == limited
    second = await client.post(path, json=body)
    assert second.status_code == 200
    assert len(relay.creates()) == 2 and relay.spent == relay.price_per_video


async def test_push_create_200_without_id_and_a_dropped_connection(relay, client):
    relay.push_create(error_reply(200, {"status": "pending"}))
    relay.push_create([Sleep(1), Drop()])
    no_id = await client.post("/v1/video/create", json={"model": "sora-2", "prompt": "x"})
    assert (no_id.status_code, no_id.json()) == (200, {"status": "pending"})
    with pytest.raises(httpx.RemoteProtocolError):
        await client.post("/v1/video/create", json={"model": "sora-2", "prompt": "x"})
    assert len(relay.creates("unified")) == 2 and relay.spent == 0


def test_scripted_replies_must_be_replies():
    relay = SimRelay()
    with pytest.raises(ValueError):
        relay.push_create([Content("bytes"), Done()])
    with pytest.raises(ValueError):
        relay.push_create([Sleep(1)])
    with pytest.raises(ValueError):
        Frame(0, "exploded")
    with pytest.raises(ValueError):
        TaskPlan([])
    with pytest.raises(ValueError):
        TaskPlan([Frame(0)], content="teleport")


# --------------------------------------------------------------------------------- scripted tasks


async def test_push_task_frames_render_in_each_format(relay, client):
    plan = TaskPlan(
        [
            Frame(0, "queued", position=7),
            Frame(50, "running", 40),
            Frame(100, "failed", reason="content policy: try another prompt"),
        ]
    )
    for _ in range(3):
        relay.push_task(plan)
    unified_id = await unified(client)
    gen_id = (
        await client.post("/v1/video/generations", json={"model": "sora-2", "prompt": "x"})
    ).json()["task_id"]
    video_id = (await openai_video(client))["id"]

    first = await query(client, unified_id)()
    assert first["detail"]["pending_info"]["progress_pos_in_queue"] == 7
    running = await until(query(client, unified_id), lambda b: b["status"] == "processing")
    assert running["detail"]["pending_info"]["progress_pct"] == 0.4
    failed = await until(query(client, unified_id), lambda b: b["status"] == "failed")
    assert failed["detail"]["failure_reason"] == "content policy: try another prompt"
    assert failed["video_url"] is None

    gen_path, video_path = f"/v1/video/generations/{gen_id}", f"/v1/videos/{video_id}"
    gen = (await until(get(client, gen_path), lambda r: r.json()["status"] == "failed")).json()
    assert gen["error"] == {"code": 1, "message": "content policy: try another prompt"}
    video = (await until(get(client, video_path), lambda r: r.json()["status"] == "failed")).json()
    assert video["error"]["message"] == "content policy: try another prompt"
    content = await client.get(f"/v1/videos/{video_id}/content")
    assert content.status_code == 400 and "not completed" in content.json()["error"]["message"]


async def test_raw_overrides_odd_words_scales_and_missing_links(relay, client):
    relay.push_task(
        TaskPlan(
            [
                Frame(0, "running", 40, status="video_upsampling", raw={"progress": 0.4}),
                Frame(50, "done", video_url=None, raw={"thumbnail_url": REMOVE}),
            ]
        )
    )
    video_id = (await openai_video(client))["id"]
    first = (await client.get(f"/v1/videos/{video_id}")).json()
    assert (first["status"], first["progress"]) == ("video_upsampling", 0.4)

    relay.push_task(
        TaskPlan(
            [
                Frame(0, "running", 35, raw={"detail.pending_info.progress_pct": 35}),
                Frame(50, "done", video_url=None, raw={"thumbnail_url": REMOVE}),
            ]
        )
    )
    task_id = await unified(client)
    running = await query(client, task_id)()
    assert running["detail"]["pending_info"]["progress_pct"] == 35  # 0–100 where 0–1 is usual
    done = await until(query(client, task_id), lambda b: b["status"] == "completed")
    assert done["video_url"] is None and "thumbnail_url" not in done
    # Without a link in the poll, the OpenAI content route still has the video.
    await until(get(client, f"/v1/videos/{video_id}"), lambda r: r.json()["status"] == "completed")
    content = await client.get(f"/v1/videos/{video_id}/content")
    assert content.content == DEFAULT_VIDEO.read_bytes()


async def test_poll_errors_at_given_times_then_recovery(relay, client):
    relay.push_task(
        TaskPlan(
            [
                Frame(0, "queued", position=1),
                Frame(30, reply=error_reply(500, error_body("upstream error", "server_error"))),
                Frame(
                    60, reply=error_reply(429, error_body("slow"), headers=(("Retry-After", "1"),))
                ),
                Frame(90, reply=error_reply(404, error_body("not found"))),
                Frame(120, "done"),
            ]
        )
    )
    task_id = await unified(client)
    statuses: list[int] = []

    async def fetch() -> httpx.Response:
        resp = await client.get("/v1/video/query", params={"id": task_id})
        if not statuses or statuses[-1] != resp.status_code:
            statuses.append(resp.status_code)
        return resp

    done = await until(fetch, lambda r: r.status_code == 200 and r.json()["status"] == "completed")
    assert statuses == [200, 500, 429, 404, 200]
    assert done.json()["video_url"].endswith("/files/sample.mp4")
    assert len(relay.polls(task_id)) >= 5


async def test_a_task_that_never_finishes(relay, client):
    relay.push_task(TaskPlan([Frame(0, "running", 12)]))
    video_id = (await openai_video(client))["id"]
    await asyncio.sleep(0.6)  # longer than the whole default timeline at this speed
    body = (await client.get(f"/v1/videos/{video_id}")).json()
    assert (body["status"], body["progress"]) == ("in_progress", 12)


@pytest.mark.parametrize("where", ["plan", "relay"])
async def test_content_redirect_json_and_error_modes(relay, client, where):
    cdn = relay.add_file("cdn-copy.mp4", b"cdn bytes")

    def plan(content: Any) -> TaskPlan:
        return TaskPlan(
            [Frame(0, "done", video_url=cdn)], content=content if where == "plan" else None
        )

    async def video_with(content: Any) -> str:
        if where == "relay" and isinstance(content, str):
            relay.content_mode = content
        relay.push_task(plan(content))
        return (await openai_video(client))["id"]

    redirect = await client.get(f"/v1/videos/{await video_with('redirect')}/content")
    assert (redirect.status_code, redirect.headers["location"]) == (302, cdn)
    followed = await client.get(redirect.headers["location"])
    assert followed.content == b"cdn bytes"
    as_json = await client.get(f"/v1/videos/{await video_with('json')}/content")
    assert as_json.json() == {"video_url": cdn}
    if where == "plan":
        gone = error_reply(410, error_body("video expired"))
        expired = await client.get(f"/v1/videos/{await video_with(gone)}/content")
        assert (expired.status_code, expired.json()["error"]["message"]) == (410, "video expired")


async def test_content_needs_the_key(relay, client):
    video_id = (await openai_video(client))["id"]
    resp = await httpx.AsyncClient().get(f"{relay.base_url}/v1/videos/{video_id}/content")
    assert resp.status_code == 401


async def test_unknown_ids_in_each_format(relay, client):
    assert (
        await client.get("/v1/video/query", params={"id": "sora-2:task_nope"})
    ).status_code == 404
    gen = await client.get("/v1/video/generations/task_nope")
    assert gen.status_code == 400
    assert gen.json() == {"code": "task_not_exist", "message": "task_not_exist", "data": None}
    missing = await client.get("/v1/videos/video_nope")
    assert missing.status_code == 404 and missing.json()["error"]["message"] == "Task not found"
    content = await client.get("/v1/videos/video_nope/content")
    assert content.status_code == 404 and content.json()["error"]["message"] == "Task not found"


# ------------------------------------------------------------------------------------ remix


async def test_remix_of_a_finished_video(relay, client):
    source = (await openai_video(client, size="1280x720", seconds="10"))["id"]
    await until(get(client, f"/v1/videos/{source}"), lambda r: r.json()["status"] == "completed")
    resp = await client.post(f"/v1/videos/{source}/remix", json={"prompt": "make it night"})
    remix = resp.json()
    assert remix["remixed_from_video_id"] == source and remix["id"] != source
    assert (remix["status"], remix["size"], remix["seconds"]) == ("queued", "1280x720", "10")
    assert relay.creates("openai")[-1].json() == {"prompt": "make it night"}
    polled = (await client.get(f"/v1/videos/{remix['id']}")).json()
    assert polled["remixed_from_video_id"] == source


async def test_remix_refusals(relay, client):
    async def remix(video_id: str, prompt: str = "again") -> httpx.Response:
        return await client.post(f"/v1/videos/{video_id}/remix", json={"prompt": prompt})

    unfinished = (await openai_video(client))["id"]
    assert (await remix(unfinished)).status_code == 400
    relay.push_task(TaskPlan([Frame(0, "done")]))
    private = (await openai_video(client, private="true"))["id"]
    refused = await remix(private)
    assert refused.status_code == 400 and "private" in refused.json()["error"]["message"]
    relay.push_task(TaskPlan([Frame(0, "done")]))
    veo = (await openai_video(client, model="veo3"))["id"]
    assert not family_for("veo3").remix
    assert (await remix(veo)).status_code == 400
    assert (await remix("video_nope")).status_code == 404
    relay.push_task(TaskPlan([Frame(0, "done")]))
    fine = (await openai_video(client))["id"]
    assert (await remix(fine, prompt="")).status_code == 400


# -------------------------------------------------------------------------- keys, formats, models


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", CHAT_PATH),
        ("GET", "/v1/models"),
        ("POST", "/v1/video/create"),
        ("GET", "/v1/video/query?id=x"),
        ("POST", "/v1/video/generations"),
        ("GET", "/v1/video/generations/task_x"),
        ("POST", "/v1/videos"),
        ("GET", "/v1/videos/video_x"),
        ("GET", "/v1/dashboard/billing/subscription"),
        ("POST", "/sora/v1/characters"),
    ],
)
async def test_routes_want_a_key(relay, method, path):
    async with httpx.AsyncClient(base_url=relay.base_url) as bare:
        resp = await bare.request(method, path, json={})
    assert resp.status_code == 401
    assert resp.json() == {"error": {"message": "未提供令牌", "type": "new_api_error", "code": ""}}
    assert relay.creates() == []


async def test_valid_keys_refuse_other_keys(relay):
    relay.valid_keys = {KEY}
    async with httpx.AsyncClient(base_url=relay.base_url) as bare:
        wrong = await bare.get("/v1/models", headers={"Authorization": "Bearer sk-other"})
        right = await bare.get("/v1/models", headers=AUTH)
        files = await bare.get("/files/thumb.webp")
        pricing = await bare.get("/api/pricing")
    assert wrong.status_code == 401 and wrong.json()["error"]["message"] == "无效的令牌"
    assert right.status_code == 200
    assert files.status_code == 200 and pricing.status_code == 200  # public routes


async def test_default_models_cover_the_families_and_chat_models(relay, client):
    data = (await client.get("/v1/models")).json()
    assert data["object"] == "list"
    ids = [m["id"] for m in data["data"]]
    keys = {family_for(m).key for m in ids}
    assert keys >= {"sora", "sora-pro", "veo", "grok", "wan", "kling", "seedance", "hailuo"}
    assert {"gpt-4o-mini", "gpt-4o"} <= set(ids)
    owners = {m["id"]: m["owned_by"] for m in data["data"]}
    assert owners["sora-2"] == "openai" and owners["veo3"] == "google"
    assert all(m["object"] == "model" for m in data["data"])


@pytest.mark.parametrize(
    ("path", "served"),
    [
        ("/v1/video/create", "openai"),
        ("/v1/video/generations", "openai"),
        ("/v1/videos", "unified"),
    ],
)
async def test_a_format_the_relay_does_not_serve_is_an_invalid_url(relay, client, path, served):
    relay.formats = {"chat", served}
    resp = await client.post(path, json={"model": "sora-2", "prompt": "x"})
    assert resp.status_code == 404
    assert resp.json()["error"]["message"] == f"Invalid URL (POST {path})"
    assert relay.spent == 0


async def test_chat_format_off_refuses_video_but_still_helps_with_prompts(relay, client):
    relay.formats = {"unified", "openai"}
    video = await client.post(CHAT_PATH, json={"model": "sora-2", "messages": []})
    assert video.status_code == 404
    text = await client.post(
        CHAT_PATH,
        json={
            "model": "gpt-4o-mini",
            "stream": False,
            "messages": [{"role": "user", "content": "a"}],
        },
    )
    assert text.status_code == 200


async def test_format_models_refuse_a_model_in_a_format(relay, client):
    relay.format_models = {"chat": {"sora-2", "sora-2-pro"}, "unified": {"veo3"}}
    chat = await client.post(CHAT_PATH, json={"model": "veo3", "stream": False, "messages": []})
    assert chat.status_code == 400 and "veo3" in chat.json()["error"]["message"]
    refused = await client.post("/v1/video/create", json={"model": "sora-2", "prompt": "x"})
    assert refused.status_code == 400 and "sora-2" in refused.json()["error"]["message"]
    assert (await client.post("/v1/video/create", json={"model": "veo3", "prompt": "x"})).is_success
    relay.push([Content("ok"), Done()])
    assert (await client.post(CHAT_PATH, json={"model": "sora-2", "messages": []})).is_success


async def test_create_validation(relay, client):
    missing = await client.post("/v1/video/create", json={"prompt": "x"})
    assert missing.status_code == 400
    unknown = await client.post("/v1/video/create", json={"model": "sora-9", "prompt": "x"})
    assert unknown.status_code == 503
    assert unknown.json()["error"]["code"] == "model_not_found"
    assert "sora-9" in unknown.json()["error"]["message"]
    no_prompt = await client.post("/v1/videos", data={"model": "sora-2"})
    assert no_prompt.status_code == 400
    not_json = await client.post("/v1/video/create", content=b"{nope")
    assert not_json.status_code == 400
    assert relay.spent == 0 and len(relay.creates()) == 4


# ------------------------------------------------------------------------------------- balance


async def test_balance_is_spent_by_every_accepted_create(relay, client):
    relay.balance, relay.price_per_video = 1.2, 0.5

    async def balance() -> tuple[float, float]:
        sub = (await client.get("/v1/dashboard/billing/subscription")).json()
        use = (await client.get("/v1/dashboard/billing/usage")).json()
        assert sub["object"] == "billing_subscription" and use["object"] == "list"
        assert sub["hard_limit_usd"] == sub["soft_limit_usd"] == sub["system_hard_limit_usd"]
        assert sub["access_until"] == 0 and sub["has_payment_method"] is True
        return sub["hard_limit_usd"], use["total_usage"]

    assert await balance() == (1.2, 0)
    await unified(client)
    relay.push([Content("x"), Done()])
    chat = await client.post(CHAT_PATH, json={"model": "sora-2", "stream": False, "messages": []})
    assert chat.status_code == 200
    limit, used = await balance()
    assert (limit, used) == (1.2, 100.0) and limit - used / 100 == pytest.approx(0.2)
    broke = await client.post("/v1/videos", data={"model": "sora-2", "prompt": "x"})
    assert broke.status_code == 403
    assert broke.json()["error"]["code"] == "insufficient_user_quota"
    assert "用户额度不足" in broke.json()["error"]["message"]
    assert len(relay.creates()) == 3 and relay.creates("chat")[0].json()["model"] == "sora-2"


async def test_no_balance_routes_and_the_unlimited_key(relay, client):
    assert relay.balance == UNLIMITED_BALANCE
    sub = (await client.get("/v1/dashboard/billing/subscription")).json()
    assert sub["hard_limit_usd"] == 100000000
    relay.balance = None
    assert (await client.get("/v1/dashboard/billing/subscription")).status_code == 404
    assert (await client.get("/v1/dashboard/billing/usage")).status_code == 404
    await unified(client)  # no balance to check: the create still works
    assert relay.spent == relay.price_per_video


# ---------------------------------------------------------------------------------- characters


async def test_characters(relay, client):
    made = await client.post(
        "/sora/v1/characters", json={"url": "https://example.com/me.mp4", "timestamps": "1,3"}
    )
    body = made.json()
    assert re.fullmatch(r"ch_[0-9a-f]+", body["id"]) and body["username"]
    finished = await unified(client)
    from_task = await client.post("/sora/v1/characters", json={"from_task": finished})
    assert from_task.status_code == 200 and from_task.json()["id"] != body["id"]
    assert [c["request"] for c in relay.characters] == [
        {"url": "https://example.com/me.mp4", "timestamps": "1,3"},
        {"from_task": finished},
    ]
    too_long = await client.post("/sora/v1/characters", json={"url": "u", "timestamps": "1,9"})
    assert too_long.status_code == 400
    unknown = await client.post("/sora/v1/characters", json={"from_task": "nope"})
    assert unknown.status_code == 400
    relay.characters_enabled = False
    off = await client.post("/sora/v1/characters", json={"url": "u", "timestamps": "1,3"})
    assert off.status_code == 404


# --------------------------------------------------------------------------------- prompt help


def chat_text(raw: str) -> str:
    out = []
    for frame in raw.split("\n\n"):
        payload = frame.removeprefix("data: ")
        if frame.startswith("data: ") and payload != "[DONE]":
            out.append(json.loads(payload)["choices"][0]["delta"].get("content") or "")
    return "".join(out)


async def test_prompt_help_in_english_streamed(relay, client):
    relay.push([Content("kept for the video"), Done()])  # prompt help must not take it
    body = {
        "model": "gpt-4o-mini",
        "stream": True,
        "messages": [
            {"role": "system", "content": "improve"},
            {"role": "user", "content": "A cat on a windowsill."},
        ],
    }
    async with client.stream("POST", CHAT_PATH, json=body) as resp:
        assert resp.headers["content-type"] == "text/event-stream"
        raw = (await resp.aread()).decode()
    text = chat_text(raw)
    assert raw.rstrip().endswith("data: [DONE]")
    assert text.startswith("A cat on a windowsill. ")
    for word in ("lens", "light", "motion", "sound"):
        assert word in text
    assert not re.search(r"[\u4e00-\u9fff]", text)
    assert relay.spent == 0 and relay.creates() == []
    video = await client.post(CHAT_PATH, json={"model": "sora-2", "messages": []})
    assert chat_text(video.text) == "kept for the video"


async def test_prompt_help_in_chinese_not_streamed(relay, client):
    body = {"model": "gpt-4o", "stream": False, "messages": [{"role": "user", "content": "一只猫"}]}
    resp = await client.post(CHAT_PATH, json=body)
    data = resp.json()
    assert data["object"] == "chat.completion" and data["model"] == "gpt-4o"
    text = data["choices"][0]["message"]["content"]
    assert text.startswith("一只猫。")
    for word in ("镜头", "光", "动作", "声音"):
        assert word in text
    assert data["choices"][0]["finish_reason"] == "stop"


# ------------------------------------------------------------------------------------- pricing


async def test_pricing_in_new_apis_shape(relay):
    relay.models = ["sora-2", "gpt-4o-mini"]
    async with httpx.AsyncClient(base_url=relay.base_url) as bare:  # no key needed
        body = (await bare.get("/api/pricing")).json()
        relay.pricing_enabled = False
        off = await bare.get("/api/pricing")
    assert body["success"] is True and body["group_ratio"] == {"default": 1}
    by_name = {row["model_name"]: row for row in body["data"]}
    assert set(by_name) == {"sora-2", "gpt-4o-mini"}
    video = by_name["sora-2"]
    assert (video["quota_type"], video["model_price"]) == (1, relay.price_per_video)
    assert video["supported_endpoint_types"] == ["openai-video"]
    assert by_name["gpt-4o-mini"]["quota_type"] == 0
    assert body["supported_endpoint"]["openai-video"]["path"] == "/v1/video/generations"
    assert off.status_code == 404
