"""Text and JSON from the relay, made safe at the boundary (docs/hostile-input.md).

Everything the relay writes ends up in the page, the database and the log. A cut emoji arrives as
a lone surrogate (``"\\ud83d"`` in JSON), which cannot be encoded as UTF-8 and breaks every
writer downstream; NUL and other control characters corrupt logs and terminals. And a JSON value
nested a million levels deep makes ``json.loads`` raise ``RecursionError`` instead of
``ValueError``. The two functions here stop all of that before any other module sees the text.
"""

from __future__ import annotations

import json
import math
import re
from itertools import accumulate

# C0 controls except \t and \n, DEL, and C1 controls (docs/hostile-input.md, "Text").
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_SURROGATES = re.compile("[\ud800-\udfff]")

# A JSON string literal (possessive: no backtracking, linear on any input) and what is not a
# bracket: removing both leaves the nesting structure of a document.
_JSON_STRING = re.compile(r'"(?:[^"\\]++|\\.)*+"', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_DEPTH_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}


def clean_text(s: str, limit: int | None = None) -> str:
    """``s`` as valid text: lone surrogates become U+FFFD (a surrogate pair becomes its
    character), control characters other than ``\\n`` and ``\\t`` are dropped, and the result is
    cut to ``limit`` characters when given."""
    if limit is not None and len(s) > 2 * limit + 16:
        # Cleaning only removes or merges characters, so a prefix long enough to still exceed
        # the limit after cleaning gives the same answer without reading a huge string.
        size = 2 * limit + 16
        while size < len(s):
            head = _clean(s[:size])
            if len(head) > limit:  # the last character may be half a cut pair: not kept
                return head[:limit]
            size *= 4
    text = _clean(s)
    return text if limit is None else text[:limit]


def _clean(s: str) -> str:
    if s.isprintable():  # one C-level pass: no control character, no surrogate, the usual case
        return s
    if not s.isascii():  # O(1) in CPython: the ASCII case skips the encode attempt
        try:
            s.encode("utf-8")
        except UnicodeEncodeError:
            if _SURROGATES.search(s):
                s = s.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    if _CONTROLS.search(s):
        s = _CONTROLS.sub("", s)
    return s


def loads_json(text: str | bytes, *, max_bytes: int, max_depth: int = 64) -> object | None:
    """A JSON document the app can use safely, or ``None``.

    ``None`` for: invalid JSON, ``NaN`` / ``Infinity``, numbers that overflow to infinity or
    exceed Python's digit limit, nesting deeper than ``max_depth``, or more than ``max_bytes``
    bytes of UTF-8. Every string in the result (keys too) has gone through :func:`clean_text`.
    """
    if isinstance(text, bytes | bytearray):
        if len(text) > max_bytes:
            return None
        text = bytes(text).decode("utf-8", "replace")
    elif (
        not isinstance(text, str)
        or len(text) > max_bytes
        or (len(text) * 4 > max_bytes and len(text.encode("utf-8", "surrogatepass")) > max_bytes)
    ):
        return None
    text = text.removeprefix("\ufeff")
    if _too_deep(text, max_depth):
        return None
    try:
        value = _DECODER.decode(text)
        # Strict JSON refuses raw C0 controls in strings: only escapes, raw DEL/C1 characters
        # and raw surrogates can make a string unclean, and most chunks carry none of them.
        return _clean_value(value) if _MAY_NEED_CLEANING.search(text) else value
    except (ValueError, RecursionError):  # RecursionError: belt and braces, see _too_deep
        return None


def _too_deep(text: str, max_depth: int) -> bool:
    """Whether brackets outside strings nest deeper than ``max_depth``: read before the
    recursive decoder ever sees the document. Linear, and nearly free for ordinary chunks."""
    if text.count("[") + text.count("{") <= max_depth:
        return False
    brackets = _NOT_BRACKET.sub("", _JSON_STRING.sub("", text))
    return max(accumulate(map(_DEPTH_STEP.__getitem__, brackets)), default=0) > max_depth


def _refuse_constant(name: str) -> object:
    raise ValueError(f"{name} is not JSON")


def _finite_float(literal: str) -> float:
    value = float(literal)
    if not math.isfinite(value):
        raise ValueError("number out of range")
    return value


_DECODER = json.JSONDecoder(parse_constant=_refuse_constant, parse_float=_finite_float)
_MAY_NEED_CLEANING = re.compile(r"\\[ubfr]|[\x7f-\x9f\ud800-\udfff]")


def _clean_value(value: object) -> object:
    """A copy of a decoded document with every string cleaned. Depth is already bounded."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, list):
        return [_clean_value(item) for item in value]
    if isinstance(value, dict):
        return {clean_text(key): _clean_value(item) for key, item in value.items()}
    return value


HIDDEN_KEY = "[key hidden]"
KEY_LIKE = re.compile(r"(?<![A-Za-z0-9_-])(?:sk|ak|pk|key)-[A-Za-z0-9_-]{8,}")


def hide_keys(text: str, *keys: str | None) -> str:
    """``text`` with the given keys, and anything shaped like a relay key (``sk-…``), hidden: a
    relay that echoes a key in its error words must not put it on a page or in a file."""
    for key in keys:
        if key and len(key) >= 6 and key in text:
            text = text.replace(key, HIDDEN_KEY)
    return KEY_LIKE.sub(HIDDEN_KEY, text) if "-" in text else text
