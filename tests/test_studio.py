"""The app's verbs in-process: every path that spends the operator's key is checked the same
way (Generate, Again, a change), and a key the relay echoes is hidden wherever it would land."""

from __future__ import annotations

import asyncio

import pytest

from suxi.errors import InputError
from suxi.kinds import Kind, State
from suxi.runtime import Runtime
from suxi.simrelay import error_reply
from suxi.studio import Form, Studio, Who

from .conftest import KEY

VISITOR = Who("visitor-token-0000000001", "198.51.100.7")
OWN = Who(VISITOR.owner, VISITOR.address, api_key="sk-visitor-own-key-0001")


@pytest.fixture
async def studio(settings):
    rt = await Runtime(
        settings.with_(shared=True, visitor_keys=True, allowed_models=("sora-2",))
    ).start()
    yield Studio(rt)
    await rt.close()


async def ended(studio: Studio, job_id: str):
    async def run():
        async for job in studio.jobs.follow(job_id):
            last = job
        return last

    return await asyncio.wait_for(run(), 20)


async def test_again_on_the_operators_key_checks_the_model_and_the_reply_length(studio, relay):
    # Made with the visitor's own key, where any model and any length is theirs to choose…
    first = await studio.start(
        Form("Explain transformers", model="gpt-4o", max_tokens=100_000), OWN
    )
    await ended(studio, first.jobs[0].id)
    # …"Again" without the key would spend the operator's: refused before anything is sent.
    posts = len(relay.posts())
    with pytest.raises(InputError) as err:
        await studio.again(first.jobs[0].id, VISITOR)
    assert err.value.kind in (Kind.BAD_MAX_TOKENS, Kind.MODEL_NOT_ALLOWED)
    assert len(relay.posts()) == posts
    made = await studio.start(Form("a kite", model="sora-2", max_tokens=1000), VISITOR)
    again = await studio.again(made.jobs[0].id, VISITOR)  # an allowed one goes through
    assert again.options.model == "sora-2"


async def test_a_key_the_relay_echoes_is_hidden_in_the_job_the_store_and_the_card(studio, relay):
    from suxi.cards import card

    relay.push(error_reply(401, {"error": {"message": f"Incorrect API key provided: {KEY}"}}))
    started = await studio.start(Form("a key echo", model="sora-2"), VISITOR)
    job = await ended(studio, started.jobs[0].id)
    assert job.state == State.FAILED and job.error_kind == Kind.AUTH
    assert KEY not in job.relay_text and "[key hidden]" in job.relay_text
    assert KEY not in str(card(job, "en"))
    stored = (studio.settings.data_dir / "jobs.sqlite3").read_bytes()
    wal = studio.settings.data_dir / "jobs.sqlite3-wal"
    assert KEY.encode() not in stored + (wal.read_bytes() if wal.exists() else b"")


async def test_a_key_echoed_inside_the_stream_is_hidden_too(studio, relay):
    from suxi.simrelay import Content, Done, Finish

    relay.push([Content(f"> ❌ 生成失败：令牌 {OWN.api_key} 无效\n\n"), Finish("stop"), Done()])
    started = await studio.start(Form("a stream echo", model="sora-2"), OWN)
    job = await ended(studio, started.jobs[0].id)
    assert job.state == State.FAILED
    assert OWN.api_key not in job.relay_text + "".join(job.lines) + job.answer


async def test_deleting_a_job_keeps_a_picture_another_job_still_uses(studio, relay, tmp_path):
    from PIL import Image

    picture = tmp_path / "red.png"
    Image.new("RGB", (64, 64), (200, 0, 0)).save(picture)
    first = await studio.start(
        Form("a red square", model="sora-2", image_file=str(picture)), VISITOR
    )
    await ended(studio, first.jobs[0].id)
    second = await studio.again(first.jobs[0].id, VISITOR)
    await ended(studio, second.id)
    kept = studio.settings.data_dir / first.jobs[0].image_ref
    assert studio.delete(first.jobs[0].id, VISITOR) and kept.is_file()  # the second needs it
    third = await studio.again(second.id, VISITOR)
    assert third.image == "file"
    for job in (second, third):
        await ended(studio, job.id)
        studio.delete(job.id, VISITOR)
    assert not kept.exists()  # the last one gone: the picture too


async def test_again_without_the_picture_it_had_is_refused(studio, relay, tmp_path):
    from PIL import Image

    picture = tmp_path / "blue.png"
    Image.new("RGB", (64, 64), (0, 0, 200)).save(picture)
    first = await studio.start(
        Form("a blue square", model="sora-2", image_file=str(picture)), VISITOR
    )
    await ended(studio, first.jobs[0].id)
    (studio.settings.data_dir / first.jobs[0].image_ref).unlink()
    with pytest.raises(InputError) as err:
        await studio.again(first.jobs[0].id, VISITOR)
    assert err.value.kind == Kind.PICTURE_GONE
