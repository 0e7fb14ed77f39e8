"""A batch's prompts from pasted text or an uploaded .txt / .csv file (one prompt per line; a
CSV's first column). Blank lines are skipped; a CSV header named "prompt" is skipped too.

Files are read as UTF-8 (with or without a BOM), UTF-16 when a BOM says so, and otherwise as
GB18030: Excel on a Chinese Windows saves "CSV" in the ANSI code page (GBK), and reading that
as UTF-8 would send the relay a prompt of replacement characters.
"""

from __future__ import annotations

import codecs
import csv
import io
from pathlib import Path

from ..errors import InputError
from ..kinds import Kind
from ..textsafe import clean_text

MAX_FILE = 1024 * 1024
HEADERS = ("prompt", "prompts", "提示词")


def prompts_from(
    text: object, file_path: object, limit: int, *, prompt_limit: int | None = None
) -> list[str]:
    """The prompts of ``text`` then of the file at ``file_path``. ``limit``: prompts in one
    batch; ``prompt_limit`` (characters of one prompt) only words the refusal of a file over
    :data:`MAX_FILE` whose first megabyte holds few, very long prompts."""
    prompts = _lines(text if isinstance(text, str) else "")
    if isinstance(file_path, str) and file_path:
        prompts += _file(Path(file_path), limit, prompt_limit)
    if not prompts:
        raise InputError(Kind.BATCH_EMPTY)
    if len(prompts) > limit:
        raise InputError(Kind.BATCH_TOO_LONG, count=len(prompts), limit=limit)
    return prompts


def _lines(text: str) -> list[str]:
    return [line.strip() for line in clean_text(text).splitlines() if line.strip()]


def _file(path: Path, limit: int, prompt_limit: int | None) -> list[str]:
    try:
        with path.open("rb") as f:
            raw = f.read(MAX_FILE + 1)
    except OSError as err:
        raise InputError(Kind.BATCH_EMPTY) from err
    if len(raw) <= MAX_FILE:
        return _parse(path, _decode(raw))
    # Any batch within the limits fits in a megabyte; say which limit this file passes.
    head = _parse(path, _decode(raw[:MAX_FILE]))
    if len(head) > limit or prompt_limit is None:
        raise InputError(Kind.BATCH_TOO_LONG, count=f"{len(head)}+", limit=limit)
    longest = max((len(p) for p in head), default=MAX_FILE)
    raise InputError(Kind.PROMPT_TOO_LONG, length=f"{longest}+", limit=prompt_limit)


def _decode(raw: bytes) -> str:
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return raw.decode("utf-16", errors="replace")
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    return raw.decode("utf-8", errors="replace")


def _parse(path: Path, text: str) -> list[str]:
    if path.suffix.lower() != ".csv":
        return _lines(text)
    # The file is at most MAX_FILE bytes, so no field is longer; csv's own default (128 KiB)
    # would raise on one long prompt instead of letting the prompt check refuse it.
    csv.field_size_limit(max(csv.field_size_limit(), MAX_FILE + 1))
    reader = csv.reader(io.StringIO(clean_text(text), newline=""))
    rows = [row[0].strip() for row in reader if row and row[0].strip()]
    if rows and rows[0].lower() in HEADERS:
        rows = rows[1:]
    return rows
