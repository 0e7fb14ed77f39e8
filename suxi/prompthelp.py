""" "Improve my prompt": one chat call to a text model on the same relay.

The model is ``SUXI_PROMPT_MODEL``, else the best chat model the relay lists
(:func:`pick_prompt_model`). It is told to add camera, light, motion and sound detail without
changing the idea and to answer in the prompt's language with only the prompt; whatever it sends
is cleaned (:func:`clean_answer`) before the person sees it. The call is not streamed, but a
relay that streams anyway (Server-Sent Events) is read too.

Limits (who may ask how often on the operator's key) are the studio's business
(:meth:`suxi.studio.Studio.improve_prompt`); this module only talks to the relay.
"""

from __future__ import annotations

import re

from .errors import BadReplyError
from .families import is_video_model
from .relay.bodies import error_text
from .relay.http import RelayHTTP, parse_json, read_capped
from .sse import SSEDecoder, StreamOverflow
from .textsafe import clean_text, loads_json

CHAT_PATH = "/v1/chat/completions"
MAX_REPLY = 1024 * 1024  # one improved prompt, with room for a reasoning model's thoughts
MAX_TOKENS = 4096

# Well-known chat models, best first: small and quick before large.
PREFERRED = (
    "gpt-4o-mini",
    "gpt-4.1-mini",
    "gpt-4.1-nano",
    "gpt-4o",
    "gpt-4.1",
    "deepseek-chat",
    "deepseek-v3",
    "claude-3-5-haiku",
    "claude-haiku",
    "claude-3-haiku",
    "gemini-2.0-flash",
    "gemini-2.5-flash",
    "qwen-plus",
    "qwen-turbo",
    "glm-4-flash",
)
CHAT_FAMILIES = (
    "gpt-",
    "chatgpt",
    "claude",
    "deepseek",
    "gemini",
    "qwen",
    "glm",
    "llama",
    "mistral",
    "moonshot",
    "kimi",
    "doubao",
    "yi-",
    "ernie",
    "hunyuan",
    "grok",
)
# Models that do not chat in text (or do not chat at all).
NOT_CHAT = (
    "embed",
    "tts",
    "whisper",
    "dall-e",
    "dalle",
    "image",
    "moderation",
    "rerank",
    "audio",
    "realtime",
    "transcribe",
    "speech",
    "midjourney",
    "mj_",
    "mj-",
    "suno",
    "flux",
    "stable-diffusion",
    "sdxl",
    "sd3",
    "ocr",
)
REASONING = re.compile(r"(^o\d)|(-r1\b)|reasoner|thinking")

SYSTEM = (
    "You improve prompts for a text-to-video model. Rewrite the user's prompt as one richer "
    "prompt that adds concrete camera detail (shot size, lens, angle, movement), light, motion "
    "and sound, while keeping the idea, the subjects, the setting, any names, any @mentions "
    "and any stated length or orientation exactly as given; do not add new events. Write in "
    "the same language as the user's prompt. Reply with ONLY the improved prompt: no title, "
    "no quotation marks, no explanation, no Markdown. Keep it under {limit} characters."
)


def pick_prompt_model(names: list[str], configured: str = "") -> str | None:
    """The chat model prompt help uses: ``configured`` when set, else the best text model of
    the relay's list (well-known small models first, reasoning models late); None if the
    list holds no text model."""
    if configured.strip():
        return configured.strip()
    ranked: list[tuple[int, int, str]] = []
    for order, name in enumerate(names):
        low = name.lower()
        if is_video_model(name) or any(word in low for word in NOT_CHAT):
            continue
        ranked.append((_rank(low), order, name))
    return min(ranked)[2] if ranked else None


def _rank(low: str) -> int:
    if low in PREFERRED:
        return PREFERRED.index(low)
    for index, preferred in enumerate(PREFERRED):
        if low.startswith(preferred):
            return 50 + index
    if REASONING.search(low):
        return 300
    if low.startswith(CHAT_FAMILIES):
        return 100
    return 400


def request_body(prompt: str, model: str, limit: int) -> dict:
    return {
        "model": model,
        "stream": False,
        "max_tokens": min(MAX_TOKENS, max(512, limit)),
        "messages": [
            {"role": "system", "content": SYSTEM.format(limit=limit)},
            {"role": "user", "content": prompt},
        ],
    }


async def improve(http: RelayHTTP, key: str, prompt: str, model: str, *, limit: int) -> str:
    """The improved prompt, cleaned and at most ``limit`` characters. One paid call; relay
    errors raise the package's errors (AuthError, QuotaError …), an empty or unreadable
    answer BadReplyError."""
    async with http.stream(
        "POST",
        CHAT_PATH,
        key=key,
        json=request_body(prompt, model, limit),
        headers={"Accept": "application/json"},
    ) as response:
        ctype = response.headers.get("content-type", "").lower()
        raw = await read_capped(response, MAX_REPLY, overflow_is_error=True)
    if "event-stream" in ctype or raw.lstrip().startswith(b"data:"):
        text = _streamed_text(raw)
    else:
        text = _completion_text(parse_json(raw, cap=MAX_REPLY))
    return clean_answer(text, limit)


def _completion_text(body: object) -> str:
    if not isinstance(body, dict):
        raise BadReplyError("not_completion")
    if body.get("error"):
        raise BadReplyError("error", relay_text=error_text(body["error"]))
    choices = body.get("choices")
    first = choices[0] if isinstance(choices, list) and choices else None
    if not isinstance(first, dict):
        raise BadReplyError("no_choices")
    message = first.get("message") if isinstance(first.get("message"), dict) else {}
    content = message.get("content", first.get("text"))
    return _content_text(content)


def _content_text(content: object) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts
        return "".join(
            str(part.get("text", ""))
            for part in content
            if isinstance(part, dict) and part.get("type") in ("text", "output_text")
        )
    return ""


def _streamed_text(raw: bytes) -> str:
    decoder = SSEDecoder(max_line=MAX_REPLY, max_event=MAX_REPLY)
    try:
        payloads = decoder.feed(raw) + decoder.close()
    except StreamOverflow as err:
        raise BadReplyError("stream_overflow") from err
    pieces: list[str] = []
    for payload in payloads:
        if payload.strip().startswith("[DONE]"):
            break
        chunk = loads_json(payload, max_bytes=MAX_REPLY)
        if not isinstance(chunk, dict):
            continue
        if chunk.get("error"):
            raise BadReplyError("error", relay_text=error_text(chunk["error"]))
        for choice in chunk.get("choices") or []:
            delta = choice.get("delta") if isinstance(choice, dict) else None
            if isinstance(delta, dict):
                pieces.append(_content_text(delta.get("content")))
    return "".join(pieces)


# ------------------------------------------------------------------------------------ cleaning

_THINK = re.compile(r"<think>.*?(?:</think>|\Z)", re.DOTALL | re.IGNORECASE)
_FENCE = re.compile(r"^```[\w-]*[ \t]*\n?(.*?)\n?```$", re.DOTALL)
_LABEL = re.compile(
    r"^(?:\*\*)?(?:(?:improved|enhanced|rewritten|refined|optimi[sz]ed)\s+)?prompt"
    r"(?:\*\*)?\s*[:：](?:\*\*)?"
    r"|^(?:\*\*)?(?:优化后的?|改写后的?|润色后的?)?提示词(?:\*\*)?\s*[:：](?:\*\*)?",
    re.IGNORECASE,
)
_QUOTES = (('"', '"'), ("“", "”"), ("'", "'"), ("‘", "’"), ("「", "」"), ("『", "』"), ("《", "》"))
_SENTENCE_END = re.compile(r"[.!?。！？](?=\s|$)|[。！？]")


def clean_answer(text: str, limit: int) -> str:
    """Only the prompt: valid text without reasoning blocks, code fences, a leading label or
    wrapping quotes, cut to ``limit`` characters (at a sentence end when one is near)."""
    text = _THINK.sub("", clean_text(text)).strip()
    for _ in range(3):  # fences, labels and quotes may wrap each other
        before = text
        fenced = _FENCE.match(text)
        if fenced:
            text = fenced.group(1).strip()
        text = _LABEL.sub("", text, count=1).strip()
        for opening, closing in _QUOTES:
            if len(text) >= 2 and text.startswith(opening) and text.endswith(closing):
                inner = text[1:-1]
                if opening not in inner and closing not in inner:
                    text = inner.strip()
        if text == before:
            break
    text = re.sub(r"\n{3,}", "\n\n", text)
    if len(text) > limit:
        text = _cut(text, limit)
    if not text:
        raise BadReplyError("empty")
    return text


def _cut(text: str, limit: int) -> str:
    head = text[:limit]
    ends = [m.end() for m in _SENTENCE_END.finditer(head)]
    if ends and ends[-1] >= limit * 0.6:
        return head[: ends[-1]].strip()
    return head.rstrip()
