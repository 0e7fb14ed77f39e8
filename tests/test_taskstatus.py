"""Task-status replies → TaskStatus: every shape in docs/relay-protocol.md and
docs/model-families.md (unified, new-api's flat body and its envelope, OpenAI), odd values a
relay may send, and the task id in a create answer. Pure: no I/O."""

from __future__ import annotations

import math

import pytest

from suxi.relay.taskstatus import TaskStatus, read_status, task_id_in
from suxi.textsafe import loads_json

VIDEO = "https://cdn.example.com/v/abc.mp4"
THUMB = "https://cdn.example.com/v/abc.webp"


def json_status(text: str) -> TaskStatus:
    """A reply as the app reads it: through the safe JSON reader, then read_status."""
    return read_status(loads_json(text, max_bytes=1 << 20))


# — the unified format (/v1/video/query) —


def test_unified_queued_with_position_and_queue_message():
    status = read_status(
        {
            "id": "veo3.1-fast:task_01k7e5w9z5f2d91pekrqy59rwc",
            "status": "pending",
            "video_url": None,
            "detail": {
                "pending_info": {
                    "progress_pct": 0,
                    "progress_pos_in_queue": 3,
                    "queue_status_message": "Queued, position 3",
                    "failure_reason": None,
                }
            },
        }
    )
    assert status.state == "queued" and status.word == "pending"
    assert status.position == 3 and status.message == "Queued, position 3"
    assert status.video_url is None


def test_unified_running_progress_is_a_fraction():
    status = read_status(
        {"status": "processing", "detail": {"pending_info": {"progress_pct": 0.42}}}
    )
    assert (status.state, status.percent) == ("running", 42.0)
    whole = read_status({"status": "processing", "detail": {"pending_info": {"progress_pct": 1}}})
    assert whole.percent == 100.0  # 1 in a fraction field is all of it, not 1 %


def test_unified_completed_with_links_and_what_was_applied():
    status = read_status(
        {
            "status": "completed",
            "video_url": VIDEO,
            "thumbnail_url": THUMB,
            "enhanced_prompt": "a red kite over a green hill, golden hour",
            "width": 1280,
            "height": 720,
            "seconds": 8,
            "detail": {"pending_info": {"progress_pct": 1.0}, "gif_url": None},
        }
    )
    assert status.state == "done"
    assert (status.video_url, status.thumbnail_url) == (VIDEO, THUMB)
    assert status.prompt == "a red kite over a green hill, golden hour"
    assert (status.width, status.height, status.seconds) == (1280, 720, 8)


def test_unified_failed_reason_under_detail():
    status = read_status(
        {
            "status": "failed",
            "detail": {
                "pending_info": {"progress_pct": 0.3, "failure_reason": "画面包含违规内容"},
                "failure_reason": "画面包含违规内容",
            },
        }
    )
    assert status.state == "failed" and status.message == "画面包含违规内容"


def test_unified_thumbnail_from_gif_url_under_detail():
    status = read_status({"status": "completed", "video_url": VIDEO, "detail": {"gif_url": THUMB}})
    assert status.thumbnail_url == THUMB


# — new-api's dialect (/v1/video/generations/{task_id}) —


@pytest.mark.parametrize(
    ("word", "state"),
    [("queued", "queued"), ("processing", "running"), ("in_progress", "running"),
     ("succeeded", "done"), ("completed", "done"), ("failed", "failed")],
)  # fmt: skip
def test_generations_flat_body_status_words(word, state):
    assert read_status({"task_id": "abcd1234efgh", "status": word}).state == state


def test_generations_flat_body_success_as_documented():
    status = json_status(
        '{"task_id": "abcd1234efgh", "status": "succeeded", "url": "' + VIDEO + '",'
        ' "format": "mp4", "metadata": {"duration": 5, "fps": 30, "width": 1280,'
        ' "height": 720, "seed": 20231234}, "error": null, "progress": "100%"}'
    )
    assert status.state == "done" and status.video_url == VIDEO
    assert (status.width, status.height, status.seconds) == (1280, 720, 5)


def test_generations_flat_body_failure_message_from_the_error_object():
    status = read_status(
        {"status": "failed", "url": "", "error": {"code": 1, "message": "upstream said no"}}
    )
    assert status.state == "failed" and status.message == "upstream said no"


def test_generations_progress_as_a_percent_string():
    status = read_status({"status": "in_progress", "progress": "37%"})
    assert (status.state, status.percent) == ("running", 37.0)


@pytest.mark.parametrize(
    ("word", "state"),
    [("NOT_START", "queued"), ("SUBMITTED", "queued"), ("QUEUED", "queued"),
     ("IN_PROGRESS", "running"), ("SUCCESS", "done"), ("FAILURE", "failed"),
     ("UNKNOWN", "running")],
)  # fmt: skip
def test_generations_envelope_status_words_in_capitals(word, state):
    reply = {"code": "success", "message": "", "data": {"task_id": "task_x", "status": word}}
    status = read_status(reply)
    assert status.state == state and status.word == word.lower()


def test_generations_envelope_task_record_success_and_failure():
    record = {
        "id": 417,
        "created_at": 1762326617,
        "task_id": "task_5mYcU1oNzOtJb5f0d2qkQ4b3Hq8bpF2t",
        "platform": "kling",
        "status": "SUCCESS",
        "fail_reason": "",
        "result_url": VIDEO,
        "progress": "100%",
        "data": {},
    }
    done = read_status({"code": "success", "message": "", "data": record})
    assert done.state == "done" and done.video_url == VIDEO and done.message == ""
    failed = read_status(
        {
            "code": "success",
            "message": "",
            "data": {**record, "status": "FAILURE", "fail_reason": "余额不足", "result_url": ""},
        }
    )
    assert failed.state == "failed" and failed.message == "余额不足"
    running = read_status(
        {"code": "success", "message": "", "data": {**record, "status": "IN_PROGRESS",
                                                     "progress": "50%", "result_url": ""}}
    )  # fmt: skip
    assert (running.state, running.percent, running.video_url) == ("running", 50.0, None)


def test_generations_envelope_around_the_flat_body_for_veo():
    reply = {
        "code": "success",
        "message": "",
        "data": {"task_id": "t1", "status": "succeeded", "url": VIDEO, "progress": "100%"},
    }
    status = read_status(reply)
    assert status.state == "done" and status.video_url == VIDEO


# — the OpenAI format (/v1/videos/{id}) —


def test_openai_video_object_in_every_state():
    base = {"id": "video_68e7", "object": "video", "model": "sora-2", "created_at": 1762326617}
    queued = read_status({**base, "status": "queued", "progress": 0})
    assert queued.state == "queued"
    running = read_status(
        {**base, "status": "in_progress", "progress": 37, "seconds": "8", "size": "720x1280"}
    )
    assert (running.state, running.percent) == ("running", 37.0)
    assert (running.width, running.height, running.seconds) == (720, 1280, 8)
    done = read_status({**base, "status": "completed", "progress": 100})
    assert done.state == "done" and done.video_url is None  # the content endpoint has it
    failed = read_status(
        {**base, "status": "failed", "error": {"message": "moderation", "code": "x"}}
    )
    assert failed.state == "failed" and failed.message == "moderation"


def test_openai_adaptors_that_add_the_upstream_link():
    kling = read_status({"status": "completed", "metadata": {"url": VIDEO}})
    grok = read_status({"status": "completed", "video_url": VIDEO})
    assert kling.video_url == VIDEO and grok.video_url == VIDEO


# — words, fractions and percentages —


@pytest.mark.parametrize(
    "word",
    ["video_upsampling_flux", "rendering", "UNKNOWN", "starting", "", "处理中"],
)
def test_any_other_word_means_still_running(word):
    assert read_status({"status": word, "progress": 50}).state == "running"


@pytest.mark.parametrize(
    ("progress", "percent"),
    [(0.37, 37.0), (37, 37.0), (37.5, 37.5), ("37%", 37.0), (" 37 % ", 37.0), ("37", 37.0),
     ("37.5%", 37.5), (100, 100.0), ("100%", 100.0), (0, 0.0), (1, 1.0), (250, 100.0)],
)  # fmt: skip
def test_progress_in_every_scale_reads_as_a_percentage(progress, percent):
    assert read_status({"status": "in_progress", "progress": progress}).percent == percent


@pytest.mark.parametrize(
    "progress",
    [True, False, "abc", "37 percent", "1000%", -5, -0.5, [50], {"value": 50}, None, "",
     float("nan"), 10**400],
)  # fmt: skip
def test_odd_progress_values_are_no_progress(progress):
    status = read_status({"status": "in_progress", "progress": progress})
    assert status.state == "running" and status.percent is None


def test_huge_numbers_from_json_never_raise():
    # JSON allows an integer of thousands of digits; float() of it overflows.
    digits = "9" * 400
    fields = ("progress", "width", "seconds", "progress_pos_in_queue")
    status = json_status(
        '{"status": "in_progress", ' + ", ".join(f'"{f}": {digits}' for f in fields) + "}"
    )
    assert status.state == "running" and status.percent is None
    assert status.width is None and status.seconds is None and status.position is None


def test_nan_infinity_and_1e999_never_reach_the_reader():
    for text in ('{"progress": NaN}', '{"progress": Infinity}', '{"progress": 1e999}'):
        assert loads_json(text, max_bytes=100) is None
        assert read_status(loads_json(text, max_bytes=100)) == TaskStatus("running")
    infinite = read_status({"status": "in_progress", "progress": math.inf, "width": math.inf})
    assert infinite.percent == 100.0 and infinite.width is None


def test_odd_field_types_are_ignored_not_fatal():
    status = read_status(
        {
            "status": ["completed"],
            "video_url": 5,
            "width": "wide",
            "height": True,
            "seconds": 1e9,
            "enhanced_prompt": {"text": "x"},
            "detail": "not an object",
            "data": [1, 2],
            "size": 1280,
        }
    )
    assert status.state == "running" and status.word == ""
    assert status.width is None and status.height is None and status.seconds is None
    assert status.prompt is None


def test_status_word_that_is_not_text_is_no_word():
    for word in (["x"], {"a": 1}, 3, True):
        status = read_status({"status": word})
        assert status.state == "running" and status.word == ""


@pytest.mark.parametrize("reply", [None, [], "completed", 3, True, [{"status": "completed"}]])
def test_a_reply_that_is_not_an_object_counts_as_running(reply):
    assert read_status(reply) == TaskStatus("running")


def test_done_links_must_be_http_urls():
    for bad in ("javascript:alert(1)", "/relative/v.mp4", "ftp://x/v.mp4", "", "https://"):
        assert read_status({"status": "completed", "video_url": bad}).video_url is None
    listed = read_status({"status": "completed", "video_url": [VIDEO, "https://other/v.mp4"]})
    assert listed.video_url == VIDEO
    nested = read_status({"status": "completed", "output": {"video_url": {"url": VIDEO}}})
    assert nested.video_url == VIDEO


def test_failure_text_is_clean_and_capped():
    status = json_status(
        '{"status": "failed", "fail_reason": "cut \\ud83d emoji\\u0000\\u001b[31m'
        + "x" * 900
        + '"}'
    )
    assert status.state == "failed"
    assert status.message.startswith("cut \ufffd emoji[31m") and len(status.message) == 500
    status.message.encode("utf-8")  # valid UTF-8: the store and the log can write it
    odd = read_status({"status": "failed", "error": {"code": 7}})
    assert odd.message == "7"


def test_failed_without_any_reason_has_an_empty_message():
    assert read_status({"status": "failed"}).message == ""
    assert read_status({"status": "FAILURE", "fail_reason": ""}).message == ""


def test_size_gives_width_and_height_when_they_are_missing():
    status = read_status({"status": "in_progress", "resolution": "1792X1024"})
    assert (status.width, status.height) == (1792, 1024)
    assert read_status({"status": "x", "size": "hugexbig"}).width is None


# — task ids in create answers —


@pytest.mark.parametrize(
    ("answer", "task_id"),
    [
        ({"id": "veo3.1-fast:task_01k7e5w9z5", "status": "pending"}, "veo3.1-fast:task_01k7e5w9z5"),
        ({"id": "task_abc", "task_id": "task_abc", "object": "video", "status": "queued"},
         "task_abc"),
        ({"id": "video_68e7", "object": "video", "status": "queued", "progress": 0}, "video_68e7"),
        ({"task_id": "task_only"}, "task_only"),
        ({"taskId": "camel"}, "camel"),
        ({"data": {"task_id": "inside"}}, "inside"),
        ({"id": 12345}, "12345"),
        # new-api's task record: "id" is its row number, "task_id" the public id
        ({"code": "success", "data": {"id": 417, "task_id": "task_public"}}, "task_public"),
        ({"id": 417, "task_id": "task_public"}, "task_public"),
    ],
)  # fmt: skip
def test_task_id_in_create_answers(answer, task_id):
    assert task_id_in(answer) == task_id


@pytest.mark.parametrize(
    "answer",
    [None, [], "task_abc", {}, {"status": "pending"}, {"id": True}, {"id": ""},
     {"id": None}, {"id": ["task_a"]}, {"data": "task_a"}, {"id": {"value": "x"}}],
)  # fmt: skip
def test_no_task_id_in_answers_without_one(answer):
    assert task_id_in(answer) is None
