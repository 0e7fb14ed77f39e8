"""The relay's own progress lines → what the page says, in the page's language. Pure.

Relays write their progress as free text in Chinese or English (docs/relay-protocol.md, families
A, B and C). The page never shows those lines as they came: each known phrase becomes one of a
few steps the app words itself (queued, generating, progress, finished, video link received);
identifiers (task id, sid) and status pages go under "Details"; a failure reason is kept in the
relay's own words, quoted and labelled. Unknown lines appear only under Details.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# A stored line is complete, so its last bare number counts too ("进度 36..44..61").
PERCENT = re.compile(r"(\d{1,3}(?:\.\d+)?)\s*(?:%|\.\.|$)")
STEPS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("step_failed", re.compile(r"❌|错误|失败|\b(?:failed|error|violation)\b", re.I)),
    ("step_identifier", re.compile(r"^\s*(?:task\s*)?(?:ID|sid)\s*[:：]", re.I)),
    ("step_status_pages", re.compile(r"数据预览|原始数据|data preview|raw data", re.I)),
    ("step_progress", re.compile(r"进度|progress", re.I)),
    (
        "step_done",
        re.compile(r"生成完成|生成成功|视频生成成功|completed|finished|succeeded|✅", re.I),
    ),
    (
        "step_video_link",
        re.compile(
            r"在线播放|在线观看|点击下载|下载视频|点击这里|查看视频|play online|watch|download",
            re.I,
        ),
    ),
    ("step_picture", re.compile(r"^\s*(?:预览|preview|thumbnail)\s*$", re.I)),
    ("step_queued", re.compile(r"排队|队列|queued|pending|in queue|process begins|等待", re.I)),
    (
        "step_generating",
        re.compile(r"生成中|正在生成|running|processing|generating|in_progress", re.I),
    ),
)
HIDDEN = {"step_identifier", "step_status_pages", "step_picture"}


@dataclass(frozen=True)
class Step:
    key: str  # a key of suxi.texts ("step_progress", …), or "" for a line shown only in Details
    percent: float | None = None
    quote: str = ""  # the relay's own words (failures)


def read_line(line: str) -> Step:
    for key, pattern in STEPS:
        if not pattern.search(line):
            continue
        if key in HIDDEN:
            return Step("")
        if key == "step_failed":
            return Step(key, quote=line.strip()[:300])
        if key == "step_progress":
            found = PERCENT.findall(line)
            return Step(key, percent=min(float(found[-1]), 100.0)) if found else Step("")
        return Step(key)
    return Step("")


def steps(lines: tuple[str, ...] | list[str]) -> list[Step]:
    """The steps the relay's lines amount to, in order, each said once (progress lines fold
    into one step that shows the latest percentage)."""
    out: list[Step] = []
    for line in lines:
        step = read_line(line)
        if not step.key:
            continue
        if out and out[-1].key == step.key:
            out[-1] = step  # "Progress 36%" then "44%": one step, latest figure
            continue
        if any(s.key == step.key and step.key != "step_progress" for s in out):
            continue
        out.append(step)
    return out
