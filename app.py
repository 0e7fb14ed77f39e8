"""Sentence → video: a Gradio page over an OpenAI-compatible relay serving ``sora-2``.

Handlers first, then the layout, then the wiring (as in Gradio's own demos). The work itself is
in the ``suxi`` package: this file only turns job records into component updates.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import gradio as gr

from suxi.errors import InputError, SuxiError
from suxi.jobs import public_fields
from suxi.messages import explain, pick_language
from suxi.runtime import Runtime
from suxi.view import panel_html, state_word, status_line

runtime = Runtime.from_env()
TICK = 1.0  # the elapsed clock moves every second, even when the relay is silent

EXAMPLES = [
    "A corgi surfing a wave at sunset, slow motion, cinematic",
    "Paper boats sailing down a rainy city street, seen from above",
    "一只熊猫在竹林里弹吉他，温暖的午后阳光，电影感",
]

i18n = gr.I18n(
    en={
        "ui_title": "Sentence → video",
        "ui_subtitle": "Describe a scene in a sentence; the relay's video model turns it into a "
        "short clip.",
        "ui_prompt": "Describe your video",
        "ui_prompt_ph": "A red kite flying over a green hill on a windy day…",
        "ui_max_tokens": "max_tokens",
        "ui_stream": "Stream progress (recommended)",
        "ui_stream_info": "Without streaming the page can only wait, and proxies in front of relays "
        "often cut calls longer than about 100 s (error 504 / 524).",
        "ui_generate": "Generate",
        "ui_stop": "Stop",
        "ui_stop_info": "Stop ends the job here; the relay may still charge for work it already "
        "started.",
        "ui_status": "Status",
        "ui_video": "Video",
        "ui_examples": "Examples (they only fill the box)",
        "ui_options": "Options",
        "ui_tab_create": "Create",
        "ui_tab_history": "My videos",
        "ui_refresh": "Refresh",
        "ui_check_again": "Check again",
        "ui_delete": "Delete",
        "ui_demo": "**Offline demo** — no API key is set, so videos come from a built-in "
        "simulated relay (always the same sample clip). To make real videos, put "
        "`SUXI_API_KEY=sk-…` in a `.env` file (or a Space secret) and restart.",
    },
    zh={
        "ui_title": "一句话生成视频",
        "ui_subtitle": "用一句话描述一个场景，中转站的视频模型会把它变成一段短视频。",
        "ui_prompt": "描述你的视频",
        "ui_prompt_ph": "大风天里，一只红色风筝飞过绿色的山坡……",
        "ui_max_tokens": "max_tokens",
        "ui_stream": "流式显示进度（推荐）",
        "ui_stream_info": "关闭流式时页面只能等待，而中转站前的代理常会在约 100 秒后切断请求（错误 504 / 524）。",
        "ui_generate": "生成",
        "ui_stop": "停止",
        "ui_stop_info": "停止只会结束本页的任务，中转站可能仍会对已开始的工作扣费。",
        "ui_status": "状态",
        "ui_video": "视频",
        "ui_examples": "示例（只会填入输入框）",
        "ui_options": "选项",
        "ui_tab_create": "创作",
        "ui_tab_history": "我的视频",
        "ui_refresh": "刷新",
        "ui_check_again": "再次查询",
        "ui_delete": "删除",
        "ui_demo": "**离线演示** —— 未设置 API 密钥，视频来自内置的模拟中转站（总是同一段示例视频）。"
        "要生成真实视频，请在 `.env` 文件（或 Space 的 secret）中设置 `SUXI_API_KEY=sk-…` 并重启。",
    },
)


# ── handlers ──────────────────────────────────────────────────────────────────────────────────


def language(request: gr.Request | None) -> str:
    headers = getattr(request, "headers", None) or {}
    return pick_language(headers.get("accept-language"))


def owner_of(visitor: str | None, request: gr.Request | None) -> str:
    """Who a job belongs to: the browser's visitor token, else this API session."""
    if visitor:
        return str(visitor)
    session = getattr(request, "session_hash", None) or uuid.uuid4().hex
    return f"session-{session}"


def visible_to(owner: str) -> str | None:
    """On a shared deployment a visitor sees only their own jobs; locally the owner sees all."""
    return owner if runtime.configured.shared else None


async def follow(job_id: str, lang: str):
    """Yield (status, video, panel, job id) until the job ends: on every change, and every
    second so the elapsed clock keeps moving."""
    jobs = runtime.jobs
    while True:
        record = jobs.get(job_id)
        if record is None:
            return
        now = time.time()
        running = record.running  # read before yielding: the live record changes meanwhile
        video = record.file if record.state == "done" and record.file else gr.skip()
        yield status_line(record, now, lang), video, panel_html(record, now, lang), record.id
        if not running:
            return
        await jobs.wait_change(job_id, TICK)


async def generate(
    prompt: str,
    max_tokens: float,
    stream: bool,
    visitor: str | None = None,
    request: gr.Request = None,
):
    """Start a generation and follow it. Closing the page does not stop the job."""
    lang = language(request)
    try:
        record = runtime.jobs.start(
            owner=owner_of(visitor, request),
            prompt=prompt,
            max_tokens=max_tokens,
            stream=bool(stream),
            api_key=runtime.operator_key,
        )
    except InputError as err:
        yield explain(err.kind, lang, **err.values), gr.skip(), gr.skip(), ""
        return
    now = time.time()
    yield status_line(record, now, lang), None, panel_html(record, now, lang), record.id
    async for update in follow(record.id, lang):
        yield update


async def reattach(visitor: str | None, request: gr.Request = None):
    """After a reload: show this visitor's running job, or their latest one, and follow it."""
    lang = language(request)
    jobs = runtime.jobs
    owner = owner_of(visitor, request) if visitor else None
    if owner is None:
        return
    running = jobs.running_for(visible_to(owner))
    if not running:
        return
    latest = max(running, key=lambda r: r.created)
    async for update in follow(latest.id, lang):
        yield update


def ensure_visitor(visitor: str | None) -> str:
    return visitor or uuid.uuid4().hex


def stop(job_id: str, visitor: str | None = None, request: gr.Request = None) -> str:
    lang = language(request)
    record = runtime.jobs.get(job_id) if job_id else None
    if record is None or not record.running:
        return gr.skip()
    owner = owner_of(visitor, request)
    if runtime.configured.shared and record.owner != owner:
        return gr.skip()
    runtime.jobs.cancel(job_id)
    return explain("cancelled", lang)


def visible_job(job_id: str | None, visitor: str | None, request: gr.Request | None):
    """The job if this visitor may see it (on a shared deployment: only their own)."""
    record = runtime.jobs.get(job_id) if job_id else None
    if record is None:
        return None
    if runtime.configured.shared and record.owner != owner_of(visitor, request):
        return None
    return record


def my_videos(visitor: str | None = None, request: gr.Request = None) -> list[dict]:
    """This visitor's jobs, newest first (everyone's when running locally)."""
    owner = owner_of(visitor, request)
    return [public_fields(r) for r in runtime.jobs.list(visible_to(owner))]


def history_table(visitor: str | None, request: gr.Request = None):
    lang = language(request)
    records = runtime.jobs.list(visible_to(owner_of(visitor, request)))
    rows = [
        [
            time.strftime("%Y-%m-%d %H:%M", time.localtime(r.created)),
            state_word(r.state, lang),
            r.prompt if len(r.prompt) <= 90 else r.prompt[:89] + "…",
        ]
        for r in records
    ]
    return rows, [r.id for r in records]


def open_job(job_id: str, visitor: str | None = None, request: gr.Request = None):
    """One past job: its status sentence, its video (the local copy) and its prompt."""
    lang = language(request)
    record = visible_job(job_id, visitor, request)
    if record is None:
        return explain("not_found_job", lang), None, "", ""
    video = record.file if record.state == "done" and record.file else None
    return status_line(record, time.time(), lang), video, record.prompt, record.id


def select_job(ids: list[str], visitor: str | None, evt: gr.SelectData, request: gr.Request):
    row = evt.index[0] if isinstance(evt.index, (list, tuple)) else evt.index
    job_id = ids[row] if ids and 0 <= row < len(ids) else ""
    return open_job(job_id, visitor, request)


def delete_job(job_id: str, visitor: str | None = None, request: gr.Request = None) -> str:
    lang = language(request)
    if visible_job(job_id, visitor, request) is None:
        return explain("not_found_job", lang)
    runtime.jobs.delete(job_id)
    return explain("deleted", lang)


async def check_again(job_id: str, visitor: str | None = None, request: gr.Request = None):
    """Ask the relay about an interrupted or failed job and keep the video if it exists."""
    lang = language(request)
    record = visible_job(job_id, visitor, request)
    if record is None:
        return explain("not_found_job", lang), None
    try:
        outcome = await runtime.jobs.check_again(job_id, runtime.operator_key)
    except SuxiError as err:
        return explain(err.kind, lang, err.relay_text), gr.skip()
    record = runtime.jobs.get(job_id)
    percent = f"{record.percent:.0f}%" if record.percent is not None else "…"
    video = record.file if record.state == "done" else gr.skip()
    return explain(outcome, lang, record.relay_text, percent=percent), video


# ── layout ────────────────────────────────────────────────────────────────────────────────────

with gr.Blocks(title="Sentence → video") as demo:
    visitor = gr.BrowserState(None, storage_key="suxi-visitor", secret="suxi-visitor-v1")
    gr.Markdown(f"# {i18n('ui_title')}")
    gr.Markdown(i18n("ui_subtitle"))
    if runtime.demo:
        gr.Markdown(i18n("ui_demo"), elem_classes=["suxi-demo"], elem_id="demo-banner")
    with gr.Tabs():
        with gr.Tab(i18n("ui_tab_create"), id="create"):
            with gr.Row(equal_height=False):
                with gr.Column(scale=3, min_width=300):
                    prompt = gr.Textbox(
                        label=i18n("ui_prompt"),
                        placeholder=i18n("ui_prompt_ph"),
                        lines=4,
                        max_lines=12,
                        max_length=runtime.configured.max_prompt_chars,
                        elem_id="prompt",
                    )
                    gr.Examples(EXAMPLES, inputs=[prompt], label=i18n("ui_examples"))
                with gr.Column(scale=1, min_width=220):
                    with gr.Accordion(i18n("ui_options"), open=False):
                        max_tokens = gr.Number(
                            1000,
                            label=i18n("ui_max_tokens"),
                            precision=0,
                            minimum=1,
                            maximum=100000,
                        )
                        stream = gr.Checkbox(
                            True, label=i18n("ui_stream"), info=i18n("ui_stream_info")
                        )
                    generate_btn = gr.Button(
                        i18n("ui_generate"), variant="primary", elem_id="generate"
                    )
                    stop_btn = gr.Button(i18n("ui_stop"), variant="stop", elem_id="stop")
                    gr.Markdown(i18n("ui_stop_info"), elem_classes=["suxi-hint"])
            with gr.Row(equal_height=False):
                with gr.Column(min_width=320):
                    panel = gr.HTML(panel_html(None, 0, "en"), elem_id="panel")
                    status = gr.Textbox(
                        label=i18n("ui_status"), interactive=False, elem_id="status"
                    )
                with gr.Column(min_width=320):
                    video = gr.Video(
                        label=i18n("ui_video"),
                        interactive=False,
                        buttons=["download"],
                        elem_id="video",
                    )
            job_id = gr.Textbox(visible=False, elem_id="job-id")
        with gr.Tab(i18n("ui_tab_history"), id="history") as history_tab:
            job_ids = gr.State([])
            with gr.Row(equal_height=False):
                with gr.Column(scale=3, min_width=320):
                    refresh_btn = gr.Button(i18n("ui_refresh"), size="sm", elem_id="refresh")
                    table = gr.Dataframe(
                        headers=["🕒", "✓", "✎"],
                        datatype=["str", "str", "str"],
                        interactive=False,
                        wrap=True,
                        elem_id="history",
                    )
                with gr.Column(scale=2, min_width=320):
                    picked_video = gr.Video(
                        label=i18n("ui_video"),
                        interactive=False,
                        buttons=["download"],
                        elem_id="picked-video",
                    )
                    picked_status = gr.Textbox(
                        label=i18n("ui_status"), interactive=False, elem_id="picked-status"
                    )
                    picked_prompt = gr.Textbox(
                        label=i18n("ui_prompt"),
                        interactive=False,
                        buttons=["copy"],
                        elem_id="picked-prompt",
                    )
                    picked_id = gr.Textbox(visible=False, elem_id="picked-id")
                    open_btn = gr.Button(visible=False)  # the API's way to open one job
                    with gr.Row():
                        check_btn = gr.Button(i18n("ui_check_again"), elem_id="check-again")
                        delete_btn = gr.Button(i18n("ui_delete"), variant="stop", elem_id="delete")

    # ── wiring ──
    outputs = [status, video, panel, job_id]
    generate_btn.click(
        generate,
        inputs=[prompt, max_tokens, stream, visitor],
        outputs=outputs,
        api_name="generate",
        concurrency_limit=runtime.configured.max_jobs,
        concurrency_id="generate",
        show_progress="hidden",
    )
    stop_btn.click(stop, inputs=[job_id, visitor], outputs=[status], api_name="stop", queue=False)
    picked = [picked_status, picked_video, picked_prompt, picked_id]
    refresh = {"fn": history_table, "inputs": [visitor], "outputs": [table, job_ids]}
    history_tab.select(**refresh, api_visibility="private")
    refresh_btn.click(**refresh, api_visibility="private")
    table.select(select_job, inputs=[job_ids, visitor], outputs=picked, api_visibility="private")
    delete_btn.click(
        delete_job, inputs=[picked_id, visitor], outputs=[picked_status], api_name="delete_job"
    ).then(**refresh, api_visibility="private")
    check_btn.click(
        check_again,
        inputs=[picked_id, visitor],
        outputs=[picked_status, picked_video],
        api_name="check_again",
    )
    gr.api(my_videos, api_name="my_videos")
    open_btn.click(open_job, inputs=[picked_id, visitor], outputs=picked, api_name="open_job")
    demo.load(ensure_visitor, inputs=[visitor], outputs=[visitor], api_visibility="private").then(
        reattach,
        inputs=[visitor],
        outputs=outputs,
        api_visibility="private",
        concurrency_limit=None,
        show_progress="hidden",
    )


def launch_options() -> dict:
    data = runtime.configured.data_dir
    return {
        "i18n": i18n,
        "css_paths": [Path(__file__).parent / "assets" / "style.css"],
        "theme": gr.themes.Soft(),
        # Run history would keep every input in the browser's storage; the app keeps its own.
        "run_history": False,
        "footer_links": ["api", "gradio", "settings"],
        "allowed_paths": [str(data / "videos")],
        "blocked_paths": [str(data / "jobs.sqlite3"), ".env"],
    }


demo.queue(max_size=runtime.configured.max_queue)

if __name__ == "__main__":
    demo.launch(**launch_options())
