"""The messages a chat-format generation sends. Pure.

The chat format has no fields for orientation, duration or a starting image
(docs/relay-protocol.md, "Chat format"): orientation and duration become words in the
prompt the relay understands (横屏 / 竖屏, 16:9 / 9:16, "15秒"), the image becomes an
``image_url`` content part, and a modification resends the whole conversation with the previous
answer verbatim. The visitor's own prompt is stored and shown without these hints.
"""

from __future__ import annotations

from typing import Any

from .generation import GenerationOptions

Message = dict[str, Any]

ORIENTATION_HINTS = {"landscape": "横屏 16:9", "portrait": "竖屏 9:16", "square": "方形 1:1"}


def prompt_with_hints(prompt: str, options: GenerationOptions) -> str:
    hints = []
    if options.orientation in ORIENTATION_HINTS:
        hints.append(ORIENTATION_HINTS[options.orientation])
    if options.duration:
        hints.append(f"{options.duration}秒")
    return f"{prompt}\n\n（{'，'.join(hints)}）" if hints else prompt


def user_message(text: str, image_url: str | None = None) -> Message:
    if not image_url:
        return {"role": "user", "content": text}
    return {
        "role": "user",
        "content": [
            {"type": "text", "text": text},
            {"type": "image_url", "image_url": {"url": image_url}},
        ],
    }


def first_messages(
    prompt: str, options: GenerationOptions, image_url: str | None = None
) -> tuple[Message, ...]:
    return (user_message(prompt_with_hints(prompt, options), image_url),)


def modification_messages(
    earlier: tuple[Message, ...] | list[Message],
    answer: str,
    instruction: str,
    options: GenerationOptions,
) -> tuple[Message, ...]:
    """The earlier conversation, the relay's answer verbatim (it carries ``sid: s_…``), then
    the new instruction."""
    return (
        *earlier,
        {"role": "assistant", "content": answer},
        user_message(prompt_with_hints(instruction, options)),
    )
