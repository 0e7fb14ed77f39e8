"""Storyboards: shots to the relay's layout and back (after edits), the sentences that say what to
fix, the model's longest video as the limit, and a composed storyboard reaching the relay."""

from __future__ import annotations

import asyncio

import pytest

from suxi import storyboard
from suxi.kinds import State
from suxi.runtime import Runtime
from suxi.storyboard import Issue, Shot, check, compose, parse
from suxi.studio import Form, Studio, Who

TWO = [Shot(5, "A red kite rises over a green hill"), Shot(2.5, "The string snaps")]


def keys(issues: list[Issue]) -> list[str]:
    return [i.key for i in issues]


def test_compose_writes_the_relays_layout():
    assert compose(TWO) == (
        "Shot 1:\nduration: 5sec\nScene: A red kite rises over a green hill\n\n"
        "Shot 2:\nduration: 2.5sec\nScene: The string snaps"
    )


def test_a_scene_stays_on_its_line():
    text = compose([Shot(3, "a kite\n\nShot 9: in the\x00 wind  ")])
    assert text == "Shot 1:\nduration: 3sec\nScene: a kite Shot 9: in the wind"


def test_parse_reads_back_what_compose_wrote():
    assert parse(compose(TWO)) == TWO


@pytest.mark.parametrize(
    "edited",
    [
        "shot 1：\nDuration: 5 s\nscene:   A red kite rises over a green hill\n\n\n"
        "SHOT 2.\nduration:2.5 seconds\nScene: The string\nsnaps",
        "**Shot 1:**\n**Duration:** 5sec\n**Scene:** A red kite rises over a green hill\n"
        "**Shot 2:**\nduration: 2.5sec\nThe string snaps",
        "Shot 1: duration: 5 Scene: A red kite rises over a green hill\n"
        "Shot 2: duration: 2.5sec Scene: The string snaps",
        "Some words before the shots.\n\nShot 1:\nduration: 5sec\n"
        "Scene: A red kite rises over a green hill\nShot 2:\n"
        "Scene: The string snaps\nduration: 2.5 sec",
    ],
)
def test_parse_tolerates_edits(edited):
    assert parse(edited) == TWO


def test_parse_reads_chinese_headers():
    text = "镜头1：\n时长：5秒\n场景：风筝升起\n\n镜头 2：\n时长：3秒\n画面：线断了"
    assert parse(text) == [Shot(5, "风筝升起"), Shot(3, "线断了")]


def test_text_without_shots_is_no_storyboard():
    assert parse("A red kite over a green hill, 5 seconds.") == []
    assert not storyboard.looks_like_storyboard("A red kite over a green hill")
    assert storyboard.looks_like_storyboard(compose(TWO))


def test_a_shot_without_a_readable_length_gets_zero_and_is_flagged():
    shots = parse("Shot 1:\nduration: soon\nScene: a kite")
    assert shots == [Shot(0, "a kite")]
    assert keys(check(shots, "sora-2")) == ["sb_no_length"]


def test_a_good_storyboard_has_no_issues():
    assert check(TWO, "sora-2") == []


@pytest.mark.parametrize(
    ("shots", "model", "expected"),
    [
        ([], "sora-2", ["sb_empty"]),
        ([Shot(5, "  ")], "sora-2", ["sb_no_scene"]),
        ([Shot(0, "a"), Shot(-2, "b")], "sora-2", ["sb_no_length", "sb_no_length"]),
        ([Shot(float("nan"), "a")], "sora-2", ["sb_no_length"]),
        ([Shot(1000, "a")], "my-own-video-model", ["sb_shot_too_long"]),  # absurd anywhere
        ([Shot(20, "a")], "sora-2", ["sb_shot_too_long", "sb_total_too_long"]),
        ([Shot(10, "a"), Shot(10, "b")], "sora-2", ["sb_total_too_long"]),
        ([Shot(10, "a"), Shot(10, "b")], "sora-2-pro", []),  # 25 s
        ([Shot(5, "a"), Shot(5, "b")], "veo3.1-fast", ["sb_total_too_long"]),  # 8 s
        ([Shot(30, "a"), Shot(30, "b")], "my-own-video-model", []),  # unknown: no total limit
        ([Shot(1, "a")] * 11, "my-own-video-model", ["sb_too_many"]),
    ],
)
def test_what_to_fix(shots, model, expected):
    assert keys(check(shots, model)) == expected


def test_issues_read_as_sentences_in_both_languages():
    [total] = check([Shot(10, "a"), Shot(7.5, "b")], "sora-2")
    assert total.text("en") == (
        "The shots add up to 17.5 seconds, but sora-2 makes at most 15 seconds: "
        "shorten or remove shots."
    )
    assert total.text("zh").startswith("所有镜头共 17.5 秒，但 sora-2 最多生成 15 秒")
    [scene] = check([Shot(3, "")], "sora-2")
    assert scene.text("en") == "Shot 1 has no scene: say what happens in it."


def test_the_longest_video_and_the_duration_to_ask_for():
    assert storyboard.longest("sora-2") == 15 and storyboard.longest("veo3") == 8
    assert storyboard.longest("my-own-video-model") is None
    assert storyboard.duration_for([Shot(5, "a"), Shot(7, "b")], "sora-2") == 15
    assert storyboard.duration_for([Shot(5, "a")], "sora-2") == 10
    assert storyboard.duration_for([Shot(20, "a")], "sora-2") is None
    assert storyboard.duration_for([Shot(5, "a")], "my-own-video-model") is None


def test_rows_of_a_table_become_shots():
    rows = [["5", "a kite"], [None, None], ["", "  "], ["2.5s", "wind"], [3, None], ["x", "y"]]
    assert storyboard.shots_from_rows(rows) == [
        Shot(5, "a kite"),
        Shot(2.5, "wind"),
        Shot(3, ""),
        Shot(0, "y"),
    ]
    assert storyboard.shots_from_rows(None) == []


async def test_a_composed_storyboard_reaches_the_relay_as_written(settings, relay):
    runtime = Runtime(settings)
    await runtime.start()
    try:
        studio = Studio(runtime)
        prompt = compose(TWO)
        job = (await studio.start(Form(prompt=prompt), Who("visitor-token-0000000001"))).jobs[0]

        async def run():
            async for snap in studio.jobs.follow(job.id):
                last = snap
            return last

        assert (await asyncio.wait_for(run(), 20)).state == State.DONE
    finally:
        await runtime.close()
    sent = relay.posts()[0].json()["messages"][-1]["content"]
    text = sent if isinstance(sent, str) else " ".join(p.get("text", "") for p in sent)
    assert prompt in text
