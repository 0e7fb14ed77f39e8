"""The chat-completion script the benchmarks play on the simulated relay."""

from __future__ import annotations

from suxi.simrelay import (
    Content,
    Done,
    Finish,
    RecordedRequest,
    Script,
    ScriptFactory,
    Sleep,
    Stamp,
)


def progress_script(
    seconds: float, every: float = 1.0, video_url: str | None = None
) -> ScriptFactory:
    """Family B for benchmarks: a progress line every ``every`` s for ``seconds``, then the video.

    Each progress line is ``> 🏃 进度：{pct:.1f}% ⏱{send time:.3f}`` (a ``Stamp``), so a client
    can compare the server's ``time.time()`` at send with its own at receipt.
    """

    def factory(request: RecordedRequest, base_url: str) -> Script:
        url = video_url or f"{base_url}/files/sample.mp4"
        points = max(1, round(seconds / every))
        steps: Script = [Content("> ⌛️ 任务正在队列中，请耐心等待...\n\n")]
        for i in range(1, points + 1):
            steps += [Sleep(every), Stamp(f"> 🏃 进度：{100 * i / points:.1f}% ⏱{{now:.3f}}\n\n")]
        steps += [
            Content(f"> ✅ 视频生成成功，[点击这里]({url}) 查看视频~~~\n\n"),
            Finish("stop"),
            Done(),
        ]
        return steps

    return factory
