"""The messages a generation sends. Pure.

Chat format has no fields for orientation, duration or a starting image (relay-protocol.md,
"Other relay endpoints"): orientation and duration become words in the prompt the relay
understands (横屏 / 竖屏, 16:9 / 9:16, "15秒"), the image becomes an ``image_url`` content part,
and a modification resends the whole conversation with the previous answer verbatim.
"""

from __future__ import annotations

from typing import Any

Message = dict[str, Any]

ORIENTATION_HINTS = {"landscape": "横屏 16:9", "portrait": "竖屏 9:16"}
DURATIONS = ("10", "15")


def prompt_with_hints(prompt: str, orientation: str = "auto", duration: str = "auto") -> str:
    hints = []
    if orientation in ORIENTATION_HINTS:
        hints.append(ORIENTATION_HINTS[orientation])
    if str(duration) in DURATIONS:
        hints.append(f"{duration}秒")
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
    prompt: str, orientation: str = "auto", duration: str = "auto", image_url: str | None = None
) -> list[Message]:
    return [user_message(prompt_with_hints(prompt, orientation, duration), image_url)]


def modification_messages(
    earlier: list[Message],
    answer: str,
    instruction: str,
    orientation: str = "auto",
    duration: str = "auto",
) -> list[Message]:
    """The earlier conversation, the relay's answer verbatim (it carries ``sid: s_…``), then
    the new instruction."""
    return [
        *earlier,
        {"role": "assistant", "content": answer},
        user_message(prompt_with_hints(instruction, orientation, duration)),
    ]
