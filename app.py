"""Sentence → video: a Gradio page over an OpenAI-compatible relay serving ``sora-2``.

Handlers first, then the layout, then the wiring (as in Gradio's own demos). The work itself is
in the ``suxi`` package: this file only turns job records into component updates.
"""

from __future__ import annotations

import asyncio
import hashlib
import tempfile
import time
import uuid
from pathlib import Path

import gradio as gr

from suxi import conversation
from suxi.errors import InputError, SuxiError
from suxi.images import check_image_url, prepare_image
from suxi.jobs import public_fields
from suxi.labels import EN, ZH
from suxi.messages import explain, pick_language
from suxi.runtime import Runtime
from suxi.view import panel_html, state_word, status_line, t

runtime = Runtime.from_env()
settings = runtime.configured
TICK = 1.0  # the elapsed clock moves every second, even when the relay is silent

EXAMPLES = [
    "A corgi surfing a wave at sunset, slow motion, cinematic",
    "Paper boats sailing down a rainy city street, seen from above",
    "一只熊猫在竹林里弹吉他，温暖的午后阳光，电影感",
]

i18n = gr.I18n(en=EN, zh=ZH)


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


def address_of(request: gr.Request | None) -> str:
    """A hash of the visitor's address (per-visitor limits survive a cleared browser)."""
    headers = getattr(request, "headers", None) or {}
    forwarded = headers.get("x-forwarded-for", "").split(",")[0].strip()
    host = forwarded or getattr(getattr(request, "client", None), "host", "") or ""
    return hashlib.sha256(host.encode()).hexdigest()[:16] if host else ""


def visible_to(owner: str) -> str | None:
    """On a shared deployment a visitor sees only their own jobs; locally the owner sees all."""
    return owner if settings.shared else None


def visible_job(job_id: str | None, visitor: str | None, request: gr.Request | None):
    """The job if this visitor may see it (on a shared deployment: only their own)."""
    record = runtime.jobs.get(job_id) if job_id else None
    if record is None:
        return None
    if settings.shared and record.owner != owner_of(visitor, request):
        return None
    return record


async def follow(job_id: str, lang: str):
    """Yield (status, video, panel, job id) until the job ends: on every change, and every
    second so the elapsed clock keeps moving."""
    jobs = runtime.jobs
    while True:
        changed = jobs.change_signal(job_id)
        record = jobs.get(job_id)
        if record is None:
            return
        now = time.time()
        running = record.running  # read before yielding: the live record changes meanwhile
        # None, not gr.skip(): an update object makes Gradio rebuild the Video component and
        # its schema on every tick (measured: ~40 % of the app's CPU with 128 jobs running).
        video = record.file if record.state == "done" and record.file else None
        yield status_line(record, now, lang), video, panel_html(record, now, lang), record.id
        if not running:
            return
        await jobs.wait_signal(changed, TICK)


def start_job(
    request,
    visitor,
    api_key,
    prompt,
    max_tokens,
    stream,
    model,
    orientation,
    duration,
    hints: dict | None = None,
    **extra,
):
    """Start a job with this visitor's key (or the operator's) and the asked hints."""
    key, relay, limited = runtime.key_for(api_key)
    return runtime.jobs.start(
        owner=owner_of(visitor, request),
        prompt=prompt,
        max_tokens=max_tokens,
        stream=bool(stream),
        api_key=key,
        model=(model or "").strip() or None,
        address=address_of(request),
        limited=limited,
        relay=relay,
        params={"orientation": orientation, "duration": duration, **(hints or {})},
        **extra,
    )


async def run_job(starter, lang: str):
    """Start a job (the coroutine ``starter`` raises InputError for bad input) and follow it."""
    try:
        record = await starter()
    except InputError as err:
        yield explain(err.kind, lang, **err.values), gr.skip(), gr.skip(), ""
        return
    now = time.time()
    yield status_line(record, now, lang), None, panel_html(record, now, lang), record.id
    async for update in follow(record.id, lang):
        yield update


def starting_image(image: str | None, image_url: str | None) -> str | None:
    if image:
        return prepare_image(Path(image))
    if image_url and image_url.strip():
        return check_image_url(image_url.strip())
    return None


async def generate(
    prompt: str,
    max_tokens: float = 1000,
    stream: bool = True,
    visitor: str | None = None,
    api_key: str = "",
    model: str = "",
    orientation: str = "auto",
    duration: str = "auto",
    image: str | None = None,
    image_url: str = "",
    request: gr.Request = None,
):
    """Start a generation and follow it. Closing the page does not stop the job."""

    async def starter():
        text = (prompt or "").strip()
        # Decoding and re-encoding a phone photo takes a few hundred ms: not on the event loop.
        picture = await asyncio.to_thread(starting_image, image, image_url) if text else None
        return start_job(
            request,
            visitor,
            api_key,
            prompt,
            max_tokens,
            stream,
            model,
            orientation,
            duration,
            messages=conversation.first_messages(text, orientation, duration, picture),
            hints={"image": bool(picture)},
        )

    async for update in run_job(starter, language(request)):
        yield update


async def modify(
    parent_id: str,
    instruction: str,
    max_tokens: float = 1000,
    stream: bool = True,
    visitor: str | None = None,
    api_key: str = "",
    model: str = "",
    orientation: str = "auto",
    duration: str = "auto",
    request: gr.Request = None,
):
    """Generate a changed version of a finished video: the conversation is resent with the
    relay's previous answer verbatim, then the new instruction."""
    lang = language(request)

    async def starter():
        parent = visible_job(parent_id, visitor, request)
        if parent is None or parent.state != "done" or not parent.answer:
            raise InputError("not_modifiable")
        text = (instruction or "").strip()
        return start_job(
            request,
            visitor,
            api_key,
            instruction,
            max_tokens,
            stream,
            model or parent.model,
            orientation,
            duration,
            messages=conversation.modification_messages(
                parent.messages, parent.answer, text, orientation, duration
            ),
            parent_id=parent.id,
        )

    async for update in run_job(starter, lang):
        yield update


async def reattach(visitor: str | None, request: gr.Request = None):
    """After a reload: show this visitor's running job and follow it."""
    lang = language(request)
    running = runtime.jobs.running_for(visible_to(owner_of(visitor, request))) if visitor else []
    if not running:
        # A generator that yields nothing blanks its outputs: show the idle panel instead.
        yield gr.skip(), gr.skip(), panel_html(None, 0, lang), gr.skip()
        return
    latest = max(running, key=lambda r: r.created)
    async for update in follow(latest.id, lang):
        yield update


def ensure_visitor(visitor: str | None, saved_key: str | None):
    """On load: this browser's visitor token (made once), its remembered key, and only then an
    enabled Generate button, so no job is started without the token that finds it again."""
    ready = gr.Button(interactive=True)
    return visitor or uuid.uuid4().hex, saved_key or gr.skip(), bool(saved_key), ready


def remember_key(api_key: str, remember: bool):
    """Store the key in this browser only when asked to (erasing is done in the browser)."""
    return api_key if remember and api_key else gr.skip()


FORGET_JS = "() => { localStorage.removeItem('suxi-key'); return ['', false]; }"


def stop(job_id: str, visitor: str | None = None, request: gr.Request = None) -> str:
    record = visible_job(job_id, visitor, request)
    if record is None or not record.running:
        return gr.skip()
    runtime.jobs.cancel(job_id)
    return explain("cancelled", language(request))


async def refresh_models(api_key: str = "", request: gr.Request = None):
    """The relay's models, video models first; the configured default when the list fails."""
    lang = language(request)
    try:
        key, relay, _ = runtime.key_for(api_key)
        names = await relay.list_models(key)
    except SuxiError as err:
        return gr.update(choices=[settings.model], value=settings.model), explain(
            err.kind, lang, err.relay_text
        )
    choices = names or [settings.model]
    value = settings.model if settings.model in choices else choices[0]
    return gr.update(choices=choices, value=value), gr.skip()


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
            ("↳ " if r.parent_id else "")
            + (r.prompt if len(r.prompt) <= 90 else r.prompt[:89] + "…"),
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
    status = status_line(record, time.time(), lang)
    parent = visible_job(record.parent_id, visitor, request) if record.parent_id else None
    if parent is not None:
        status = f"{status} {t('made_from', lang, prompt=parent.prompt[:60])}"
    video = record.file if record.state == "done" and record.file else None
    return status, video, record.prompt, record.id


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


async def check_again(
    job_id: str, visitor: str | None = None, api_key: str = "", request: gr.Request = None
):
    """Ask the relay about an interrupted or failed job and keep the video if it exists."""
    lang = language(request)
    record = visible_job(job_id, visitor, request)
    if record is None:
        return explain("not_found_job", lang), None
    try:
        key, _, _ = runtime.key_for(api_key)
        relay = runtime.relay_for_host(record.relay_host)
        outcome = await runtime.jobs.check_again(job_id, key, relay)
    except SuxiError as err:
        return explain(err.kind, lang, err.relay_text), gr.skip()
    record = runtime.jobs.get(job_id)
    percent = f"{record.percent:.0f}%" if record.percent is not None else "…"
    video = record.file if record.state == "done" else gr.skip()
    return explain(outcome, lang, record.relay_text, percent=percent), video


# ── layout ────────────────────────────────────────────────────────────────────────────────────

ORIENTATIONS = [
    (i18n("ui_auto"), "auto"),
    (i18n("ui_landscape"), "landscape"),
    (i18n("ui_portrait"), "portrait"),
]
DURATIONS = [(i18n("ui_auto"), "auto"), (i18n("ui_10s"), "10"), (i18n("ui_15s"), "15")]

with gr.Blocks(title="Sentence → video") as demo:
    visitor = gr.BrowserState(None, storage_key="suxi-visitor", secret="suxi-visitor-v1")
    saved_key = gr.BrowserState(None, storage_key="suxi-key", secret="suxi-key-v1")
    gr.Markdown(f"# {i18n('ui_title')}")
    gr.Markdown(i18n("ui_subtitle"))
    if runtime.demo:
        gr.Markdown(i18n("ui_demo"), elem_classes=["suxi-demo"], elem_id="demo-banner")
    with gr.Tabs() as tabs:
        with gr.Tab(i18n("ui_tab_create"), id="create"):
            with gr.Row(equal_height=False):
                with gr.Column(scale=3, min_width=300):
                    prompt = gr.Textbox(
                        label=i18n("ui_prompt"),
                        placeholder=i18n("ui_prompt_ph"),
                        lines=4,
                        max_lines=12,
                        elem_id="prompt",
                        max_length=settings.max_prompt_chars,
                    )
                    gr.Examples(EXAMPLES, inputs=[prompt], label=i18n("ui_examples"))
                    with gr.Accordion(i18n("ui_image"), open=False, elem_id="image-box"):
                        with gr.Row():
                            image = gr.Image(
                                type="filepath",
                                sources=["upload", "clipboard"],
                                show_label=False,
                                height=180,
                                elem_id="image",
                            )
                            image_url = gr.Textbox(
                                "",
                                label=i18n("ui_image_url"),
                                max_length=2048,
                                elem_id="image-url",
                            )
                        gr.Markdown(i18n("ui_image_note"), elem_classes=["suxi-hint"])
                with gr.Column(scale=1, min_width=240):
                    with gr.Accordion(i18n("ui_options"), open=False, elem_id="options"):
                        with gr.Row():
                            model = gr.Dropdown(
                                [settings.model],
                                value=settings.model,
                                label=i18n("ui_model"),
                                allow_custom_value=True,
                                elem_id="model",
                                scale=4,
                            )
                            models_btn = gr.Button(
                                "↻", size="sm", scale=1, min_width=40, elem_id="refresh-models"
                            )
                        orientation = gr.Radio(
                            ORIENTATIONS,
                            value="auto",
                            label=i18n("ui_orientation"),
                            elem_id="orientation",
                        )
                        duration = gr.Radio(
                            DURATIONS, value="auto", label=i18n("ui_duration"), elem_id="duration"
                        )
                        max_tokens = gr.Number(
                            1000,
                            label=i18n("ui_max_tokens"),
                            precision=0,
                            elem_id="max-tokens",
                        )  # no minimum/maximum: Gradio's own range error is English-only
                        stream = gr.Checkbox(
                            True,
                            label=i18n("ui_stream"),
                            info=i18n("ui_stream_info"),
                            elem_id="stream",
                        )
                    with gr.Accordion(
                        i18n("ui_key"),
                        open=False,  # the demo banner explains the key; keep the panel in view
                        elem_id="key-box",
                        visible=settings.visitor_keys,
                    ):
                        api_key = gr.Textbox(
                            "",
                            label=i18n("ui_key_box"),
                            type="password",
                            placeholder="sk-…",
                            elem_id="api-key",
                        )
                        remember = gr.Checkbox(False, label=i18n("ui_remember"), elem_id="remember")
                        forget_btn = gr.Button(i18n("ui_forget"), size="sm", elem_id="forget")
                        gr.Markdown(i18n("ui_key_note"), elem_classes=["suxi-hint"])
                    generate_btn = gr.Button(
                        i18n("ui_generate"),
                        variant="primary",
                        elem_id="generate",
                        interactive=False,  # enabled by the load event (ensure_visitor)
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
                    with gr.Accordion(i18n("ui_modify"), open=False, elem_id="modify-box"):
                        instruction = gr.Textbox(
                            show_label=False,
                            lines=2,
                            elem_id="instruction",
                            placeholder=i18n("ui_modify_ph"),
                        )
                        modify_btn = gr.Button(i18n("ui_modify_btn"), elem_id="modify")
            job_id = gr.Textbox(visible=False, elem_id="job-id")
        with gr.Tab(i18n("ui_tab_history"), id="history") as history_tab:
            job_ids = gr.State([])
            with gr.Row(equal_height=False):
                with gr.Column(scale=3, min_width=320):
                    refresh_btn = gr.Button(i18n("ui_refresh"), size="sm", elem_id="refresh")
                    table = gr.Dataframe(
                        headers=["🕒", "✓", "✎"],
                        datatype=["str"] * 3,
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
                    with gr.Accordion(i18n("ui_modify"), open=False):
                        picked_instruction = gr.Textbox(
                            show_label=False,
                            lines=2,
                            placeholder=i18n("ui_modify_ph"),
                            elem_id="picked-instruction",
                        )
                        picked_modify_btn = gr.Button(
                            i18n("ui_modify_btn"), elem_id="picked-modify"
                        )

    # ── wiring ──
    outputs = [status, video, panel, job_id]
    options = [max_tokens, stream, visitor, api_key, model, orientation, duration]
    following = {
        "outputs": outputs,
        "show_progress": "hidden",
        "scroll_to_output": True,
        "concurrency_id": "generate",
        "concurrency_limit": settings.max_jobs,
    }
    generate_btn.click(
        generate, inputs=[prompt, *options, image, image_url], api_name="generate", **following
    )
    modify_btn.click(modify, inputs=[job_id, instruction, *options], api_name="modify", **following)
    picked_modify_btn.click(
        lambda: gr.Tabs(selected="create"), outputs=[tabs], api_visibility="private"
    ).then(
        modify,
        inputs=[picked_id, picked_instruction, *options],
        api_visibility="private",
        **following,
    )
    stop_btn.click(stop, inputs=[job_id, visitor], outputs=[status], api_name="stop", queue=False)
    models_btn.click(
        refresh_models, inputs=[api_key], outputs=[model, status], api_visibility="private"
    )
    api_key.change(
        remember_key,
        inputs=[api_key, remember],
        outputs=[saved_key],
        api_visibility="private",
        queue=False,
    )
    remember.change(
        remember_key,
        inputs=[api_key, remember],
        outputs=[saved_key],
        api_visibility="private",
        queue=False,
        js="(key, keep) => { if (!keep) localStorage.removeItem('suxi-key'); return [key, keep]; }",
    )
    forget_btn.click(None, outputs=[api_key, remember], js=FORGET_JS)

    picked = [picked_status, picked_video, picked_prompt, picked_id]
    refresh = {
        "fn": history_table,
        "inputs": [visitor],
        "outputs": [table, job_ids],
        "api_visibility": "private",
    }
    history_tab.select(**refresh)
    refresh_btn.click(**refresh)
    table.select(select_job, inputs=[job_ids, visitor], outputs=picked, api_visibility="private")
    open_btn.click(open_job, inputs=[picked_id, visitor], outputs=picked, api_name="open_job")
    delete_btn.click(
        delete_job, inputs=[picked_id, visitor], outputs=[picked_status], api_name="delete_job"
    ).then(**refresh)
    check_btn.click(
        check_again,
        inputs=[picked_id, visitor, api_key],
        outputs=[picked_status, picked_video],
        api_name="check_again",
    )
    gr.api(my_videos, api_name="my_videos")
    demo.load(
        ensure_visitor,
        inputs=[visitor, saved_key],
        outputs=[visitor, api_key, remember, generate_btn],
        api_visibility="private",
    ).then(
        reattach,
        inputs=[visitor],
        outputs=outputs,
        api_visibility="private",
        concurrency_limit=None,
        show_progress="hidden",
    )


def inside_default_roots(path: Path) -> bool:
    resolved = path.resolve()
    roots = (Path.cwd().resolve(), Path(tempfile.gettempdir()).resolve())
    return any(resolved.is_relative_to(root) for root in roots)


def launch_options() -> dict:
    data = settings.data_dir
    return {
        "i18n": i18n,
        "css_paths": [Path(__file__).parent / "assets" / "style.css"],
        "theme": gr.themes.Soft(),
        # Run history would keep every input — a visitor's key included — in the browser's
        # storage (on by default since Gradio 6.24); the app keeps its own history.
        "run_history": False,
        "footer_links": ["api", "gradio", "settings"],
        # Gradio's queue has one slot per worker thread (queueing.py), 40 by default, whatever
        # concurrency_limit says: each followed generation holds one for minutes, so without
        # room for them every light event (My videos, open, delete) waits behind generations.
        "max_threads": settings.max_jobs + 40,
        # Gradio copies a returned file into its cache only from the working directory, the
        # temp directory or allowed_paths; allowed_paths are also served by path, so the videos
        # folder is added only when it lies elsewhere (/data on a Space).
        "allowed_paths": [] if inside_default_roots(data) else [str(data / "videos")],
        "blocked_paths": [str(data / f"jobs.sqlite3{end}") for end in ("", "-wal", "-shm")]
        + [".env"],
    }


demo.queue(max_size=settings.max_queue)

if __name__ == "__main__":
    demo.launch(**launch_options())
