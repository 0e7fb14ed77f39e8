"""Style presets: the built-ins in both languages, a replacement file from SUXI_PRESETS, broken
files that fall back to the built-ins, and a phrase added to the prompt visibly and once."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import pytest

from suxi import presets
from suxi.presets import Preset, apply_preset, load_presets, remove_preset

CJK = re.compile(r"[\u4e00-\u9fff]")
KITE = Preset("kite", "Kite", "风筝", "bright kite colours", "明亮的风筝色彩")


def test_the_built_in_presets_are_complete_in_both_languages():
    built_in = load_presets()
    ids = [p.id for p in built_in]
    for wanted in (
        "cinematic",
        "anime",
        "documentary",
        "product",
        "claymation",
        "drone",
        "vintage",
    ):
        assert wanted in ids
    assert len(ids) == len(set(ids))
    for p in built_in:
        assert p.label_en and p.phrase_en and not CJK.search(p.label_en + p.phrase_en), p.id
        assert CJK.search(p.label_zh) and CJK.search(p.phrase_zh), p.id
    # every entry of the shipped file was usable (none skipped)
    assert len(built_in) == len(json.loads(presets.BUILTIN_PATH.read_text("utf-8")))


def test_a_presets_file_replaces_the_built_ins(tmp_path: Path):
    path = tmp_path / "mine.json"
    path.write_text(
        json.dumps(
            [
                {
                    "id": "pastel",
                    "label": {"en": "Pastel", "zh": "粉彩"},
                    "phrase": {"en": "soft pastel colours", "zh": "柔和的粉彩色调"},
                },
                {"id": "mono", "label": "Monochrome", "phrase": {"zh": "黑白画面"}},
            ],
            ensure_ascii=False,
        ),
        "utf-8",
    )
    loaded = load_presets(str(path))
    assert [p.id for p in loaded] == ["pastel", "mono"]
    mono = loaded[1]
    assert (mono.label("en"), mono.label("zh")) == ("Monochrome", "Monochrome")
    assert (mono.phrase("en"), mono.phrase("zh")) == ("黑白画面", "黑白画面")  # one stands in


@pytest.mark.parametrize(
    "content",
    [
        "not json at all",
        '{"id": "a dict, not a list"}',
        "[]",
        '[{"id": "Bad Id!", "label": "x", "phrase": "y"}]',
        '[{"id": "nolabel", "phrase": "y"}]',
        json.dumps([{"id": "long", "label": "x", "phrase": "y" * 301}]),
        "[" * 10000 + "]" * 10000,
    ],
)
def test_a_broken_file_is_logged_and_the_built_ins_are_used(tmp_path: Path, caplog, content):
    path = tmp_path / "broken.json"
    path.write_text(content, "utf-8")
    with caplog.at_level(logging.WARNING, logger="suxi.presets"):
        loaded = load_presets(str(path))
    assert loaded == load_presets()
    assert any("SUXI_PRESETS" in r.getMessage() for r in caplog.records)


def test_a_missing_or_huge_file_is_logged_too(tmp_path: Path, caplog):
    huge = tmp_path / "huge.json"
    huge.write_bytes(b"[" + b" " * (presets.MAX_FILE_BYTES + 10) + b"]")
    with caplog.at_level(logging.WARNING, logger="suxi.presets"):
        assert load_presets(str(tmp_path / "absent.json")) == load_presets()
        assert load_presets(str(huge)) == load_presets()
    messages = " ".join(r.getMessage() for r in caplog.records)
    assert "absent.json" in messages and "larger than" in messages


def test_unusable_entries_are_skipped_with_a_warning(tmp_path: Path, caplog):
    path = tmp_path / "mixed.json"
    good = {"id": "good", "label": "Good", "phrase": "good light"}
    path.write_text(json.dumps([good, 42, {"id": "good", "label": "Dup", "phrase": "x"}]), "utf-8")
    with caplog.at_level(logging.WARNING, logger="suxi.presets"):
        loaded = load_presets(str(path))
    assert [p.id for p in loaded] == ["good"]
    assert [r.getMessage() for r in caplog.records] == [
        f"{path}: preset #2 is not usable and is skipped",
        f"{path}: preset #3 is not usable and is skipped",
    ]


def test_a_preset_is_added_visibly_and_only_once():
    once = apply_preset("A kite over a hill", KITE)
    assert once == "A kite over a hill. Style: bright kite colours."
    assert apply_preset(once, KITE) == once
    assert (
        apply_preset("A kite over a hill!", KITE)
        == "A kite over a hill! Style: bright kite colours."
    )
    assert apply_preset("", KITE) == "Style: bright kite colours."


def test_a_chinese_prompt_gets_the_chinese_phrase():
    once = apply_preset("风筝飞过山坡", KITE)
    assert once == "风筝飞过山坡。风格：明亮的风筝色彩。"
    assert apply_preset(once, KITE) == once
    assert apply_preset("风筝飞过山坡。", KITE) == once
    assert apply_preset("A kite", KITE, lang="zh") == "A kite。风格：明亮的风筝色彩。"


def test_a_phrase_already_there_in_the_other_language_is_not_added_again():
    assert apply_preset("A kite, 明亮的风筝色彩", KITE) == "A kite, 明亮的风筝色彩"


def test_removing_a_preset_leaves_the_rest_as_written():
    assert remove_preset(apply_preset("A kite", KITE), KITE) == "A kite."
    assert remove_preset(apply_preset("风筝", KITE), KITE) == "风筝。"
    assert remove_preset("A kite, as written", KITE) == "A kite, as written"
    cinematic, anime = load_presets()[:2]
    switched = apply_preset(remove_preset(apply_preset("A kite", cinematic), cinematic), anime)
    assert cinematic.phrase_en not in switched and anime.phrase_en in switched


def test_dropdown_choices_start_with_no_style():
    loaded = load_presets()
    assert presets.choices(loaded, "en")[0] == ("No style", "")
    assert presets.choices(loaded, "zh")[1] == (loaded[0].label_zh, loaded[0].id)
    assert presets.find(loaded, "anime").id == "anime" and presets.find(loaded, "nope") is None
