"""A wave of visitors: N visitors each start one generation at once and follow it to the end.

Three kinds of visitor, each turned into the same :class:`Seen` record:

* ``raw`` — ``/generate`` over httpx against Gradio's queue protocol (``bench/visitors.py``);
  one process drives a thousand;
* ``page`` — the page's Generate event, then ``POST /suxi/follow`` (``bench/visitors.py``);
* ``gc`` — one ``gradio_client.Client`` per visitor (``bench/gc_visitors.py``): realistic, but a
  thread pair each, so only for small N.

Prompts end in ``#<index>``: the relay's log (``STAMP``) names the visitor each line was for.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from typing import Any

from bench import gc_visitors
from bench.visitors import (
    Addresses,
    Call,
    Follow,
    GradioApp,
    follow_page,
    generate,
    new_call,
    new_visitor,
    page_start,
)

PANEL_PERCENT = re.compile(r'suxi-percent">(\d+)%')
STATUS_PERCENT = re.compile(r"(\d+)%")
PROMPT = "A corgi surfing a wave"


@dataclass
class Seen:
    """What one visitor saw: when it pressed Generate, each percent shown (wire time), and how
    its job ended."""

    index: int
    submitted: float = 0.0
    first: float | None = None  # the first update (the job exists)
    percents: list[tuple[float, float]] = field(default_factory=list)  # (wire time, percent)
    updates: int = 0
    completed: float | None = None  # the finished job reached the visitor
    ok: bool = False
    refused: bool = False
    error: str | None = None


def _percent_of(outputs: list[Any]) -> float | None:
    panel = outputs[2] if len(outputs) > 2 and isinstance(outputs[2], str) else ""
    found = PANEL_PERCENT.search(panel)
    if found:
        return float(found.group(1))
    status = outputs[0] if outputs and isinstance(outputs[0], str) else ""
    found = STATUS_PERCENT.search(status)
    return float(found.group(1)) if found else None


def from_call(index: int, call: Call) -> Seen:
    seen = Seen(index, submitted=call.joined, updates=len(call.outputs), error=call.error)
    seen.first = call.outputs[0][0] if call.outputs else None
    for t, outputs in call.outputs:
        percent = _percent_of(outputs)
        if percent is not None:
            seen.percents.append((t, percent))
    result = call.result or []
    seen.refused = call.success and len(result) > 3 and not result[3]
    seen.ok = call.success and len(result) > 1 and bool(result[1])
    if seen.ok:
        seen.completed = call.completed
        seen.percents.append((call.completed or 0.0, 100.0))
    elif not seen.error and not seen.refused:
        seen.error = f"not done: {str(result[:1])[:200]}"
    return seen


def from_follow(index: int, start: Call | None, follow: Follow) -> Seen:
    cards = follow.cards()
    seen = Seen(index, submitted=start.joined if start else follow.opened, updates=len(cards))
    seen.error = follow.error or (start.error if start else None)
    seen.first = start.completed if start else (cards[0][0] if cards else None)
    for t, card in cards:
        if card.get("percent") is not None and card.get("state") != "pending":
            seen.percents.append((t, float(card["percent"])))
        if card.get("state") == "done" and seen.completed is None:
            seen.completed, seen.ok = t, True
    if start is not None and start.success and not follow.ids:
        seen.refused = True
    if not seen.ok and not seen.error and not seen.refused:
        last = cards[-1][1] if cards else {}
        seen.error = f"not done: {last.get('state')} {str(last.get('status'))[:150]}"
    return seen


def from_visit(visit: gc_visitors.Visit) -> Seen:
    seen = Seen(visit.index, submitted=visit.submitted, updates=len(visit.outputs))
    seen.first = visit.wire[0] if visit.wire else None
    for t, outputs in zip(visit.wire, visit.outputs, strict=False):
        percent = _percent_of(list(outputs)) if isinstance(outputs, (list, tuple)) else None
        if percent is not None:
            seen.percents.append((t, percent))
    seen.ok = visit.ok
    seen.error = None if visit.ok else (visit.error or f"not done: {str(visit.result)[:200]}")
    result = visit.result if isinstance(visit.result, (list, tuple)) else []
    seen.refused = not visit.error and len(result) > 3 and not result[3]
    if seen.ok:
        seen.completed = visit.completed
        seen.percents.append((visit.completed or 0.0, 100.0))
    return seen


async def _async_wave(url: str, n: int, via: str, timeout: float, spread: float) -> list[Seen]:
    app = GradioApp(url)
    pool = Addresses()
    starts: list[Call | None] = [None] * n
    follows = [Follow(new_visitor(), []) for _ in range(n)]
    calls = [new_call("generate") for _ in range(n)]

    async def page(i: int) -> None:
        http = pool.for_visitor(i)
        call, ids = await page_start(http, app, f"{PROMPT} #{i}", follows[i].visitor)
        starts[i] = call
        if ids:
            await follow_page(http, url, follows[i].visitor, ids, follow=follows[i])

    async def api(i: int) -> None:
        http = pool.for_visitor(i)
        await generate(http, app, f"{PROMPT} #{i}", call=calls[i], keep_outputs=True)

    tasks = []
    for i in range(n):
        tasks.append(asyncio.create_task(page(i) if via == "page" else api(i)))
        if spread:
            await asyncio.sleep(spread / n)
    _done, pending = await asyncio.wait(tasks, timeout=timeout)
    for task in pending:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await pool.aclose()
    if via == "page":
        return [from_follow(i, starts[i], follows[i]) for i in range(n)]
    return [from_call(i, calls[i]) for i in range(n)]


def run_wave(url: str, n: int, via: str, timeout: float, spread: float = 0.0) -> list[Seen]:
    """N visitors press Generate (within ``spread`` seconds) and follow their job; returns
    what each saw once all are done or ``timeout`` seconds have passed."""
    if via == "gc":
        clients = gc_visitors.make_clients(url, n)
        try:
            visits = gc_visitors.submit_all(clients, PROMPT)
            gc_visitors.wait_visits(visits, timeout)
        finally:
            gc_visitors.close_clients(clients)
        return [from_visit(v) for v in visits]
    return asyncio.run(_async_wave(url, n, via, timeout, spread))


def stamps(relay_lines: list[str], since: float) -> dict[tuple[int, float], float]:
    """(visitor index, percent) → the relay's send time, from its ``STAMP`` log lines."""
    sent: dict[tuple[int, float], float] = {}
    for line in relay_lines:
        if not line.startswith("STAMP "):
            continue
        _, at, tag, percent = line.split()
        if tag.isdigit() and percent != "-" and float(at) >= since:
            sent[(int(tag), float(percent))] = float(at)
    return sent


def latencies(seen: list[Seen], sent: dict[tuple[int, float], float]) -> list[float]:
    """For every progress line sent: the first update showing its percent (or more) minus
    when the relay sent it. A line is counted once; lines never shown are left out."""
    out: list[float] = []
    by_visitor: dict[int, list[tuple[float, float]]] = {}
    for (index, percent), at in sent.items():
        by_visitor.setdefault(index, []).append((percent, at))
    for s in seen:
        shown = sorted(s.percents)
        for percent, at in by_visitor.get(s.index, []):
            # Percents are shown rounded to whole numbers on the API's panel.
            first = next((t for t, p in shown if p + 0.5 >= percent and t >= at), None)
            if first is not None:
                out.append(first - at)
    return out
