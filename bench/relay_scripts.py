"""What the simulated relay plays in the benchmarks: chat scripts and a task timeline."""

from __future__ import annotations

from suxi.simrelay import (
    Content,
    Done,
    Finish,
    Frame,
    RecordedRequest,
    Script,
    ScriptFactory,
    Sleep,
    Stamp,
    TaskPlan,
)

QUEUED_LINE = "> ⌛️ 任务正在队列中，请耐心等待...\n\n"


def _video_line(url: str) -> Script:
    return [
        Content(f"> ✅ 视频生成成功，[点击这里]({url}) 查看视频~~~\n\n"),
        Finish("stop"),
        Done(),
    ]


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
        steps: Script = [Content(QUEUED_LINE)]
        for i in range(1, points + 1):
            steps += [Sleep(every), Stamp(f"> 🏃 进度：{100 * i / points:.1f}% ⏱{{now:.3f}}\n\n")]
        return steps + _video_line(url)

    return factory


def silent_script(seconds: float, video_url: str | None = None) -> ScriptFactory:
    """A job whose relay says it is queued and then sends nothing for ``seconds``."""

    def factory(request: RecordedRequest, base_url: str) -> Script:
        url = video_url or f"{base_url}/files/sample.mp4"
        return [Content(QUEUED_LINE), Sleep(seconds), *_video_line(url)]

    return factory


def long_task(seconds: float, step: float = 60.0) -> TaskPlan:
    """A task that runs for ``seconds`` (at speed 1), its progress moving every ``step`` s:
    most polls of it change nothing, as with a real task of several minutes."""
    frames = [Frame(0, "queued", 0, position=1), Frame(2, "running", 1)]
    at = step
    while at < seconds:
        frames.append(Frame(at, "running", round(100 * at / seconds)))
        at += step
    frames.append(Frame(seconds, "done", 100))
    return TaskPlan(tuple(frames))
