"""Style presets: a visible phrase added to the end of the prompt ("Style: cinematic …").

The built-in presets are ``assets/presets.json``; ``SUXI_PRESETS`` names a JSON file of the same
shape that replaces them — a list of

    {"id": "cinematic", "label": {"en": "Cinematic", "zh": "电影感"},
     "phrase": {"en": "cinematic film look, …", "zh": "电影感画面，…"}}

A file that cannot be read, or holds no usable preset, is logged and the built-ins are used;
single entries that are not usable are skipped with a warning. Loading never raises.

The phrase goes into the prompt the person sees and can edit, never behind their back, and
applying the same preset twice changes nothing.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

from .texts import LANGS, tr
from .textsafe import clean_text, loads_json

log = logging.getLogger(__name__)

BUILTIN_PATH = Path(__file__).resolve().parent.parent / "assets" / "presets.json"
MAX_FILE_BYTES = 256 * 1024
MAX_PRESETS = 50
MAX_LABEL = 40
MAX_PHRASE = 300
PRESET_ID = re.compile(r"[a-z0-9][a-z0-9_-]{0,39}")
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_ENDS = ".!?;,。！？；，…"


@dataclass(frozen=True)
class Preset:
    id: str
    label_en: str
    label_zh: str
    phrase_en: str
    phrase_zh: str

    def label(self, lang: str) -> str:
        return self.label_zh if lang == "zh" else self.label_en

    def phrase(self, lang: str) -> str:
        return self.phrase_zh if lang == "zh" else self.phrase_en

    def sentence(self, lang: str) -> str:
        """What is added to a prompt: ``"Style: <phrase>."`` in ``lang``."""
        return tr("preset_sentence", lang, phrase=self.phrase(lang))


class PresetsError(ValueError):
    """A presets file the app cannot use (the message says why)."""


def load_presets(path: str | Path | None = None) -> tuple[Preset, ...]:
    """The presets of ``path`` (``SUXI_PRESETS``), or the built-ins when it is empty or not
    usable. Never raises."""
    if path:
        try:
            return read_presets(Path(path))
        except PresetsError as err:
            log.warning("SUXI_PRESETS %s is not usable (%s): using the built-in presets", path, err)
    try:
        return read_presets(BUILTIN_PATH)
    except PresetsError as err:
        log.error("the built-in presets %s are not usable: %s", BUILTIN_PATH, err)
        return ()


def read_presets(path: Path) -> tuple[Preset, ...]:
    """The usable presets of one file; raises PresetsError when there are none."""
    try:
        raw = path.read_bytes()[: MAX_FILE_BYTES + 1]
    except OSError as err:
        raise PresetsError(f"cannot read it: {err.strerror or err}") from err
    if len(raw) > MAX_FILE_BYTES:
        raise PresetsError(f"larger than {MAX_FILE_BYTES // 1024} KB")
    data = loads_json(raw, max_bytes=MAX_FILE_BYTES)
    if not isinstance(data, list):
        raise PresetsError("not a JSON list of presets")
    presets: list[Preset] = []
    seen: set[str] = set()
    for index, entry in enumerate(data[:MAX_PRESETS]):
        preset = _preset(entry)
        if preset is None or preset.id in seen:
            log.warning("%s: preset #%d is not usable and is skipped", path, index + 1)
            continue
        seen.add(preset.id)
        presets.append(preset)
    if len(data) > MAX_PRESETS:
        log.warning("%s: only the first %d presets are used", path, MAX_PRESETS)
    if not presets:
        raise PresetsError("no usable preset")
    return tuple(presets)


def _preset(entry: object) -> Preset | None:
    if not isinstance(entry, dict):
        return None
    ident = entry.get("id")
    if not isinstance(ident, str) or not PRESET_ID.fullmatch(ident):
        return None
    label = _both(entry.get("label"), MAX_LABEL)
    phrase = _both(entry.get("phrase"), MAX_PHRASE)
    if label is None or phrase is None:
        return None
    return Preset(ident, label[0], label[1], phrase[0].rstrip(_ENDS), phrase[1].rstrip(_ENDS))


def _both(value: object, limit: int) -> tuple[str, str] | None:
    """(en, zh) from ``{"en": …, "zh": …}``; one language stands in for a missing other."""
    if isinstance(value, str):
        value = {"en": value}
    if not isinstance(value, dict):
        return None
    texts = {}
    for lang in LANGS:
        text = value.get(lang)
        if isinstance(text, str) and text.strip():
            text = " ".join(clean_text(text).split())
            if len(text) > limit:
                return None
            texts[lang] = text
    if not texts:
        return None
    en = texts.get("en") or texts["zh"]
    return en, texts.get("zh") or en


def find(presets: tuple[Preset, ...], preset_id: object) -> Preset | None:
    return next((p for p in presets if p.id == preset_id), None)


def choices(presets: tuple[Preset, ...], lang: str) -> list[tuple[str, str]]:
    """``(label, id)`` pairs for a dropdown, "No style" first (id ``""``)."""
    return [(tr("preset_none", lang), "")] + [(p.label(lang), p.id) for p in presets]


def prompt_language(prompt: str) -> str:
    return "zh" if _CJK.search(prompt) else "en"


def has_preset(prompt: str, preset: Preset) -> bool:
    return any(preset.phrase(lang) in prompt for lang in LANGS)


def apply_preset(prompt: str, preset: Preset, lang: str | None = None) -> str:
    """``prompt`` with the preset's sentence at its end, in the prompt's language (``lang``
    overrides); unchanged when the preset's phrase is in it already."""
    if has_preset(prompt, preset):
        return prompt
    lang = lang or prompt_language(prompt)
    sentence = preset.sentence(lang)
    text = prompt.rstrip()
    if not text:
        return sentence
    if lang == "zh":
        return f"{text}{'' if text[-1] in _ENDS else '。'}{sentence}"
    return f"{text}{' ' if text[-1] in _ENDS else '. '}{sentence}"


def remove_preset(prompt: str, preset: Preset) -> str:
    """``prompt`` without the preset's sentence (or bare phrase), in either language; the
    rest of the prompt is left as written."""
    text = prompt
    for lang in LANGS:
        for piece in (preset.sentence(lang), preset.phrase(lang)):
            text = text.replace(piece, "")
    if text == prompt:
        return prompt
    return text.rstrip(" \t")
