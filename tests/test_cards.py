"""What a card says: the relay's lines worded by the app, every value plain text, the buttons
that make sense for the job's state, and the outcome sentence."""

from __future__ import annotations

import re

import pytest

from suxi.cards import card, clock, outcome, panel_html, typical_seconds
from suxi.generation import GenerationOptions
from suxi.humanize import read_line, steps
from suxi.job import Applied, Job
from suxi.kinds import Kind, State

CJK = re.compile(r"[\u4e00-\u9fff]")
FAMILY_A = (
    "ID: task_01k7e5w9z5f2d91pekrqy59rwc",
    "数据预览 | 原始数据",
    "排队中",
    "生成中",
    "🏃 进度 36..44..61",
    "生成完成 ✅",
    "sid: s_68eca3f1",
    "预览",
    "在线播放▶️",
)


def job(**kw) -> Job:
    return Job(
        id="j1",
        owner="o",
        created=1_000.0,
        prompt=kw.pop("prompt", "a kite"),
        options=kw.pop("options", GenerationOptions("sora-2")),
        media_token="tok",
        **kw,
    )


def test_family_a_reads_as_a_few_steps_in_either_language():
    said = steps(FAMILY_A)
    assert [s.key for s in said] == [
        "step_queued",
        "step_generating",
        "step_progress",
        "step_done",
        "step_video_link",
    ]
    assert said[2].percent == 61
    en = card(job(state=State.DONE, lines=FAMILY_A, finished=1_045.0), "en")
    assert en["steps"][2] == "Progress 61%" and not any(CJK.search(s) for s in en["steps"])
    zh = card(job(state=State.DONE, lines=FAMILY_A, finished=1_045.0), "zh")
    assert zh["steps"][0] == "在中转站排队"


@pytest.mark.parametrize(
    ("line", "key"),
    [
        ("> ⌛️ 任务正在队列中，请耐心等待...", "step_queued"),
        ("**Video Generation Progress**: 47% (running)", "step_progress"),
        ("> ✅ 视频生成成功，点击这里 查看视频~~~", "step_done"),
        ("**Generation Process Begins**", "step_queued"),
        ("img onerror=alert(1)", ""),  # a word inside another is not a failure
        ("❌ 生成失败: 内容违规", "step_failed"),
        ("something the app does not know", ""),
    ],
)
def test_lines_are_read_by_their_words(line, key):
    assert read_line(line).key == key


def test_a_failure_keeps_the_relays_words_quoted():
    said = card(
        job(state=State.FAILED, lines=("❌ 生成失败: 内容违规",), error_kind=Kind.RELAY), "en"
    )
    assert said["steps"] == ["The relay reported a failure The relay said: “❌ 生成失败: 内容违规”"]


def test_values_are_plain_text_never_markup():
    hostile = "<img src=x onerror=alert(1)>"
    said = card(
        job(prompt=hostile, relay_text=hostile, state=State.FAILED, error_kind=Kind.RELAY), "en"
    )
    assert said["prompt"] == hostile  # the page sets it as text; nothing here builds HTML
    panel = panel_html(
        job(prompt=hostile, state=State.FAILED, error_kind=Kind.RELAY, relay_text=hostile), "en", 0
    )
    assert "<img" not in panel and "&lt;img" in panel


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        (State.GENERATING, {"stop": True, "check": False, "again": False, "delete": False}),
        (State.DONE, {"stop": False, "check": False, "again": True, "delete": True}),
        (State.FAILED, {"stop": False, "check": True, "again": True, "delete": True}),
        (State.WAITING, {"stop": True, "check": False, "again": False, "delete": False}),
    ],
)
def test_the_buttons_fit_the_state(state, expected):
    kw = {"error_kind": Kind.STALL, "finished": 1_050.0} if state == State.FAILED else {}
    if state == State.DONE:
        kw = {"file": "videos/tok/x.mp4", "finished": 1_050.0}
    actions = card(job(state=state, **kw), "en")["actions"]
    assert {k: actions[k] for k in expected} == expected


def test_what_was_asked_beside_what_was_applied():
    asked = GenerationOptions("sora-2", orientation="portrait", duration=15)
    said = card(job(options=asked, applied=Applied(orientation="landscape", duration=15)), "en")
    rows = {row[0]: row[1:] for row in said["understood"]}
    assert rows["Orientation"] == ["Landscape 16:9", "Portrait 9:16"]
    assert rows["Length"] == ["15 seconds", ""]  # the same: not repeated


def test_the_outcome_sentence_and_whose_key_failed():
    failed = job(
        state=State.FAILED, error_kind=Kind.AUTH, relay_text="无效的令牌", finished=1_010.0
    )
    assert "Check the key" in outcome(failed, "en")
    assert "site's owner must check it" in outcome(failed, "en", shared=True)
    own = failed.with_(own_key=True)
    assert "Check the key" in outcome(own, "en", shared=True)
    assert outcome(job(state=State.DONE, finished=1_065.0), "zh") == "完成，用时 1:05。"


def test_a_unified_format_video_says_why_it_cannot_be_changed():
    done = job(state=State.DONE, route="unified", file="videos/tok/x.mp4", finished=1_050.0)
    said = card(done, "en")
    assert not said["actions"]["modify"] and "cannot be changed" in said["modify_note"]
    openai = card(done.with_(route="openai", task_id="video_1"), "en")
    assert openai["actions"]["modify"] and openai["modify_note"] == ""


def test_clock_and_typical_duration():
    assert clock(65) == "1:05" and clock(3725) == "1:02:05" and clock(-3) == "0:00"
    assert typical_seconds([10, 20]) is None and typical_seconds([10, 30, 20]) == 20
