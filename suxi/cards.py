"""Jobs → what the page shows. Pure functions of (job, language, now): no Gradio, no I/O.

A *card* is the JSON the page's script renders for one job (docs/architecture.md, "The page"):
plain values and sentences already in the page's language, never HTML — the script sets them as
text, so nothing the relay sends can become markup. The elapsed clock is not in it: the card
carries the start time and the browser moves the seconds.
"""

from __future__ import annotations

import statistics
from html import escape
from typing import Any
from urllib.parse import quote

from .humanize import steps
from .job import Job
from .kinds import MAYBE_STILL_MADE, Kind, State
from .relay import TASK_ROUTES
from .texts import explain, tr

FORMAT_WORDS = {
    "chat": "ui_format_chat",
    "unified": "ui_format_unified",
    "generations": "ui_format_unified",
    "openai": "ui_format_openai",
}


def clock(seconds: float) -> str:
    seconds = max(0, int(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def typical_seconds(durations: list[float]) -> float | None:
    """The median of recent durations, once there are a few."""
    return statistics.median(durations) if len(durations) >= 3 else None


def state_word(state: State | str, lang: str) -> str:
    return tr(f"state_{state}", lang)


def outcome(job: Job, lang: str, *, shared: bool = False) -> str:
    """One plain sentence: the outcome when the job ended, what is happening otherwise."""
    if job.state == State.DONE:
        return tr("card_done_in", lang, t=clock((job.finished or job.created) - job.created))
    if job.error_kind is not None and job.state.ended:
        # On a public site, its own key refused is not the visitor's to fix: its owner's.
        site_key = shared and job.error_kind == Kind.AUTH and not job.own_key
        kind = "auth_site" if site_key else job.error_kind
        return explain(
            kind,
            lang,
            job.relay_text,
            retry_after=job.retry_after or "",
            **dict(job.error_values),
        )
    word = state_word(job.state, lang)
    if job.percent is not None and job.state == State.GENERATING:
        word = f"{word} {job.percent:.0f}%"
    return f"{word}…"


def media_url(job: Job, relative: str | None) -> str | None:
    if not relative:
        return None
    name = relative.rsplit("/", 1)[-1]
    return f"/media/{job.media_token}/{quote(name)}"


def _understood(job: Job, lang: str) -> list[list[str]]:
    """Rows of (label, what the relay applied, what was asked) where there is something."""
    asked = job.options.asked()
    applied = job.applied
    rows: list[list[str]] = []
    if applied and applied.prompt and applied.prompt.strip() != job.prompt.strip():
        rows.append([tr("card_prompt", lang), applied.prompt, ""])
    shape = applied.orientation if applied else None
    if shape or "orientation" in asked:
        ask = asked.get("orientation")
        rows.append(
            [tr("card_orientation", lang), _shape_word(shape, lang), _shape_word(ask, lang)]
        )
    seconds = applied.duration if applied else None
    if seconds or "duration" in asked:
        ask = asked.get("duration")
        rows.append(
            [
                tr("card_duration", lang),
                tr("ui_seconds", lang, n=seconds) if seconds else "—",
                tr("ui_seconds", lang, n=ask) if ask else "",
            ]
        )
    if applied and applied.width and applied.height:
        rows.append(
            [tr("card_size", lang), f"{applied.width} × {applied.height}", asked.get("size", "")]
        )
    for row in rows:  # "asked" only where it says something the applied value does not
        if row[2] == row[1]:
            row[2] = ""
    return rows


def _shape_word(value: str | None, lang: str) -> str:
    if not value:
        return ""
    text = str(value).lower()
    if "landscape" in text or "横" in text or text in ("16:9", "wide"):
        return tr("ui_landscape", lang)
    if "portrait" in text or "竖" in text or text in ("9:16", "tall"):
        return tr("ui_portrait", lang)
    if "square" in text or text == "1:1":
        return tr("ui_square", lang)
    return str(value)[:40]


def _steps(job: Job, lang: str) -> list[str]:
    out = []
    for step in steps(job.lines):
        if step.key == "step_progress":
            out.append(tr(step.key, lang, percent=f"{step.percent:.0f}%"))
        elif step.key == "step_failed":
            out.append(explain("step_failed", lang, step.quote))
        else:
            out.append(tr(step.key, lang))
    return out[-6:]


def card(
    job: Job,
    lang: str,
    *,
    typical: float | None = None,
    parent: Job | None = None,
    shared: bool = False,
) -> dict[str, Any]:
    ended = job.state.ended
    can_check = (
        ended
        and job.state != State.DONE
        and (job.error_kind in MAYBE_STILL_MADE or bool(job.task_id) or bool(job.video_url))
    )
    note = ""
    if job.state in (State.FAILED, State.CANCELLED, State.INTERRUPTED):
        note = tr("card_charged" if job.may_have_charged else "card_not_charged", lang)
    hint = ""
    if job.running and job.route == "chat" and not job.options.stream:
        hint = tr("card_waiting_nostream", lang)
    elif job.state == State.PENDING and job.started is None:
        hint = tr("card_waiting_slot", lang)
    eta = ""
    if job.running and job.position:
        eta = tr("card_eta_queue", lang, n=job.position)
    elif job.running and typical:
        eta = tr("card_eta_typical", lang, t=clock(typical))
    return {
        "id": job.id,
        "state": str(job.state),
        "state_word": state_word(job.state, lang),
        "running": job.running or job.state == State.WAITING,
        "ended": ended,
        "percent": 100.0 if job.state == State.DONE else job.percent,
        "created": job.created,
        "finished": job.finished,
        "updated": job.updated,  # the page keeps the newest snapshot of a card
        "eta": eta,
        "hint": hint,
        "prompt": job.prompt,
        "made_from": tr("card_made_from", lang, prompt=_cut(parent.prompt, 60)) if parent else "",
        "model": job.model,
        "status": outcome(job, lang, shared=shared),
        "failed": job.state in (State.FAILED, State.INTERRUPTED)
        or (job.error_kind is not None and ended),
        "note": note,
        "steps": _steps(job, lang),
        "understood": _understood(job, lang),
        "details": {
            "task_id": job.task_id or "",
            "sid": job.sid or "",
            "route": tr(FORMAT_WORDS[job.route], lang) if job.route in FORMAT_WORDS else "",
            "lines": list(job.lines[-12:]),
            "links": [link for link in job.links if link.startswith(("https://", "http://"))],
        },
        "video": media_url(job, job.file) if job.state == State.DONE else None,
        "poster": media_url(job, job.thumbnail),
        "pruned": job.pruned,
        "actions": {
            "stop": job.running or job.state == State.WAITING,
            "check": can_check,
            "modify": job.state == State.DONE and _modifiable(job),
            "again": ended,
            "delete": ended,
            "share": job.state == State.DONE and bool(job.file),
        },
        "modify_note": explain(Kind.NO_REMIX, lang, format=tr(FORMAT_WORDS[job.route], lang))
        if job.state == State.DONE and job.route in TASK_ROUTES and job.route != "openai"
        else "",
        "shared": bool(job.share_token),
        "group": {"id": job.group_id, "kind": job.group_kind, "index": job.group_index}
        if job.group_id
        else None,
    }


def _modifiable(job: Job) -> bool:
    if job.route == "chat":
        return bool(job.answer) or job.partial  # a partly loaded job: the server checks
    return job.route == "openai" and bool(job.task_id)


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def panel_html(job: Job | None, lang: str, now: float) -> str:
    """A small static panel for API clients of ``/generate`` (the page renders cards itself)."""
    if job is None:
        return ""
    percent = 100.0 if job.state == State.DONE else job.percent or 0.0
    elapsed = clock((job.finished or now) - job.created)
    shown = (
        f'<span class="suxi-percent">{percent:.0f}%</span>'
        if job.percent or job.state == State.DONE
        else ""
    )
    task = f'<p class="suxi-task"><code>{escape(job.task_id)}</code></p>' if job.task_id else ""
    return (
        f'<div class="suxi-panel state-{escape(str(job.state))}"><span class="suxi-state '
        f'state-{escape(str(job.state))}">{escape(state_word(job.state, lang))}</span>{shown}'
        f'<span class="suxi-clock">⏱ {elapsed}</span><p>{escape(outcome(job, lang))}</p>'
        f"{task}</div>"
    )
