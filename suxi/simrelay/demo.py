"""What the offline demo plays: a family-A chat generation and the default task timeline.

Both last about 45 s at speed 1 and end with the relay's own ``/files/sample.mp4`` and
``/files/thumb.webp``. The transcript is a reconstruction from public relay software and the
clients that parse it, not a capture of a production relay.
"""

from __future__ import annotations

import json
import random
import secrets
import time

from .plans import Frame, encode
from .steps import Content, Done, Finish, RecordedRequest, Script, Send, Sleep, user_prompt


def new_chat_task_id(model: str = "sora-2") -> str:
    """A task id in new-api's shape that carries its creation time, so that after a restart
    "Check again" can ask the task routes about it and get the default timeline's answer."""
    return encode("generations", model, int(time.time() * 1000), 1280, 720, 10)


def typed(text: str, seconds: float, field: str = "content") -> Script:
    """``text`` in pieces of 1-4 characters spread over ``seconds``, as relays stream tokens."""
    pieces: list[str] = []
    i = 0
    while i < len(text):
        n = random.randint(1, 4)
        pieces.append(text[i : i + n])
        i += n
    gap = seconds / max(len(pieces), 1)
    steps: Script = []
    for piece in pieces:
        steps += [Sleep(gap), Content(piece, field)]
    return steps


def demo_script(request: RecordedRequest, base_url: str) -> Script:
    """Family A, about 45 s at speed 1: echo, task header, queue, progress, thumbnail, video."""
    prompt = user_prompt(request)
    task = new_chat_task_id()
    sid = "s_" + secrets.token_hex(16)
    echo = json.dumps(
        {"prompt": prompt, "orientation": "landscape", "duration": 5}, ensure_ascii=False
    )
    steps: Script = []
    steps += typed(f"```json\n{echo}\n```\n\n", 2.5)
    steps += typed(
        f"> ID: `{task}`\n"
        f">[数据预览](https://asyncdata.net/web/{task}) | "
        f"[原始数据](https://asyncdata.net/source/{task})\n\n",
        1.0,
    )
    steps += typed("> 排队中", 0.3)
    for i in range(10):
        steps += [Sleep(0.8), Content(".")]
        if i == 5:
            steps.append(Send(b": PING\n\n"))
    steps.append(Sleep(0.5))
    steps += typed("\n\n> 生成中", 0.3)
    for _ in range(3):
        steps += [Sleep(0.7), Content(".")]
    steps += typed("\n\n>🏃 进度 ", 0.2)
    for pct in (3, 11, 24, 36, 44, 61, 81, 93):
        steps += [Sleep(3.4), Content(f"{pct}..")]
    steps.append(Sleep(2.0))
    steps += typed(
        f"\n\n> 生成完成 ✅\n\n> sid: {sid}\n\n"
        f"![预览]({base_url}/files/thumb.webp)\n\n"
        f"[在线播放▶️]({base_url}/files/sample.mp4)\n\n",
        1.2,
    )
    steps += [Finish("stop"), Done()]
    return steps


def _timeline() -> tuple[Frame, ...]:
    frames = [Frame(0, "queued", 0, position=3), Frame(3, "queued", 0, position=2)]
    frames.append(Frame(6, "queued", 0, position=1))
    for i, pct in enumerate((3, 11, 24, 36, 44, 61, 81, 93)):
        frames.append(Frame(9 + 4 * i, "running", pct))
    frames.append(Frame(44, "done", 100))
    return tuple(frames)


# Queued with a falling queue position for 9 s, then rising percent, done at 44 s (speed 1).
DEFAULT_TIMELINE: tuple[Frame, ...] = _timeline()
