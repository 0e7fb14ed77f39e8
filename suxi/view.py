"""Job records → what the page shows. Pure functions of (record, now, language): no Gradio.

Everything the relay wrote is escaped: nothing it sends is ever rendered as HTML.
"""

from __future__ import annotations

from html import escape

from .messages import explain
from .store import JobRecord

STATE_WORDS = {
    "pending": {"en": "Waiting to start", "zh": "等待开始"},
    "queued": {"en": "Queued", "zh": "排队中"},
    "generating": {"en": "Generating", "zh": "生成中"},
    "downloading": {"en": "Saving the video", "zh": "正在保存视频"},
    "done": {"en": "Done", "zh": "完成"},
    "failed": {"en": "Failed", "zh": "失败"},
    "interrupted": {"en": "Interrupted", "zh": "已中断"},
    "cancelled": {"en": "Stopped", "zh": "已停止"},
    "idle": {"en": "Ready", "zh": "就绪"},
}
TEXT = {
    "elapsed": {"en": "Elapsed", "zh": "已用时"},
    "waiting_nostream": {
        "en": "Waiting for the relay: without streaming there is no progress until the video "
        "is ready.",
        "zh": "正在等待中转站：关闭流式时，视频完成前不会有进度。",
    },
    "understood": {"en": "What the relay understood", "zh": "中转站的理解"},
    "prompt": {"en": "Prompt", "zh": "提示词"},
    "orientation": {"en": "Orientation", "zh": "方向"},
    "duration": {"en": "Duration", "zh": "时长"},
    "task": {"en": "Task", "zh": "任务"},
    "asked": {"en": "asked", "zh": "要求"},
    "made_from": {"en": "Made from “{prompt}”.", "zh": "由“{prompt}”修改而来。"},
    "relay_lines": {"en": "Relay messages", "zh": "中转站消息"},
    "idle_hint": {
        "en": "Describe a video and press Generate. Progress appears here.",
        "zh": "描述一个视频并点击“生成”，进度会显示在这里。",
    },
    "done_in": {"en": "Done in {t}.", "zh": "完成，用时 {t}。"},
    "working": {"en": "{state}… {t}", "zh": "{state}… {t}"},
}


def t(key: str, lang: str, **values: object) -> str:
    table = TEXT[key]
    return table.get(lang, table["en"]).format(**values)


def state_word(state: str, lang: str) -> str:
    words = STATE_WORDS.get(state, STATE_WORDS["idle"])
    return words.get(lang, words["en"])


def clock(seconds: float) -> str:
    seconds = max(0, int(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def elapsed(record: JobRecord, now: float) -> float:
    return (record.finished or now) - record.created


def status_line(record: JobRecord | None, now: float, lang: str) -> str:
    """One plain sentence: the state while running, the outcome when it ended."""
    if record is None:
        return ""
    if record.state == "done":
        return t("done_in", lang, t=clock(elapsed(record, now)))
    if record.state in ("failed", "interrupted", "cancelled"):
        kind = record.error_kind or record.state
        if kind == "proxy_timeout" and not record.params.get("stream", True):
            kind = "proxy_timeout_nostream"
        return explain(kind, lang, record.relay_text, **_values(record))
    state = state_word(record.state, lang)
    if record.percent is not None and record.state == "generating":
        state = f"{state} {record.percent:.0f}%"
    return t("working", lang, state=state, t=clock(elapsed(record, now)))


def _applied(record: JobRecord, key: str, lang: str) -> object:
    """What the relay applied, next to what was asked when they are not the same words."""
    value = (record.understood or {}).get(key)
    asked = record.params.get(key)
    if asked in (None, "", "auto") or str(asked) == str(value):
        return value
    return f"{value if value not in (None, '') else '—'} ({t('asked', lang)}: {asked})"


def _values(record: JobRecord) -> dict[str, object]:
    return {"retry_after": record.params.get("retry_after", "")}


def panel_html(record: JobRecord | None, now: float, lang: str) -> str:
    """The progress panel: state badge, a real progress bar, the elapsed clock, what the relay
    understood and its own lines."""
    if record is None:
        return (
            f'<div class="suxi-panel idle"><div class="suxi-head">'
            f'<span class="suxi-state state-idle">{escape(state_word("idle", lang))}</span></div>'
            f'<p class="suxi-hint">{escape(t("idle_hint", lang))}</p></div>'
        )
    state = record.state
    percent = record.percent if record.percent is not None else 0.0
    if state == "done":
        percent = 100.0
    busy = record.running
    bar_class = "suxi-bar busy" if busy and record.percent is None else "suxi-bar"
    parts = [
        f'<div class="suxi-panel state-{escape(state)}">',
        '<div class="suxi-head">',
        f'<span class="suxi-state state-{escape(state)}">{escape(state_word(state, lang))}</span>',
        f'<span class="suxi-percent">{percent:.0f}%</span>'
        if record.percent is not None or state == "done"
        else "",
        f'<span class="suxi-clock" title="{escape(t("elapsed", lang))}">⏱ '
        f"{clock(elapsed(record, now))}</span>",
        "</div>",
        f'<div class="{bar_class}" role="progressbar" aria-valuemin="0" aria-valuemax="100" '
        f'aria-valuenow="{percent:.0f}"><div class="suxi-fill" style="width:{percent:.1f}%">'
        "</div></div>",
    ]
    if busy and not record.params.get("stream", True):
        parts.append(f'<p class="suxi-hint">{escape(t("waiting_nostream", lang))}</p>')
    if record.understood:
        rows = [
            (t(key, lang), _applied(record, key, lang))
            for key in ("prompt", "orientation", "duration")
        ]
        cells = "".join(
            f"<dt>{escape(label)}</dt><dd>{escape(str(value))}</dd>"
            for label, value in rows
            if value not in (None, "")
        )
        parts.append(
            f'<details class="suxi-understood" open><summary>{escape(t("understood", lang))}'
            f"</summary><dl>{cells}</dl></details>"
        )
    if record.lines:
        items = "".join(f"<li>{escape(line)}</li>" for line in record.lines[-8:])
        parts.append(
            f'<div class="suxi-lines" aria-label="{escape(t("relay_lines", lang))}">'
            f"<ul>{items}</ul></div>"
        )
    if record.task_id:
        parts.append(
            f'<p class="suxi-task">{escape(t("task", lang))}: <code>{escape(record.task_id)}'
            "</code></p>"
        )
    parts.append("</div>")
    return "".join(parts)
