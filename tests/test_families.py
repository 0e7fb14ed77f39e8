"""The model-family table: lookups by model id, grouping, OpenAI sizes, and its docs page."""

from __future__ import annotations

from pathlib import Path

import pytest

from suxi.families import (
    FAMILIES,
    GENERIC,
    TASK_FORMATS,
    family_for,
    group_models,
    is_video_model,
    markdown_table,
    openai_size,
)

DOC = Path(__file__).parent.parent / "docs" / "model-families.md"


@pytest.mark.parametrize(
    ("model", "key"),
    [
        ("sora-2", "sora"),
        ("sora2-landscape-15s", "sora"),
        ("SORA-2", "sora"),
        ("sora-2-pro", "sora-pro"),
        ("sora2-pro-portrait-hd-15s", "sora-pro"),
        ("veo3", "veo"),
        ("veo3.1-fast", "veo"),
        ("veo-3.1-generate-preview", "veo"),
        ("grok-video-3", "grok"),
        ("grok-imagine-video-1.5", "grok"),
        ("wan2.5-t2v-preview", "wan"),
        ("wan2.2-i2v-flash", "wan"),
        ("wanx2.1-i2v-turbo", "wan"),
        ("kling-v2-1", "kling"),
        ("kling-v2-1-master", "kling"),
        ("doubao-seedance-1-0-pro", "seedance"),
        ("doubao-seedance-1-0-pro-250528", "seedance"),
        ("MiniMax-Hailuo-02", "hailuo"),
        ("MiniMax-Hailuo-2.3-Fast", "hailuo"),
        ("T2V-01-Director", "hailuo"),
    ],
)
def test_real_model_ids_find_their_family(model, key):
    assert family_for(model).key == key
    assert is_video_model(model)


@pytest.mark.parametrize("model", ["", "mystery-model", "gpt-4o", "some-video-model-x"])
def test_unknown_ids_are_generic(model):
    assert family_for(model) is GENERIC


@pytest.mark.parametrize(
    "model",
    ["gpt-4o", "gpt-4o-mini", "claude-3-5-sonnet", "text-embedding-3-small", "grok-4",
     "MiniMax-M1", "qwen-max", "deepseek-chat"],
)  # fmt: skip
def test_chat_models_are_not_video(model):
    assert not is_video_model(model)


@pytest.mark.parametrize("model", ["jimeng-video-3.0", "vidu-q1", "acme-video-2", "x-t2v-1"])
def test_names_that_say_video_are_video_of_the_generic_family(model):
    assert is_video_model(model)
    assert family_for(model) is GENERIC


def test_sora_values_follow_the_relay_documentation():
    sora, pro = family_for("sora-2"), family_for("sora-2-pro")
    assert (sora.durations, sora.default_duration) == ((10, 15), 10)
    assert (pro.durations, pro.default_duration) == ((15, 25), 15)
    for family in (sora, pro):
        assert family.formats == ("chat", "unified", "openai")
        assert family.sizes == ("small", "large")
        assert family.orientations == ("landscape", "portrait")
        assert family.image and family.remix and family.watermark
        assert family.private and family.characters


def test_other_families_are_served_by_task_formats_only():
    for family in FAMILIES:
        if not family.key.startswith("sora"):
            assert family.formats == TASK_FORMATS, family.key
            assert not family.characters and not family.private, family.key


def test_table_is_consistent():
    keys = [f.key for f in FAMILIES]
    assert len(keys) == len(set(keys))
    assert FAMILIES[-1] is GENERIC and GENERIC.match == ()
    for family in FAMILIES:
        assert family.default_duration in (*family.durations, None), family.key
        assert (family.default_duration is None) == (not family.durations), family.key
        assert set(family.orientations) <= {"landscape", "portrait", "square"}, family.key
        assert set(family.formats) <= {"chat", "unified", "openai"}, family.key
        assert all(fragment == fragment.lower() for fragment in family.match), family.key
    # Specific families come before the general one that would also match them.
    assert keys.index("sora-pro") < keys.index("sora")


def test_generic_family_defaults():
    assert GENERIC.durations == () and GENERIC.default_duration is None
    assert GENERIC.orientations == ("landscape", "portrait")
    assert GENERIC.sizes == ()
    assert GENERIC.image and not GENERIC.remix and not GENERIC.watermark
    assert not GENERIC.private and not GENERIC.characters
    assert GENERIC.formats == ("unified", "openai")


def test_group_models_by_family_then_the_rest_in_relay_order():
    names = [
        "gpt-4o",
        "veo3.1-fast",
        "sora-2",
        "claude-x",
        "Veo3",
        "sora-2-pro",
        "acme-video",
        "sora2-landscape-15s",
        "gpt-4o-mini",
        "kling-v2-1-master",
    ]
    assert group_models(names) == [
        ("Sora 2 Pro", ["sora-2-pro"]),
        ("Sora 2", ["sora-2", "sora2-landscape-15s"]),
        ("Veo 3", ["Veo3", "veo3.1-fast"]),  # sorted regardless of case
        ("Kling", ["kling-v2-1-master"]),
        ("Other video models", ["acme-video"]),
        ("Other models", ["gpt-4o", "claude-x", "gpt-4o-mini"]),
    ]


def test_group_models_without_chat_models_has_no_other_group():
    assert group_models(["sora-2"]) == [("Sora 2", ["sora-2"])]
    assert group_models([]) == []


@pytest.mark.parametrize(
    ("orientation", "size", "expected"),
    [
        ("landscape", "small", "1280x720"),
        ("portrait", "small", "720x1280"),
        ("landscape", "large", "1792x1024"),
        ("portrait", "large", "1024x1792"),
        ("portrait", None, "720x1280"),
        (None, "large", "1792x1024"),
        ("landscape", "1080p", "1920x1080"),
        ("portrait", "720p", "720x1280"),
        ("landscape", "480p", "854x480"),
        ("square", "720p", "720x720"),
        ("landscape", "1280x720", "1280x720"),
        (None, None, None),
        ("", "", None),
        ("landscape", "enormous", None),
    ],
)
def test_openai_size(orientation, size, expected):
    assert openai_size(orientation, size) == expected


def test_docs_page_shows_exactly_the_table_of_FAMILIES():
    table = markdown_table()
    text = DOC.read_text(encoding="utf-8")
    assert table in text
    rows = [line for line in table.splitlines() if line.startswith("| ")][1:]
    assert [row.split(" | ")[0].removeprefix("| ") for row in rows] == [f.label for f in FAMILIES]
    # The page holds one table: every table line of the page is a line of the rendered table.
    page_rows = [line for line in text.splitlines() if line.startswith("|")]
    assert page_rows == table.splitlines()
