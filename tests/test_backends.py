"""Each backend against a real simulated relay on loopback (create → poll → VideoReady, and
resuming a task by its id), the pipeline's route fallback, and which routes a job tries."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from suxi.errors import (
    BadRequestError,
    FormatRefusedError,
    InputError,
    NoTaskIdError,
    NotFoundError,
    QuotaError,
)
from suxi.events import (
    Answer,
    Event,
    Failed,
    Generating,
    Progress,
    Queued,
    TaskInfo,
    Understood,
    VideoReady,
)
from suxi.generation import GenerationOptions, GenerationRequest, StartImage
from suxi.kinds import Kind
from suxi.pipeline import make_video
from suxi.relay import Backends, RelayHTTP, routes_for
from suxi.relay.fetch import Download
from suxi.settings import Settings
from suxi.simrelay import Frame, TaskPlan, error_reply

from .conftest import KEY

SAMPLE = Path(__file__).parent.parent / "assets" / "sample.mp4"
TASK_ROUTES = ("unified", "generations", "openai")
CREATE_PATHS = {
    "unified": "/v1/video/create",
    "generations": "/v1/video/generations",
    "openai": "/v1/videos",
}


@pytest.fixture
async def backends(settings: Settings):
    built = Backends(RelayHTTP(settings))
    yield built
    await built.aclose()


def request(prompt: str = "a red kite", model: str = "veo3.1-fast", **kw) -> GenerationRequest:
    image = kw.pop("image", None)
    return GenerationRequest(
        prompt=prompt,
        options=GenerationOptions(model=model, **kw),
        image=image,
        messages=({"role": "user", "content": prompt},),
    )


def deadline(seconds: float = 10.0) -> float:
    return time.time() + seconds


async def run(backends: Backends, route: str, req: GenerationRequest, **kw) -> list[Event]:
    return [e async for e in backends.get(route).run(req, KEY, deadline=deadline(), **kw)]


class MemorySink:
    """A sink that keeps what it is told, for the pipeline tests."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.events: list[tuple[str, Event]] = []
        self.kept: tuple[Download, Path | None] | None = None

    async def on_event(self, event: Event, route: str) -> None:
        self.events.append((route, event))

    def video_path(self) -> Path:
        return self.folder / "video.mp4"

    def thumbnail_path(self) -> Path:
        return self.folder / "thumbnail"

    async def on_video(self, video: Download, thumbnail: Path | None) -> None:
        self.kept = (video, thumbnail)


# ---------------------------------------------------------------------------------- the chat


async def test_chat_backend_streams_the_demo_to_a_video(backends, relay):
    events = await run(backends, "chat", request("a chat video", "sora-2"))
    kinds = [type(e) for e in events]
    assert Queued in kinds and Generating in kinds and Progress in kinds
    assert kinds.index(Queued) < kinds.index(Generating) < kinds.index(VideoReady)
    info = [e for e in events if isinstance(e, TaskInfo)]
    assert info and info[0].task_id and info[-1].sid
    video = next(e for e in events if isinstance(e, VideoReady))
    assert video.url == f"{relay.base_url}/files/sample.mp4" and not video.needs_key
    assert isinstance(events[-1], Answer) and "sid:" in events[-1].text
    assert len(relay.posts()) == 1
    assert relay.posts()[0].json()["messages"] == [{"role": "user", "content": "a chat video"}]


async def test_chat_cannot_be_resumed(backends, relay):
    with pytest.raises(ValueError):
        await run(backends, "chat", request(model="sora-2"), task_id="task_abc")
    assert not relay.requests


# ---------------------------------------------------------------------------- the task routes


@pytest.mark.parametrize("route", TASK_ROUTES)
async def test_a_task_backend_creates_once_then_polls_to_a_video(backends, relay, route):
    relay.push_task(
        TaskPlan(
            (
                Frame(0, "queued", position=2),
                Frame(20, "running", 30),
                Frame(40, "running", 70),
                Frame(60, "done", 100),
            )
        )
    )
    started = time.monotonic()
    events = await run(backends, route, request())
    assert isinstance(events[0], TaskInfo) and events[0].task_id
    task_id = events[0].task_id
    assert [r.path for r in relay.creates()] == [CREATE_PATHS[route]]
    assert relay.made() == [task_id]
    polls = relay.polls(task_id)
    assert polls and polls[0].time > started
    kinds = [type(e) for e in events]
    assert Queued in kinds and Generating in kinds and Understood in kinds
    # A queued task's progress (0) is no progress: it stays queued until it runs.
    assert kinds.index(Queued) < kinds.index(Generating) < kinds.index(Progress)
    percents = [e.percent for e in events if isinstance(e, Progress)]
    assert 30 in percents and 70 in percents and percents == sorted(percents)
    video = events[-1]
    assert isinstance(video, VideoReady)
    if route == "openai":
        assert video.needs_key and video.url.endswith(f"/v1/videos/{task_id}/content")
    else:
        assert video.url == f"{relay.base_url}/files/sample.mp4" and not video.needs_key
    assert all(r.headers["authorization"] == f"Bearer {KEY}" for r in polls)


async def test_the_generations_envelope_reads_the_same(backends, relay):
    relay.generations_shape = "envelope"
    relay.push_task(TaskPlan((Frame(0, "running", 40), Frame(30, "done", 100))))
    events = await run(backends, "generations", request("envelope", "kling-v2-1-master"))
    assert 40 in [e.percent for e in events if isinstance(e, Progress)]
    assert isinstance(events[-1], VideoReady) and len(relay.creates()) == 1


@pytest.mark.parametrize("route", TASK_ROUTES)
async def test_resuming_by_task_id_sends_no_create(backends, relay, route):
    relay.push_task(TaskPlan((Frame(0, "running", 10), Frame(40, "done", 100))))
    first = backends.get(route)
    created = await first.create(request(), KEY)
    task_id = created.get("task_id") or created["id"]
    assert len(relay.creates()) == 1
    events = await run(backends, route, request(), task_id=task_id, first_delay=0)
    assert not any(isinstance(e, TaskInfo) for e in events)  # the id is already known
    assert isinstance(events[-1], VideoReady)
    assert len(relay.creates()) == 1 and relay.polls(task_id)


@pytest.mark.parametrize("task_id", ["../admin", "a b", "", "x" * 201, "task?id=1"])
async def test_a_task_id_that_cannot_go_into_a_path_is_never_sent(backends, relay, task_id):
    with pytest.raises(NoTaskIdError):
        await run(backends, "unified", request(), task_id=task_id)
    assert not relay.requests


@pytest.mark.parametrize("route", TASK_ROUTES)
async def test_a_create_answer_without_a_task_id_is_not_resent(backends, relay, route):
    relay.push_create(error_reply(200, {"status": "queued"}))
    with pytest.raises(NoTaskIdError) as err:
        await run(backends, route, request())
    assert err.value.kind == Kind.NO_TASK_ID and err.value.may_have_charged
    assert len(relay.creates()) == 1 and not relay.made()


async def test_a_task_the_relay_says_failed_ends_with_its_reason(backends, relay):
    relay.push_task(TaskPlan((Frame(0, "queued"), Frame(20, "failed", reason="余额不足"))))
    events = await run(backends, "openai", request())
    assert events[-1] == Failed("余额不足", Kind.RELAY)


async def test_a_refused_picture_upload_asks_for_a_link(backends, relay):
    relay.push_create(
        error_reply(400, {"error": {"message": "images must be URLs, base64 is not supported"}})
    )
    picture = StartImage(data_url="data:image/png;base64,iVBORw0KGgo=")
    with pytest.raises(InputError) as err:
        await run(backends, "unified", request(image=picture))
    assert err.value.kind == Kind.IMAGE_NEEDS_LINK and "base64" in err.value.relay_text
    relay.push_create(error_reply(400, {"error": {"message": "prompt too long"}}))
    with pytest.raises(BadRequestError):  # not about the picture: the relay's refusal as it is
        await run(backends, "unified", request(image=picture))


async def test_openai_remix_creates_from_the_finished_video(backends, relay):
    events = await run(backends, "openai", request("first", "sora-2"))
    source = events[0].task_id
    remix = GenerationRequest("make it rain", GenerationOptions("sora-2"), remix_of=source)
    again = await run(backends, "openai", remix)
    assert isinstance(again[-1], VideoReady)
    assert [r.path for r in relay.creates()] == ["/v1/videos", f"/v1/videos/{source}/remix"]


# ------------------------------------------------------------------------------ the pipeline


async def test_make_video_falls_back_to_the_route_the_relay_serves(backends, relay, tmp_path):
    relay.formats = {"openai"}
    sink = MemorySink(tmp_path)
    attempt = await make_video(
        backends, request(), KEY, sink, routes=list(TASK_ROUTES), deadline=deadline()
    )
    assert attempt.route == "openai" and attempt.video is not None
    assert [r.path for r in relay.creates()] == list(CREATE_PATHS.values())
    assert len(relay.made()) == 1
    assert {route for route, _ in sink.events} == {"openai"}  # refused routes said nothing
    assert sink.kept is not None
    video, thumbnail = sink.kept
    assert video.path.read_bytes() == SAMPLE.read_bytes() and thumbnail is not None


async def test_make_video_when_every_route_is_refused(backends, relay, tmp_path):
    relay.formats = {"chat"}
    with pytest.raises(FormatRefusedError) as err:
        await make_video(
            backends,
            request(model="kling-v2-1"),
            KEY,
            MemorySink(tmp_path),
            routes=list(TASK_ROUTES),
            deadline=deadline(),
        )
    assert err.value.kind == Kind.FORMAT_REFUSED
    assert err.value.values == {"model": "kling-v2-1", "formats": "unified, generations, openai"}
    assert "Invalid URL" in err.value.relay_text
    assert len(relay.creates()) == 3 and not relay.made()


async def test_make_video_with_one_refused_route_raises_its_refusal(backends, relay, tmp_path):
    relay.formats = {"chat"}
    with pytest.raises(NotFoundError) as err:
        await make_video(
            backends, request(), KEY, MemorySink(tmp_path), routes=["openai"], deadline=deadline()
        )
    assert type(err.value) is NotFoundError and err.value.status == 404


async def test_make_video_never_moves_on_after_another_refusal(backends, relay, tmp_path):
    relay.push_create(error_reply(403, {"error": {"message": "用户额度不足"}}))
    with pytest.raises(QuotaError):
        await make_video(
            backends,
            request(),
            KEY,
            MemorySink(tmp_path),
            routes=list(TASK_ROUTES),
            deadline=deadline(),
        )
    assert len(relay.creates()) == 1


async def test_make_video_resumes_a_task_without_a_create(backends, relay, tmp_path):
    relay.push_task(TaskPlan((Frame(0, "running", 50), Frame(30, "done", 100))))
    task_id = (await backends.get("unified").create(request(), KEY))["id"]
    sink = MemorySink(tmp_path)
    attempt = await make_video(
        backends,
        request(),
        KEY,
        sink,
        routes=["unified"],
        deadline=deadline(),
        task_id=task_id,
    )
    assert attempt.route == "unified" and sink.kept is not None
    assert len(relay.creates()) == 1


async def test_make_video_sends_a_linked_picture_as_a_file_part_to_openai(
    backends, relay, tmp_path
):
    picture = StartImage(link=f"{relay.base_url}/files/thumb.webp")
    sink = MemorySink(tmp_path)
    await make_video(
        backends,
        request(image=picture),
        KEY,
        sink,
        routes=["openai"],
        deadline=deadline(),
    )
    create = relay.creates()[0]
    assert "input_reference" in create.files
    _name, ctype, data = create.files["input_reference"]
    assert ctype.startswith("image/") and len(data) > 100
    assert sink.kept is not None


async def test_make_video_holds_the_stream_slot_only_for_chat(backends, relay, tmp_path):
    from contextlib import asynccontextmanager

    held: list[str] = []

    @asynccontextmanager
    async def slot():
        held.append("in")
        yield
        held.append("out")

    await make_video(
        backends,
        request(model="veo3.1-fast"),
        KEY,
        MemorySink(tmp_path / "task"),
        routes=["unified"],
        deadline=deadline(),
        stream_slot=slot,
    )
    assert held == []
    await make_video(
        backends,
        request(model="sora-2"),
        KEY,
        MemorySink(tmp_path / "chat"),
        routes=["chat"],
        deadline=deadline(),
        stream_slot=slot,
    )
    assert held == ["in", "out"]


# ---------------------------------------------------------------------------- routes_for


@pytest.mark.parametrize(
    ("model", "fmt", "remembered", "routes"),
    [
        ("sora-2", "chat", None, ["chat"]),
        ("veo3.1-fast", "chat", None, ["chat"]),
        ("sora-2", "unified", None, ["unified", "generations"]),
        ("veo3.1-fast", "unified", "generations", ["generations", "unified"]),
        ("veo3.1-fast", "unified", "openai", ["unified", "generations"]),
        ("sora-2", "openai", None, ["openai"]),
        ("sora-2", "openai", "unified", ["openai"]),
        ("sora-2", "auto", None, ["chat"]),
        ("sora-2-pro", "auto", "openai", ["chat"]),
        ("veo3.1-fast", "auto", None, ["unified", "generations", "openai"]),
        ("veo3.1-fast", "auto", "openai", ["openai", "unified", "generations"]),
        ("veo3.1-fast", "auto", "generations", ["generations", "unified", "openai"]),
        ("veo3.1-fast", "auto", "chat", ["unified", "generations", "openai"]),
        ("kling-v2-1-master", "auto", "bogus", ["unified", "generations", "openai"]),
        ("my-custom-video", "auto", "openai", ["openai", "unified", "generations"]),
    ],
)
def test_routes_for(model, fmt, remembered, routes):
    assert routes_for(GenerationOptions(model=model, format=fmt), remembered) == routes


def test_routes_for_never_lists_a_route_twice():
    for fmt in ("auto", "chat", "unified", "openai"):
        for remembered in (None, *TASK_ROUTES, "chat"):
            routes = routes_for(GenerationOptions(model="grok-video-3", format=fmt), remembered)
            assert len(routes) == len(set(routes)) and routes
