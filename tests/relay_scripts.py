"""Chat-completion scripts of relay families B and C, for tests that need more than the demo.

Reconstructions from public relay software and the clients that parse it, not captures of a
production relay.
"""

from __future__ import annotations

import json
from typing import Any

from suxi.simrelay import (
    Data,
    Done,
    RecordedRequest,
    Script,
    ScriptFactory,
    Sleep,
    completion_chunk,
    request_model,
    user_prompt,
)


def family_b_script(video_url: str | None = None, seconds: float = 20.0) -> ScriptFactory:
    """Family B: one whole line per state, Go-escaped JSON, usage in the last chunk."""

    def factory(request: RecordedRequest, base_url: str) -> Script:
        url = video_url or f"{base_url}/files/sample.mp4"
        model = request_model(request)

        def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> Data:
            return Data(completion_chunk(delta, finish, model=model, go_escape=True, extra=extra))

        echo = json.dumps(
            {"prompt": user_prompt(request), "mode": "横屏模式"}, ensure_ascii=False, indent=4
        )
        points = max(1, int(seconds // 3))
        gap = seconds / (points + 2)
        steps: Script = [
            chunk({"role": "assistant"}),
            chunk({"content": f"```json\n{echo}\n```\n\n"}),
            Sleep(gap),
            chunk({"content": "> ⌛️ 任务正在队列中，请耐心等待...\n\n"}),
        ]
        for i in range(1, points + 1):
            steps += [
                Sleep(gap),
                chunk({"content": f"> 🏃 进度：{100 * i / (points + 1):.1f}%\n\n"}),
            ]
        steps += [
            Sleep(gap),
            chunk({"content": f"> ✅ 视频生成成功，[点击这里]({url}) 查看视频~~~\n\n"}),
            chunk(
                {},
                "stop",
                usage={"prompt_tokens": 14, "completion_tokens": 240, "total_tokens": 254},
            ),
            Done(),
        ]
        return steps

    return factory


def family_c_script(video_url: str | None = None, seconds: float = 20.0) -> ScriptFactory:
    """Family C (sora2api): progress in ``reasoning_content``, ``<video>`` answer, ``STOP``."""

    def factory(request: RecordedRequest, base_url: str) -> Script:
        url = video_url or f"{base_url}/files/sample.mp4"
        model = request_model(request)

        def chunk(
            content: str | None = None,
            reasoning: str | None = None,
            finish: str | None = None,
            role: bool = False,
        ) -> Data:
            delta: dict[str, Any] = {
                "content": content,
                "reasoning_content": reasoning,
                "tool_calls": None,
            }
            if role:
                delta = {"role": "assistant", **delta}
            return Data(completion_chunk(delta, finish, model=model))

        points = max(1, int(seconds // 3))
        gap = seconds / (points + 1)
        steps: Script = [chunk(reasoning="**Generation Process Begins**\n\n", role=True)]
        for i in range(1, points + 1):
            pct = round(100 * i / (points + 1))
            status = "queued" if i == 1 else "processing" if i == points else "running"
            progress = f"**Video Generation Progress**: {pct}% ({status})\n\n"
            steps += [Sleep(gap), chunk(reasoning=progress)]
        steps += [
            Sleep(gap),
            chunk(reasoning="**Video Generation Completed**\n\n"),
            chunk(content=f"```html\n<video src='{url}' controls></video>\n```", finish="STOP"),
            Done(),
        ]
        return steps

    return factory
