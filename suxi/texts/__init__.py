"""Every word the person reads, in English and Chinese, behind one lookup: :func:`tr`.

The tables live beside this file by subject — ``kinds`` (one sentence per
:class:`~suxi.kinds.Kind`: what happened and what to do), ``page`` (the page's fixed words, the
job cards' words and the relay's progress steps as the app words them) and ``studio`` (balance,
prompt help, presets, storyboard, characters) — and every entry carries both languages (a test
checks it).
"""

from __future__ import annotations

from .kinds import KIND_TEXTS
from .page import PAGE_TEXTS
from .studio import STUDIO_TEXTS

LANGS = ("en", "zh")
TABLE: dict[str, dict[str, str]] = {**KIND_TEXTS, **PAGE_TEXTS, **STUDIO_TEXTS}
RELAY_SAID = {"en": "The relay said: ", "zh": "中转站原文："}


def lang_of(value: str | None) -> str:
    """A supported language from a page's choice (``"zh-CN"``, ``"en"`` …); English otherwise."""
    return "zh" if (value or "").lower().startswith("zh") else "en"


def pick_language(accept_language: str | None) -> str:
    """The first supported language in an ``Accept-Language`` header (English otherwise)."""
    for part in (accept_language or "").split(","):
        tag = part.split(";")[0].strip().lower()
        if tag.startswith("zh"):
            return "zh"
        if tag.startswith("en"):
            return "en"
    return "en"


def tr(key: str, lang: str = "en", **values: object) -> str:
    """The text for ``key`` in ``lang``, filled with ``values``. An unknown key or a missing
    value gives the generic "something went wrong" sentence rather than an exception: a
    translation slip must never cost a page update."""
    entry = TABLE.get(str(key)) or TABLE["unknown"]
    text = entry["zh" if lang == "zh" else "en"]
    try:
        return text.format(**values) if values or "{" in text else text
    except (KeyError, IndexError, ValueError):
        return TABLE["unknown"]["zh" if lang == "zh" else "en"]


def explain(kind: str, lang: str = "en", relay_text: str = "", **values: object) -> str:
    """One readable sentence for a kind, plus the relay's own words (quoted, labelled) when it
    gave some."""
    if str(kind) == "rate_limit" and "wait" not in values:
        retry = str(values.pop("retry_after", "") or "")
        if retry.isdigit() and int(retry) > 3600:
            values["wait"] = tr("a_while", lang)  # a hostile or broken relay's huge number
        else:
            values["wait"] = (
                tr("seconds", lang, n=retry) if retry.isdigit() else tr("a_minute", lang)
            )
    text = tr(kind, lang, **values)
    relay_text = " ".join(str(relay_text or "").split())[:500]
    if relay_text and relay_text not in text:
        gap = "" if lang == "zh" else " "  # Chinese puts no space after 。
        text = f"{text}{gap}{RELAY_SAID['zh' if lang == 'zh' else 'en']}“{relay_text}”"
    return text


def ui_tables() -> dict[str, dict[str, str]]:
    """The page's fixed words as ``{lang: {key: text}}`` for ``gr.I18n``."""
    return {lang: {k: v[lang] for k, v in TABLE.items() if k.startswith("ui_")} for lang in LANGS}
