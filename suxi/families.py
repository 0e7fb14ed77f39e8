"""Which video model families relays serve, and what each one takes.

Pure data and small lookups, no I/O. The values come from the relay's documentation and from the
task adaptors of new-api, the relay software most relays run; ``docs/model-families.md`` shows the
table and names the sources. Where the two disagree, the relay documentation wins.

A model id is matched by lower-case fragments: the first family in :data:`FAMILIES` with a
fragment contained in the id wins, so more specific families come first (``sora-2-pro`` before
``sora``). Ids nothing matches fall back to :data:`GENERIC`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

Format = Literal["chat", "unified", "openai"]
TASK_FORMATS: tuple[Format, ...] = ("unified", "openai")

ORIENTATIONS = ("landscape", "portrait", "square")


@dataclass(frozen=True)
class Family:
    key: str
    label: str
    match: tuple[str, ...]
    formats: tuple[Format, ...]
    durations: tuple[int, ...]
    default_duration: int | None
    orientations: tuple[str, ...]
    sizes: tuple[str, ...]
    image: bool
    remix: bool
    watermark: bool
    private: bool
    characters: bool


_SORA_FORMATS: tuple[Format, ...] = ("chat", "unified", "openai")

SORA_PRO = Family(
    key="sora-pro",
    label="Sora 2 Pro",
    match=("sora-2-pro", "sora2-pro", "sora_2_pro"),
    formats=_SORA_FORMATS,
    durations=(15, 25),
    default_duration=15,
    orientations=("landscape", "portrait"),
    sizes=("small", "large"),
    image=True,
    remix=True,
    watermark=True,
    private=True,
    characters=True,
)
SORA = Family(
    key="sora",
    label="Sora 2",
    match=("sora",),
    formats=_SORA_FORMATS,
    durations=(10, 15),
    default_duration=10,
    orientations=("landscape", "portrait"),
    sizes=("small", "large"),
    image=True,
    remix=True,
    watermark=True,
    private=True,
    characters=True,
)
VEO = Family(
    key="veo",
    label="Veo 3",
    match=("veo",),
    formats=TASK_FORMATS,
    durations=(4, 6, 8),
    default_duration=8,
    orientations=("landscape", "portrait"),
    sizes=("720p", "1080p"),
    image=True,
    remix=False,
    watermark=False,
    private=False,
    characters=False,
)
GROK = Family(
    key="grok",
    label="Grok Video",
    match=("grok-video", "imagine-video"),
    formats=TASK_FORMATS,
    durations=(6, 10),
    default_duration=6,
    orientations=ORIENTATIONS,
    sizes=("480p", "720p"),
    image=True,
    remix=False,
    watermark=False,
    private=False,
    characters=False,
)
WAN = Family(
    key="wan",
    label="Wan",
    match=("wan2", "wanx", "wan-", "wan_"),
    formats=TASK_FORMATS,
    durations=(5, 10),
    default_duration=5,
    orientations=("landscape", "portrait"),
    sizes=("480p", "720p", "1080p"),
    image=True,
    remix=False,
    watermark=False,
    private=False,
    characters=False,
)
SEEDANCE = Family(
    key="seedance",
    label="Seedance",
    match=("seedance",),
    formats=TASK_FORMATS,
    durations=(5, 10),
    default_duration=5,
    orientations=ORIENTATIONS,
    sizes=("480p", "720p", "1080p"),
    image=True,
    remix=False,
    watermark=True,
    private=False,
    characters=False,
)
KLING = Family(
    key="kling",
    label="Kling",
    match=("kling",),
    formats=TASK_FORMATS,
    durations=(5, 10),
    default_duration=5,
    orientations=ORIENTATIONS,
    sizes=(),
    image=True,
    remix=False,
    watermark=False,
    private=False,
    characters=False,
)
HAILUO = Family(
    key="hailuo",
    label="Hailuo",
    match=("hailuo", "minimax-h", "t2v-01", "i2v-01", "s2v-01"),
    formats=TASK_FORMATS,
    durations=(6, 10),
    default_duration=6,
    orientations=(),
    sizes=("768p", "1080p"),
    image=True,
    remix=False,
    watermark=False,
    private=False,
    characters=False,
)
GENERIC = Family(
    key="generic",
    label="Other video models",
    match=(),
    formats=TASK_FORMATS,
    durations=(),
    default_duration=None,
    orientations=("landscape", "portrait"),
    sizes=(),
    image=True,
    remix=False,
    watermark=False,
    private=False,
    characters=False,
)

FAMILIES: tuple[Family, ...] = (SORA_PRO, SORA, VEO, GROK, WAN, SEEDANCE, KLING, HAILUO, GENERIC)

# Video models of families without an entry (Jimeng, Vidu, …) still say so in their names.
_VIDEO_HINTS = ("video", "t2v", "i2v", "jimeng", "vidu")

# Model ids as relays and new-api's adaptors list them; shown in docs/model-families.md.
_EXAMPLES: dict[str, tuple[str, ...]] = {
    "sora-pro": ("sora-2-pro",),
    "sora": ("sora-2", "sora2-landscape-15s"),
    "veo": ("veo3", "veo3.1-fast", "veo-3.1-generate-preview"),
    "grok": ("grok-video-3", "grok-imagine-video"),
    "wan": ("wan2.5-t2v-preview", "wan2.5-i2v-preview", "wan2.2-i2v-flash"),
    "seedance": ("doubao-seedance-1-0-pro-250528", "doubao-seedance-2-0-260128"),
    "kling": ("kling-v2-1-master", "kling-v2-5-turbo"),
    "hailuo": ("MiniMax-Hailuo-02", "MiniMax-Hailuo-2.3"),
    "generic": ("any other id with “video” in it",),
}


def family_for(model: str) -> Family:
    """The family of a model id; :data:`GENERIC` when no family matches."""
    name = model.lower()
    for family in FAMILIES:
        if any(fragment in name for fragment in family.match):
            return family
    return GENERIC


def is_video_model(model: str) -> bool:
    """True for the models of every known family and for ids that name video."""
    if family_for(model) is not GENERIC:
        return True
    name = model.lower()
    return any(hint in name for hint in _VIDEO_HINTS)


def group_models(names: list[str]) -> list[tuple[str, list[str]]]:
    """Video models grouped by family label in :data:`FAMILIES` order (names sorted inside),
    then ``("Other models", [...])`` with the rest in the relay's order."""
    groups: dict[str, list[str]] = {}
    others: list[str] = []
    for name in names:
        if is_video_model(name):
            groups.setdefault(family_for(name).key, []).append(name)
        else:
            others.append(name)
    out = [
        (family.label, sorted(groups[family.key], key=lambda n: (n.lower(), n)))
        for family in FAMILIES
        if family.key in groups
    ]
    if others:
        out.append(("Other models", others))
    return out


# Short side of the picture per size word; "large" is Sora's 1792x1024 step.
_SHORT_SIDE = {"small": 720, "480p": 480, "720p": 720, "768p": 768, "1080p": 1080}
_LONG_SIDE = {480: 854, 720: 1280, 768: 1366, 1080: 1920}
_DIMENSIONS = re.compile(r"^\s*(\d{2,5})\s*[x*]\s*(\d{2,5})\s*$")


def openai_size(orientation: str | None, size: str | None) -> str | None:
    """The OpenAI-format ``size`` ("1280x720", …) for an orientation and a size word.

    ``None`` when neither is asked, or the size word is unknown. Landscape and ``small`` are the
    defaults for whichever of the two is missing; an explicit ``WxH`` passes through.
    """
    if not orientation and not size:
        return None
    word = (size or "small").strip().lower()
    explicit = _DIMENSIONS.match(word)
    if explicit:
        return f"{int(explicit.group(1))}x{int(explicit.group(2))}"
    if word == "large":
        wide, short = 1792, 1024
    elif word in _SHORT_SIDE:
        short = _SHORT_SIDE[word]
        wide = _LONG_SIDE[short]
    else:
        return None
    if orientation == "square":
        return f"{short}x{short}"
    if orientation == "portrait":
        return f"{short}x{wide}"
    return f"{wide}x{short}"


def _cell(values: tuple[object, ...], default: object = None) -> str:
    if not values:
        return "—"
    text = ", ".join(str(v) for v in values)
    return f"{text} (default {default})" if default is not None else text


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def markdown_table() -> str:
    """The family table of ``docs/model-families.md``, rendered from :data:`FAMILIES`."""
    header = (
        "| Family | Example model ids | Formats | Durations (s) | Orientations | Sizes "
        "| Image | Remix | Watermark | Private | Characters |"
    )
    rule = "|" + "---|" * 11
    rows = [header, rule]
    for f in FAMILIES:
        examples = ", ".join(f"`{e}`" if e.isascii() else e for e in _EXAMPLES.get(f.key, ()))
        cells = [
            f.label,
            examples,
            ", ".join(f.formats),
            _cell(f.durations, f.default_duration),
            _cell(f.orientations),
            _cell(f.sizes),
            _yes(f.image),
            _yes(f.remix),
            _yes(f.watermark),
            _yes(f.private),
            _yes(f.characters),
        ]
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows) + "\n"
