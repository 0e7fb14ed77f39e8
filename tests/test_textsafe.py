"""Text and JSON from the relay, made safe: clean_text and loads_json."""

from __future__ import annotations

import json
import random
import time

import pytest

from suxi.textsafe import clean_text, loads_json

# ── clean_text ────────────────────────────────────────────────────────────────────────────────


def reference_clean(s: str) -> str:
    """The rule, one character at a time (slow, obviously right)."""
    out: list[str] = []
    i = 0
    while i < len(s):
        c = s[i]
        code = ord(c)
        if 0xD800 <= code <= 0xDBFF and i + 1 < len(s) and 0xDC00 <= ord(s[i + 1]) <= 0xDFFF:
            out.append(chr(0x10000 + ((code - 0xD800) << 10) + (ord(s[i + 1]) - 0xDC00)))
            i += 2
            continue
        if 0xD800 <= code <= 0xDFFF:
            out.append("\ufffd")
        elif (code < 32 and c not in "\n\t") or 0x7F <= code <= 0x9F:
            pass
        else:
            out.append(c)
        i += 1
    return "".join(out)


def test_clean_text_leaves_ordinary_text_alone() -> None:
    for text in ("", "plain ascii", "进度 36%\n\t🏃 ✅", "line one\nline two", "\u2028\ufeff"):
        assert clean_text(text) == text


def test_lone_surrogates_become_replacement_characters() -> None:
    assert clean_text("a\ud83d") == "a\ufffd"  # a cut emoji
    assert clean_text("\ude00b") == "\ufffdb"
    assert clean_text("\ud83d\ud83d") == "\ufffd\ufffd"
    assert clean_text("\ud83d\ude00") == "😀"  # a pair stored as two code points is one emoji
    clean_text("x\udfff").encode("utf-8")  # always encodable afterwards


def test_control_characters_are_dropped_except_newline_and_tab() -> None:
    assert clean_text("a\x00b\x07c\x1b[31md\x7fe\x85f\x9fg") == "abc[31mdefg"
    assert clean_text("a\r\nb\tc\x0bd\x0ce") == "a\nb\tcde"


def test_limit_cuts_on_a_character_boundary() -> None:
    assert clean_text("😀😀😀", 2) == "😀😀"
    assert clean_text("\ud83d\ude00\ud83d\ude00", 1) == "😀"
    assert clean_text("abc", 3) == "abc"
    assert clean_text("abc", 0) == ""
    assert clean_text("\x00" * 10_000 + "abc", 2) == "ab"  # the limit counts the clean text


def test_clean_text_matches_the_rule_on_random_text() -> None:
    rng = random.Random(7)
    alphabet = ["a", "进", "\n", "\t", "\x00", "\x1f", "\x7f", "\x85", "\ud83d", "\ude00", "😀"]
    for _ in range(1500):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 2000)))
        limit = rng.choice([None, 0, 1, 5, 100, 1000])
        expected = reference_clean(text)
        assert clean_text(text, limit) == (expected if limit is None else expected[:limit])


def test_a_small_limit_on_a_huge_text_reads_only_its_start() -> None:
    huge = "x" * 20_000_000 + "\x00"
    start = time.perf_counter()
    assert clean_text(huge) == "x" * 20_000_000
    one_full_pass = time.perf_counter() - start
    start = time.perf_counter()
    for _ in range(100):
        assert clean_text(huge, 10) == "x" * 10
    assert time.perf_counter() - start < one_full_pass


# ── loads_json ────────────────────────────────────────────────────────────────────────────────


def test_ordinary_json() -> None:
    text = '{"choices": [{"delta": {"content": "\\u003e 进度 36%"}}], "n": 1.5, "ok": true}'
    assert loads_json(text, max_bytes=1000) == json.loads(text)
    assert loads_json(text.encode(), max_bytes=1000) == json.loads(text)
    assert loads_json("null", max_bytes=10) is None  # JSON null and refusal look the same
    assert loads_json("[]", max_bytes=10) == []


@pytest.mark.parametrize(
    "text",
    [
        "NaN",
        "[Infinity]",
        '{"d": -Infinity}',
        '{"d": 1e999}',
        '{"d": -1e400}',
        '{"d": ' + "9" * 5000 + "}",  # beyond Python's integer digit limit
        "{broken",
        '{"a": 1} trailing',
        "",
        "   ",
        '{"a": "raw\x01control"}',  # strict JSON: raw control characters in strings
    ],
)
def test_unacceptable_json_is_none(text: str) -> None:
    assert loads_json(text, max_bytes=1 << 20) is None


def test_non_text_is_none() -> None:
    for value in (None, 5, ["[]"], {"a": 1}):
        assert loads_json(value, max_bytes=100) is None  # type: ignore[arg-type]


def test_depth_limit_is_exact() -> None:
    assert loads_json("[" * 64 + "]" * 64, max_bytes=1000) is not None
    assert loads_json("[" * 65 + "]" * 65, max_bytes=1000) is None
    assert loads_json('{"a":' * 10 + "1" + "}" * 10, max_bytes=1000, max_depth=10) is not None
    assert loads_json('{"a":' * 11 + "1" + "}" * 11, max_bytes=1000, max_depth=10) is None
    mixed = '{"a": [{"b": [1]}]}'  # depth 4
    assert loads_json(mixed, max_bytes=100, max_depth=4) == json.loads(mixed)
    assert loads_json(mixed, max_bytes=100, max_depth=3) is None


def test_brackets_inside_strings_do_not_count() -> None:
    text = json.dumps({"prompt": "[" * 500 + '\\"{' * 100, "list": [["x"]]})
    assert loads_json(text, max_bytes=10_000, max_depth=3) == json.loads(text)
    sibling = "[" + ",".join(["[]"] * 500) + "]"  # many brackets, depth 2
    assert loads_json(sibling, max_bytes=10_000, max_depth=2) == json.loads(sibling)


@pytest.mark.parametrize(
    "text",
    [
        "[" * 1_000_000,
        "[" * 500_000 + "]" * 500_000,
        '{"a":' * 200_000 + "1" + "}" * 200_000,
        '["' + "[" * 100 + '"' + ", [" * 100_000,  # an unterminated run after a string
    ],
)
def test_deep_nesting_never_reaches_the_decoder(text: str) -> None:
    assert loads_json(text, max_bytes=4 << 20) is None  # no RecursionError escapes


def test_depth_check_is_linear() -> None:
    def timed(n: int) -> float:
        text = "[" * n + "]" * n
        start = time.perf_counter()
        for _ in range(3):
            assert loads_json(text, max_bytes=1 << 30) is None
        return time.perf_counter() - start

    small, large = min(timed(200_000) for _ in range(2)), min(timed(800_000) for _ in range(2))
    assert large / small < 6, (small, large)


def test_size_limit_is_exact_in_utf8_bytes() -> None:
    text = '["' + "进" * 10 + '"]'  # 4 + 30 bytes, 14 characters
    assert loads_json(text, max_bytes=34) == ["进" * 10]
    assert loads_json(text, max_bytes=33) is None
    assert loads_json(text.encode(), max_bytes=34) == ["进" * 10]
    assert loads_json(text.encode(), max_bytes=33) is None
    assert loads_json("[1]", max_bytes=3) == [1]
    assert loads_json("[1] ", max_bytes=3) is None


def test_strings_in_the_result_are_clean() -> None:
    text = '{"k\\u0000ey": ["\\ud83d", "a\\u0007b", "\\r\\n", {"x": "\\ud83d\\ude00\x85"}], "n": 1}'
    assert loads_json(text, max_bytes=1000) == {
        "key": ["\ufffd", "ab", "\n", {"x": "😀"}],
        "n": 1,
    }


def test_bytes_input() -> None:
    assert loads_json(b'\xef\xbb\xbf{"a": "b"}', max_bytes=100) == {"a": "b"}
    assert loads_json(b'{"a": "\xffb"}', max_bytes=100) == {"a": "\ufffdb"}
    assert loads_json(bytearray(b"[1]"), max_bytes=100) == [1]
