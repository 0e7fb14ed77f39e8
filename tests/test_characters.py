"""Characters: made on the simulated relay from a finished video or a clip link, kept per
visitor, mentioned as @handle — and refused (with a sentence) when the span, the link, the
model or the relay cannot make one."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from suxi import characters
from suxi.characters import Refused, check_clip_link, check_span, insert_handle, read_reply
from suxi.errors import BadReplyError, InputError
from suxi.job import Job
from suxi.kinds import Kind, State
from suxi.relay.http import RelayHTTP
from suxi.runtime import Runtime
from suxi.settings import Settings
from suxi.studio import Form, Studio, Who

from .conftest import KEY

WHO = Who("visitor-token-0000000001", "203.0.113.7")
OTHER = Who("visitor-token-0000000002", "198.51.100.9")
CLIP = "https://videos.example.com/clips/kite.mp4"


async def studio_for(settings: Settings) -> Studio:
    runtime = Runtime(settings)
    await runtime.start()
    return Studio(runtime)


async def finished_video(studio: Studio, who: Who = WHO, model: str = "sora-2") -> Job:
    job = (await studio.start(Form(prompt="a fox in the snow", model=model), who)).jobs[0]

    async def run():
        async for snap in studio.jobs.follow(job.id):
            last = snap
        return last

    last = await asyncio.wait_for(run(), 20)
    assert last.state == State.DONE
    return last


def character_posts(relay) -> list:
    return [r for r in relay.requests if r.path == characters.CHARACTERS_PATH]


# — checks before anything is sent —


@pytest.mark.parametrize(
    ("raw", "span"),
    [("1,3", "1,3"), ("1-3", "1,3"), (" 1.5 , 3.5 ", "1.5,3.5"), ("2s，4s", "2,4"), ("0,1", "0,1")],
)
def test_spans_the_relay_takes(raw, span):
    assert check_span(raw) == span


@pytest.mark.parametrize(
    "raw", ["1,5", "3,1", "1,1.5", "1,1", "abc", "", None, 13, "-1,1", "9999,10001"]
)
def test_spans_refused(raw):
    with pytest.raises(Refused) as caught:
        check_span(raw)
    assert caught.value.text_key == "char_bad_span" and caught.value.kind == Kind.BAD_OPTION
    assert "1 to 3 seconds apart" in caught.value.message("en")


@pytest.mark.parametrize(
    "link",
    [
        "http://videos.example.com/kite.mp4",
        "https://localhost/kite.mp4",
        "https://127.0.0.1/kite.mp4",
        "https://169.254.169.254/latest/meta-data",
        "https://user:pass@videos.example.com/kite.mp4",
        "https://videos.example.com/" + "k" * 2100,
        "https://videos.example.com/a kite.mp4",
        "file:///etc/passwd",
        "",
        None,
    ],
)
def test_clip_links_the_relay_must_not_fetch(link):
    with pytest.raises(Refused) as caught:
        check_clip_link(link)
    assert caught.value.text_key == "char_bad_link" and caught.value.kind == Kind.IMAGE_URL


def test_a_public_https_clip_link_passes():
    assert check_clip_link(f"  {CLIP} ") == CLIP


def test_only_families_with_characters():
    assert characters.supports_characters("sora-2") and characters.supports_characters("sora-2-pro")
    assert not characters.supports_characters("veo3.1-fast")
    with pytest.raises(Refused) as caught:
        characters.check_model("veo3.1-fast")
    assert caught.value.message("en").startswith("veo3.1-fast does not take characters")


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ({"id": "ch_1", "username": "cameo.ab12"}, ("ch_1", "cameo.ab12")),
        ({"data": {"character_id": "ch_2", "handle": "@fox_01"}}, ("ch_2", "fox_01")),
    ],
)
def test_reply_shapes(reply, expected):
    assert read_reply(reply) == expected


@pytest.mark.parametrize(
    "reply",
    [{"id": "ch_1"}, {"username": "fox"}, {"id": "ch_1", "username": "two words"}, "ok", None],
)
def test_replies_without_an_id_and_a_handle_are_bad(reply):
    with pytest.raises(BadReplyError):
        read_reply(reply)


def test_a_handle_is_mentioned_once():
    assert insert_handle("A fox runs", "cameo.ab12") == "A fox runs @cameo.ab12"
    assert insert_handle("A fox runs @cameo.ab12", "@cameo.ab12") == "A fox runs @cameo.ab12"
    assert insert_handle("Look, @cameo.ab12.", "cameo.ab12") == "Look, @cameo.ab12."
    assert insert_handle("With @cameo.ab123", "cameo.ab12") == "With @cameo.ab123 @cameo.ab12"
    assert insert_handle("", "fox") == "@fox"


# — against the simulated relay —


async def test_a_character_from_a_finished_video(settings, relay):
    studio = await studio_for(settings.with_(shared=True))
    try:
        video = await finished_video(studio)
        made = await studio.assist.make_character(WHO, job_id=video.id)
        assert [c.id for c in studio.assist.characters_of(WHO)] == [made.id]
        assert studio.assist.characters_of(OTHER) == []
        assert not studio.assist.delete_character(made.id, OTHER)
        public = made.public()
        assert public["mention"] == f"@{made.handle}" and "owner" not in public
        assert (
            studio.assist.delete_character(made.id, WHO) and studio.assist.characters_of(WHO) == []
        )
    finally:
        await studio.runtime.close()
    [post] = character_posts(relay)
    assert post.json() == {"from_task": video.task_id}
    assert post.headers["authorization"] == f"Bearer {KEY}"
    [kept] = relay.characters
    assert (made.character_id, made.handle) == (kept["id"], kept["username"])
    assert made.source == f"task:{video.id}" and made.model == "sora-2"


async def test_a_character_from_a_clip_link(settings, relay):
    studio = await studio_for(settings)
    try:
        made = await studio.assist.make_character(
            WHO, url=CLIP, timestamps="1-3", model="sora-2-pro"
        )
        assert studio.assist.characters_of(WHO)[0].handle == made.handle
    finally:
        await studio.runtime.close()
    assert character_posts(relay)[0].json() == {"url": CLIP, "timestamps": "1,3"}
    assert made.model == "sora-2-pro" and made.source == CLIP


async def test_a_relay_without_the_route_gives_a_note_and_keeps_nothing(settings, relay):
    relay.characters_enabled = False
    studio = await studio_for(settings)
    try:
        with pytest.raises(Refused) as caught:
            await studio.assist.make_character(WHO, url=CLIP, timestamps="1,3")
        assert studio.assist.characters_of(WHO) == []
    finally:
        await studio.runtime.close()
    assert caught.value.text_key == "char_not_offered"
    assert caught.value.message("zh").startswith("这个中转站不支持创建角色")


async def test_refusals_send_nothing(settings, relay):
    studio = await studio_for(settings)
    try:
        veo = await finished_video(studio, model="veo3.1-fast")
        cases = [
            ({"url": CLIP, "timestamps": "1,3", "model": "veo3.1-fast"}, "char_no_family"),
            ({"job_id": veo.id}, "char_no_family"),
            ({"job_id": "no-such-job"}, "char_no_task"),
            ({"url": CLIP, "timestamps": "1,9"}, "char_bad_span"),
            ({"url": "https://10.0.0.1/clip.mp4", "timestamps": "1,3"}, "char_bad_link"),
        ]
        for fields, key in cases:
            with pytest.raises(Refused) as caught:
                await studio.assist.make_character(WHO, **fields)
            assert caught.value.text_key == key, fields
        with pytest.raises(InputError) as caught:
            await studio.assist.make_character(WHO, url=CLIP, timestamps="1,3", model="sora-2 <b>")
        assert caught.value.kind == Kind.BAD_MODEL
    finally:
        await studio.runtime.close()
    assert character_posts(relay) == []


async def test_a_running_video_is_not_a_source(settings, relay):
    studio = await studio_for(settings)
    try:
        job = (await studio.start(Form(prompt="a fox"), WHO)).jobs[0]
        with pytest.raises(Refused) as caught:
            await studio.assist.make_character(WHO, job_id=job.id)
        assert caught.value.text_key == "char_no_task"
    finally:
        await studio.runtime.close()


async def test_visitors_of_a_shared_site_are_limited_on_the_operators_key(settings, relay):
    studio = await studio_for(settings.with_(shared=True, visitor_max_per_hour=1))
    try:
        await studio.assist.make_character(WHO, url=CLIP, timestamps="1,3")
        with pytest.raises(InputError) as caught:
            await studio.assist.make_character(WHO, url=CLIP, timestamps="1,3")
        assert caught.value.kind == Kind.VISITOR_HOURLY
        own = Who(WHO.owner, WHO.address, api_key="sk-visitor-own-0001")
        await studio.assist.make_character(own, url=CLIP, timestamps="1,3")
    finally:
        await studio.runtime.close()
    assert len(character_posts(relay)) == 2


async def test_an_odd_reply_keeps_nothing(settings):
    odd = httpx.MockTransport(lambda request: httpx.Response(200, json={"ok": True}))
    http = RelayHTTP(settings, transport=odd)
    try:
        with pytest.raises(BadReplyError):
            await characters.request_character(http, KEY, url=CLIP, timestamps="1,3")
    finally:
        await http.aclose()
