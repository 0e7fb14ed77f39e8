"""Sentence → video: a Gradio page over an OpenAI-compatible video relay.

``build_demo(runtime)`` lays out the page and wires it to the handlers (``suxi.ui``);
``create_app(runtime)`` adds the page's own routes (``suxi.web``) and its scripts; ``main()``
serves it all on one uvicorn server. The work itself is in the ``suxi`` package; the job cards and
My videos are drawn by ``assets/page.js`` and ``assets/library.js``.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import logging
import os
from pathlib import Path
from types import SimpleNamespace

import gradio as gr
from fastapi import FastAPI

from suxi.runtime import Runtime
from suxi.settings import Settings, SettingsError, load_settings
from suxi.studio import Studio
from suxi.texts import TABLE, ui_tables
from suxi.ui.api import add_api
from suxi.ui.extras import Extras
from suxi.ui.handlers import Handlers
from suxi.web import build_router
from suxi.web.head import HeadScripts, inline_scripts

ASSETS = Path(__file__).parent / "assets"
PAGE = "__page__"  # the hidden input the page's script fills with its facts (see page.js)
EXAMPLES = [
    "A corgi surfing a wave at sunset, slow motion, cinematic",
    "Paper boats sailing down a rainy city street, seen from above",
    "一只熊猫在竹林里弹吉他，温暖的午后阳光，电影感",
]
# An event's `js` runs first in the browser: it puts the page's facts (visitor token, language,
# a confirmation for paid batches) into the hidden input, which a handler reads.
WITH_FACTS = "(...a) => a.map((v) => (v === '__page__' ? window.suxi.pageInfo() : v))"
FACTS_ONLY = "(...a) => a.map((v) => (v === '__page__' ? window.suxi.facts() : v))"
FOR_BATCH = "(...a) => a.map((v) => (v === '__page__' ? window.suxi.pageInfo('batch') : v))"
SESSIONS_KEPT = 64
QUEUE_IDLE_CHECK_S = 0.01
FORM = (
    "prompt",
    "model",
    "format",
    "orientation",
    "duration",
    "size",
    "no_watermark",
    "private",
    "max_tokens",
    "stream",
    "image_file",
    "image_url",
    "count",
    "api_key",
    "batch_text",
    "batch_file",
)
QUICK = {"api_visibility": "private", "concurrency_limit": None, "show_progress": "hidden"}
i18n = gr.I18n(**ui_tables())


def card_words() -> str:
    """The words the page's script needs (everything but Gradio's own labels)."""
    keys = [k for k in TABLE if not k.startswith("ui_") or k == "ui_title"]
    return json.dumps({lang: {k: TABLE[k][lang] for k in keys} for lang in ("en", "zh")})


def build_demo(runtime: Runtime, studio: Studio | None = None) -> gr.Blocks:
    h = Handlers(studio or Studio(runtime))
    x = Extras(h)
    with gr.Blocks(title="Sentence → video", delete_cache=(3600, 3600)) as demo:
        p = SimpleNamespace(page=gr.Textbox(PAGE, visible=False), words=card_words())
        _header(p, runtime)
        with gr.Tabs():
            with gr.Tab(i18n("ui_tab_create"), id="create"):
                with gr.Row(equal_height=False):
                    with gr.Column(scale=3, min_width=300):
                        _prompt_column(p, runtime.configured, x)
                    with gr.Column(scale=2, min_width=260):
                        _options_column(p, runtime.configured)
                p.cards = gr.HTML(
                    "",
                    html_template='<div class="suxi-cards" aria-live="polite"></div>',
                    js_on_load="window.suxi.mountCards(element, props, watch)",
                    words=p.words,
                    elem_id="cards",
                )
            with gr.Tab(i18n("ui_tab_history"), id="history"):
                gr.HTML(
                    "",
                    html_template='<div class="suxi-library"></div>',
                    js_on_load="window.suxi.mountLibrary(element, props)",
                    words=p.words,
                    elem_id="library",
                )
        p.demo = demo
        _wire(p, h, x)
        add_api(h)
    return demo


def _header(p: SimpleNamespace, runtime: Runtime) -> None:
    with gr.Row(elem_id="top"):
        with gr.Column(scale=1):
            gr.Markdown(i18n("ui_title_md"), elem_id="title")
            gr.Markdown(i18n("ui_subtitle"), elem_id="subtitle")
        gr.Button(i18n("ui_lang"), size="sm", elem_id="lang-switch", scale=0, min_width=80)
    host = runtime.configured.relay_origin.split("://")[-1].rsplit(":", 1)[0]
    kind = "demo" if runtime.demo else "operator"
    gr.HTML(
        "",
        html_template=f'<div class="suxi-banner" id="banner" data-kind="{kind}" '
        f'data-relay="{host}"><span class="suxi-banner-text"></span></div>',
        js_on_load="window.suxi.mountBanner(element, props)",
        words=p.words,
        elem_id="banner-box",
    )


def _prompt_column(p: SimpleNamespace, s: Settings, x: Extras) -> None:
    p.prompt = gr.Textbox(
        label=i18n("ui_prompt"),
        placeholder=i18n("ui_prompt_ph"),
        lines=4,
        max_lines=12,
        elem_id="prompt",
        elem_classes=[f"limit-{s.max_prompt_chars}"],
    )
    p.preset = gr.Dropdown(
        x.preset_choices("en"),
        value="",
        label=i18n("ui_presets"),
        info=i18n("ui_presets_info"),
        elem_id="preset",
    )
    p.help = gr.Button(i18n("ui_help"), size="sm", elem_id="improve")
    p.preset_was = gr.State("")
    p.help_note = gr.Markdown(i18n("ui_help_note"), elem_classes=["suxi-note"])
    p.suggestion = gr.Textbox(
        label=i18n("ui_help_suggestion"), visible=False, lines=3, elem_id="suggestion"
    )
    p.use_suggestion = gr.Button(
        i18n("ui_help_use"), visible=False, size="sm", elem_id="use-suggestion"
    )
    gr.Examples(EXAMPLES, inputs=[p.prompt], label=i18n("ui_examples"))
    with gr.Accordion(i18n("ui_image"), open=False, elem_id="image-box"):
        p.image_file = gr.File(
            label=i18n("ui_image_file"),
            file_types=["image"],
            type="filepath",
            height=120,
            elem_id="image",
        )
        p.image_url = gr.Textbox(label=i18n("ui_image_url"), max_lines=1, elem_id="image-url")
        gr.Markdown(i18n("ui_image_note"), elem_classes=["suxi-note"])
    with gr.Accordion(i18n("ui_storyboard"), open=False, elem_id="storyboard"):
        p.shots = gr.Dataframe(
            [[5, ""], [5, ""]],
            headers=["Seconds", "Scene"],  # in the page's language once it loads
            datatype=["number", "str"],
            column_count=(2, "fixed"),
            row_count=(2, "dynamic"),
            interactive=True,
            label=i18n("ui_sb_shots"),
            elem_id="shots",
        )
        with gr.Row():
            p.sb_use = gr.Button(i18n("ui_sb_use"), size="sm", elem_id="sb-use")
            p.sb_read = gr.Button(i18n("ui_sb_read"), size="sm", elem_id="sb-read")
        p.sb_note = gr.Markdown(i18n("ui_sb_note"), elem_id="sb-note")
    with gr.Accordion(
        i18n("ui_characters"), open=False, visible=False, elem_id="characters"
    ) as p.chars:
        p.char_video = gr.Dropdown([], label=i18n("ui_char_from_video"), elem_id="char-video")
        p.char_url = gr.Textbox(label=i18n("ui_char_url"), max_lines=1, elem_id="char-url")
        p.char_span = gr.Textbox(
            "1,3", label=i18n("ui_char_span"), max_lines=1, elem_id="char-span"
        )
        p.char_make = gr.Button(i18n("ui_char_make"), size="sm", elem_id="char-make")
        p.char_list = gr.Dropdown([], label=i18n("ui_characters"), elem_id="char-list")
        p.char_insert = gr.Button(i18n("ui_char_insert"), size="sm", elem_id="char-insert")
        p.char_note = gr.Markdown(i18n("ui_char_note"), elem_id="char-note")
    with gr.Accordion(i18n("ui_batch"), open=False, elem_id="batch-box"):
        p.batch_text = gr.Textbox(label=i18n("ui_batch_box"), lines=4, elem_id="batch-text")
        p.batch_file = gr.File(
            label=i18n("ui_batch_file"),
            file_types=[".txt", ".csv"],
            type="filepath",
            elem_id="batch-file",
        )
        gr.Markdown(i18n("ui_batch_note"), elem_classes=["suxi-note"])
        p.batch_btn = gr.Button(i18n("ui_batch_start"), elem_id="batch-start")


def _options_column(p: SimpleNamespace, s: Settings) -> None:
    with gr.Accordion(i18n("ui_options"), open=False, elem_id="options"):
        p.model = gr.Dropdown(
            [s.model],
            value=s.model,
            label=i18n("ui_model"),
            info=i18n("ui_model_info"),
            allow_custom_value=True,
            elem_id="model",
        )
        p.price = gr.Markdown("", elem_id="price")
        p.models_btn = gr.Button(i18n("ui_refresh_models"), size="sm", elem_id="refresh-models")
        p.models_note = gr.Markdown("", elem_id="models-note")
        formats = [(i18n(f"ui_format_{f}"), f) for f in ("auto", "chat", "unified", "openai")]
        p.format = gr.Radio(
            formats,
            value=s.format,
            label=i18n("ui_format"),
            info=i18n("ui_format_info"),
            elem_id="format",
        )
        auto = [(i18n("ui_auto"), "auto")]
        p.orientation = gr.Radio(
            auto, value="auto", label=i18n("ui_orientation"), elem_id="orientation"
        )
        p.duration = gr.Radio(auto, value="auto", label=i18n("ui_duration"), elem_id="duration")
        p.size = gr.Radio(auto, value="auto", label=i18n("ui_size"), elem_id="size")
        p.no_watermark = gr.Checkbox(False, label=i18n("ui_watermark"), elem_id="no-watermark")
        p.private = gr.Checkbox(False, label=i18n("ui_private"), elem_id="private")
        p.max_tokens = gr.Number(
            1000,
            label=i18n("ui_max_tokens"),
            info=i18n("ui_max_tokens_info"),
            precision=0,
            elem_id="max-tokens",
        )
        p.stream = gr.Checkbox(
            True, label=i18n("ui_stream"), info=i18n("ui_stream_info"), elem_id="stream"
        )
    with gr.Accordion(i18n("ui_key"), open=False, elem_id="key-box", visible=s.visitor_keys):
        p.api_key = gr.Textbox(
            label=i18n("ui_key_box"), type="password", placeholder="sk-…", elem_id="api-key"
        )
        p.remember = gr.Checkbox(False, label=i18n("ui_remember"), elem_id="remember")
        p.forget = gr.Button(i18n("ui_forget"), size="sm", elem_id="forget")
        gr.Markdown(i18n("ui_key_note"), elem_classes=["suxi-note"])
    p.count = gr.Slider(
        1, 4, value=1, step=1, label=i18n("ui_count"), info=i18n("ui_count_info"), elem_id="count"
    )
    p.balance = gr.Markdown("", visible=False, elem_id="balance")
    p.balance_btn = gr.Button(i18n("ui_balance_check"), size="sm", elem_id="balance-check")
    p.generate = gr.Button(i18n("ui_generate"), variant="primary", elem_id="generate")


def _wire(p: SimpleNamespace, h: Handlers, x: Extras) -> None:
    h.form_fields = {name: getattr(p, name) for name in FORM} | {"page_info": p.page}
    form = set(h.form_fields.values())
    p.generate.click(h.start, inputs=form, outputs=[p.cards], js=WITH_FACTS, **QUICK)
    p.batch_btn.click(h.batch, inputs=form, outputs=[p.cards], js=FOR_BATCH, **QUICK)
    per_model = [
        p.orientation,
        p.duration,
        p.size,
        p.no_watermark,
        p.private,
        p.max_tokens,
        p.stream,
    ]
    key_page = [p.api_key, p.page]
    facts = {"js": FACTS_ONLY, **QUICK}
    # The chosen model's controls, its price and its characters: on load and on every change.
    on_model = [p.model.change, p.demo.load]
    gr.on(on_model, h.model_options, [p.model, p.format, p.page], per_model, **facts)
    chat_only = [p.max_tokens, p.stream]
    p.format.change(h.chat_options, [p.model, p.format], chat_only, **QUICK)
    gr.on(on_model, x.price, [p.model, *key_page], [p.price], **facts)
    gr.on(
        on_model,
        x.characters_panel,
        inputs=[p.model, *key_page],
        outputs=[p.chars, p.char_video, p.char_list],
        **facts,
    )
    p.models_btn.click(h.refresh_models, inputs=key_page, outputs=[p.model, p.models_note], **facts)
    p.preset.change(
        x.preset_changed,
        inputs=[p.prompt, p.preset, p.preset_was, p.page],
        outputs=[p.prompt, p.preset_was],
        **facts,
    )
    p.help.click(
        x.improve,
        inputs=[p.prompt, *key_page],
        outputs=[p.suggestion, p.use_suggestion, p.help_note],
        **facts,
    )
    p.use_suggestion.click(
        x.use_suggestion,
        inputs=[p.suggestion],
        outputs=[p.prompt, p.suggestion, p.use_suggestion],
        **QUICK,
    )
    p.sb_use.click(
        x.storyboard_use,
        inputs=[p.shots, p.model, p.page],
        outputs=[p.prompt, p.duration, p.sb_note],
        **facts,
    )
    p.sb_read.click(x.storyboard_read, inputs=[p.prompt], outputs=[p.shots], **QUICK)
    p.char_make.click(
        x.make_character,
        inputs=[p.char_video, p.char_url, p.char_span, p.model, *key_page],
        outputs=[p.char_list, p.char_note],
        **facts,
    )
    p.char_insert.click(
        x.insert_character, inputs=[p.prompt, p.char_list], outputs=[p.prompt], **QUICK
    )
    balance = [p.balance, p.balance_btn]
    p.balance_btn.click(x.balance, inputs=key_page, outputs=balance, **facts)
    p.remember.change(
        None, inputs=[p.api_key, p.remember], js="(k, on) => window.suxi.rememberKey(k, on)"
    )
    p.forget.click(None, outputs=[p.api_key, p.remember], js="() => window.suxi.forgetKey()")
    # On load: the remembered key (in the browser only), the relay's models, the chosen model's
    # controls and price, and the balance. A finished card asks for the balance again
    # (page.js clicks #balance-check), so the cost of what just ended shows.
    demo = p.demo
    demo.load(None, outputs=[p.api_key, p.remember], js="() => window.suxi.savedKey()")
    demo.load(h.load_models, inputs=[p.page], outputs=[p.model], **facts)
    demo.load(x.balance, inputs=key_page, outputs=balance, **facts)
    demo.load(x.storyboard_headers, inputs=[p.page], outputs=[p.shots], **facts)
    demo.load(x.preset_choices_for, inputs=[p.page], outputs=[p.preset], **facts)


def launch_settings(settings: Settings) -> dict:
    return {
        "i18n": i18n,
        "theme": gr.themes.Soft(),
        "css_paths": [ASSETS / "style.css"],
        # Run history would keep every input — a visitor's key included — in the browser's
        # storage (on by default since Gradio 6.24); the app keeps its own history.
        "run_history": False,
        "footer_links": ["api", "gradio", "settings"],
        "max_file_size": settings.max_upload_bytes,
        "allowed_paths": [str(settings.data_dir / "videos")],
        "blocked_paths": [
            str(settings.data_dir / f"jobs.sqlite3{end}") for end in ("", "-wal", "-shm")
        ]
        + [".env", str(settings.data_dir / "inputs")],
        "mcp_server": settings.mcp,
    }


def create_app(runtime: Runtime) -> HeadScripts:
    """The whole server: the page's routes, Gradio mounted at the root, the page's scripts."""
    settings = runtime.configured
    if settings.mcp and importlib.util.find_spec("mcp") is None:  # before anything is opened
        raise SettingsError('SUXI_MCP=1 needs the mcp package: pip install "mcp>=1.21,<2"')

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI):
        await runtime.start()
        try:
            yield
        finally:
            await runtime.close()

    runtime.open()
    server = FastAPI(lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    studio = Studio(runtime)
    server.include_router(build_router(studio))
    # The /generate API returns files from the app's own folder: served from there, not copied
    # into Gradio's cache (one copy of each video; a deleted one is gone).
    gr.set_static_paths([settings.data_dir / "videos"])
    demo = build_demo(runtime, studio)
    if settings.mcp:
        from suxi.mcptools import McpTools, add_tools

        with demo:
            add_tools(McpTools(studio))
    # Each followed /generate call holds one of the queue's workers for minutes; the page's own
    # cards hold none. Room for every API follower (docs/architecture.md, "Gradio's queue and
    # sessions").
    demo.max_threads = settings.max_jobs + settings.max_queue + 1024
    # Each Gradio session state copies the page's config (~184 KiB here); the page keeps its own
    # state in the browser, so 64 are plenty (docs/architecture.md, "Gradio's queue and sessions").
    demo.state_session_capacity = SESSIONS_KEPT
    demo.queue(max_size=None, default_concurrency_limit=None)
    # With nothing queued, Gradio's queue looks again every 1 ms: ~7 % of a core for an app
    # nobody uses. Every 10 ms delays the start of an event by 10 ms at most
    # (docs/architecture.md, "An idle app").
    demo._queue.sleep_when_free = QUEUE_IDLE_CHECK_S
    app = gr.mount_gradio_app(server, demo, path="/", **launch_settings(settings))
    # Gradio checks that a file input names an uploaded file only once it believes it was
    # launched (processing_utils._check_allowed); mounting never says so, and without the check
    # any server path — /dev/zero, the code — could be named as an "upload".
    demo.has_launched = True
    scripts = [(ASSETS / name).read_text(encoding="utf-8") for name in ("page.js", "library.js")]
    return HeadScripts(app, inline_scripts(*scripts))


def main() -> None:
    import uvicorn

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    # httpx logs every URL it fetches at INFO: signed video links and task ids stay out of logs.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    try:
        settings = load_settings()
        app = create_app(Runtime(settings))
    except SettingsError as err:  # a setting the app cannot use: say which, not a traceback
        raise SystemExit(f"error: {err}") from None
    on_space = bool(os.environ.get("SPACE_ID"))
    host = os.environ.get("GRADIO_SERVER_NAME") or ("0.0.0.0" if on_space else "127.0.0.1")
    port = int(os.environ.get("GRADIO_SERVER_PORT") or 7860)
    mode = "offline demo (no SUXI_API_KEY)" if settings.demo else f"relay {settings.relay_origin}"
    shown = "127.0.0.1" if host == "0.0.0.0" else host
    print(f"Sentence → video: http://{shown}:{port}  [{mode}]", flush=True)
    if host != "127.0.0.1" and not settings.shared:
        print(
            "note: the page is reachable from other machines and SUXI_SHARED is off, so every "
            "visitor sees every job; set SUXI_SHARED=1 for a public deployment.",
            flush=True,
        )
    # The visitor's address is read from the socket, and from forwarded headers only where
    # SUXI_TRUSTED_PROXIES says so (suxi/web/address.py): uvicorn's own rewriting stays off.
    uvicorn.run(
        app,
        host=host,
        port=port,
        proxy_headers=False,
        log_level="warning",
        timeout_graceful_shutdown=5,
    )


if __name__ == "__main__":
    main()
