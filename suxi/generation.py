"""What one generation asks for, checked once, as frozen values.

The page, the API and the command line all turn their inputs into :class:`GenerationOptions`
(with :func:`options_from`) as a handler starts; everything after that — admission, the job
record, the backends — reads these values, never the raw inputs. A value the chosen model does
not take is an :class:`~suxi.errors.InputError` with a sentence naming what it does take
(docs/model-families.md).
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass, field
from typing import Any

from .errors import InputError
from .families import Family, family_for
from .kinds import Kind
from .textsafe import clean_text

MAX_TOKENS_RANGE = (1, 100_000)
MODEL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/-]{0,99}")
FORMAT_CHOICES = ("auto", "chat", "unified", "openai")
TASK_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9:_.-]{0,199}")


@dataclass(frozen=True)
class GenerationOptions:
    """The options of one job, as asked (the relay may apply something else: see the job's
    ``understood``)."""

    model: str
    format: str = "auto"  # auto | chat | unified | openai
    orientation: str = "auto"  # auto | landscape | portrait | square
    duration: int | None = None  # seconds; None = the model's default
    size: str | None = None  # a family's size value ("small", "720p", …); None = default
    watermark: bool = True  # False asks for no watermark (families that take it)
    private: bool = False
    max_tokens: int = 1000  # chat format only: how long the relay's text reply may be
    stream: bool = True  # chat format only

    @property
    def family(self) -> Family:
        return family_for(self.model)

    def asked(self) -> dict[str, Any]:
        """The options worth showing next to what the relay applied."""
        out: dict[str, Any] = {}
        if self.orientation != "auto":
            out["orientation"] = self.orientation
        if self.duration is not None:
            out["duration"] = self.duration
        if self.size is not None:
            out["size"] = self.size
        return out

    def to_json(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}

    @classmethod
    def from_json(cls, data: dict[str, Any] | None, model: str) -> GenerationOptions:
        data = dict(data or {})
        data["model"] = data.get("model") or model
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)


@dataclass(frozen=True)
class StartImage:
    """A starting frame: an https link the relay fetches, or a prepared picture (data URL)."""

    link: str | None = None
    data_url: str | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return self.link or self.data_url or ""

    def file_part(self) -> tuple[str, bytes, str]:
        """(file name, bytes, content type) for a multipart upload."""
        if not self.data_url:
            raise ValueError("a link has no bytes")
        head, _, body = self.data_url.partition(",")
        mime = head[5:].split(";")[0] or "image/jpeg"
        ext = "png" if mime.endswith("png") else "jpg"
        return f"start.{ext}", base64.b64decode(body), mime


@dataclass(frozen=True)
class GenerationRequest:
    """Everything a backend needs to make one video (never the key)."""

    prompt: str  # what the visitor wrote
    options: GenerationOptions
    image: StartImage | None = None
    messages: tuple[dict[str, Any], ...] = ()  # chat format: the conversation sent
    remix_of: str | None = None  # task formats: the finished task this one changes


def check_prompt(prompt: object, limit: int) -> str:
    text = clean_text(prompt.strip()) if isinstance(prompt, str) else ""
    if not text:
        raise InputError(Kind.EMPTY_PROMPT)
    if len(text) > limit:
        raise InputError(Kind.PROMPT_TOO_LONG, length=len(text), limit=limit)
    return text


def check_max_tokens(value: object, ceiling: int | None = None) -> int:
    low, high = MAX_TOKENS_RANGE
    high = min(high, ceiling) if ceiling else high
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        number = float("nan")
    if number != number or not number.is_integer() or not low <= number <= high:
        raise InputError(Kind.BAD_MAX_TOKENS, low=low, high=high)
    return int(number)


def check_model(model: object, default: str) -> str:
    name = model.strip() if isinstance(model, str) else ""
    if not name:
        return default
    if not MODEL_NAME.fullmatch(name):
        raise InputError(Kind.BAD_MODEL)
    return name


def is_task_id(value: object) -> bool:
    """A task id the app may put into a URL path (checked before every use)."""
    return isinstance(value, str) and bool(TASK_ID.fullmatch(value))


def _choice(value: object, allowed: tuple[str, ...], name: str, model: str) -> str:
    text = str(value if value not in (None, "") else "auto").strip().lower()
    if text not in allowed:
        shown = ", ".join(allowed)
        raise InputError(Kind.BAD_OPTION, model=model, name=name, value=text[:40], allowed=shown)
    return text


def options_from(
    *,
    model: object,
    default_model: str,
    format: object = "auto",
    orientation: object = "auto",
    duration: object = "auto",
    size: object = "auto",
    watermark: object = True,
    private: object = False,
    max_tokens: object = 1000,
    stream: object = True,
    max_tokens_ceiling: int | None = None,
) -> GenerationOptions:
    """Raw inputs (strings from a form or the API) → checked options for this model."""
    name = check_model(model, default_model)
    family = family_for(name)
    fmt = _choice(format, FORMAT_CHOICES, "format", name)
    orientations = ("auto", *family.orientations)
    shape = _choice(orientation, orientations, "orientation", name)
    seconds: int | None = None
    raw_duration = str(duration if duration not in (None, "") else "auto").strip().lower()
    raw_duration = raw_duration.removesuffix("s").strip()
    if raw_duration != "auto":
        allowed = tuple(str(d) for d in family.durations) or ("auto",)
        seconds = int(_choice(raw_duration, allowed, "duration", name))
    raw_size = str(size if size not in (None, "") else "auto").strip().lower()
    chosen_size = None
    if raw_size != "auto":
        chosen_size = _choice(raw_size, ("auto", *family.sizes), "size", name)
    return GenerationOptions(
        model=name,
        format=fmt,
        orientation=shape,
        duration=seconds,
        size=chosen_size if chosen_size != "auto" else None,
        watermark=bool(watermark) if family.watermark else True,
        private=bool(private) and family.private,
        max_tokens=check_max_tokens(max_tokens, max_tokens_ceiling),
        stream=bool(stream),
    )
