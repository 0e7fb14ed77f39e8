"""One vocabulary: every kind and every label reads in English and Chinese, and the lookup
never raises whatever it is given."""

from __future__ import annotations

import re

import pytest

from suxi.kinds import Kind, State
from suxi.texts import LANGS, TABLE, explain, lang_of, pick_language, tr, ui_tables

PLACEHOLDER = re.compile(r"\{(\w+)\}")
CJK = re.compile(r"[\u4e00-\u9fff]")


def test_every_kind_has_a_sentence_in_both_languages():
    missing = [k.value for k in Kind if k.value not in TABLE]
    assert not missing, f"kinds without words: {missing}"


def test_every_state_has_a_word_in_both_languages():
    assert all(f"state_{s.value}" in TABLE for s in State)


@pytest.mark.parametrize("key", sorted(TABLE))
def test_each_entry_is_complete_and_its_placeholders_agree(key):
    entry = TABLE[key]
    assert set(entry) == set(LANGS), key
    assert all(entry[lang].strip() for lang in LANGS), key
    assert set(PLACEHOLDER.findall(entry["en"])) == set(PLACEHOLDER.findall(entry["zh"])), key


def test_chinese_entries_are_chinese():
    # Words that are the same in both languages (a model name, "max_tokens") are fine; a whole
    # sentence left in English in the Chinese table is not.
    english_only = [
        k for k, v in TABLE.items() if not CJK.search(v["zh"]) and len(v["zh"].split()) > 3
    ]
    assert not english_only, english_only


def test_tr_fills_values_and_never_raises():
    assert tr("prompt_too_long", "en", length=5000, limit=4000).startswith(
        "The description is too long (5000 characters)"
    )
    assert tr("prompt_too_long", "zh", length=5000, limit=4000).startswith("描述太长（5000")
    assert tr("no_such_key", "en") == TABLE["unknown"]["en"]
    assert tr("prompt_too_long", "en") == TABLE["unknown"]["en"]  # a missing value
    assert tr("prompt_too_long", "fr", length=1, limit=2).startswith("The description")


def test_explain_quotes_the_relays_words_once_and_labels_them():
    text = explain("auth", "en", "无效的令牌")
    assert text.endswith("The relay said: “无效的令牌”")
    zh = explain("auth", "zh", "  invalid\n token ")
    assert zh.endswith("中转站原文：“invalid token”") and "。中转站" in zh


def test_rate_limit_says_how_long():
    assert "wait 7 seconds" in explain("rate_limit", "en", retry_after="7")
    assert "wait a minute" in explain("rate_limit", "en", retry_after="Wed, 21 Oct")
    assert "等待7 秒" in explain("rate_limit", "zh", retry_after="7")


def test_languages_from_headers_and_choices():
    assert pick_language("zh-CN,zh;q=0.9,en;q=0.8") == "zh"
    assert pick_language("en-GB,zh;q=0.5") == "en"
    assert pick_language("fr-FR") == "en" and pick_language(None) == "en"
    assert lang_of("zh-TW") == "zh" and lang_of("EN") == "en" and lang_of(None) == "en"


def test_gradio_tables_hold_only_prefixed_keys():
    tables = ui_tables()
    assert set(tables) == set(LANGS)
    assert all(k.startswith("ui_") for k in tables["en"])
    assert tables["en"].keys() == tables["zh"].keys()
