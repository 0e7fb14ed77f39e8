"""The page's and the API's Gradio handlers: each turns its inputs into the studio's values,
calls one verb, and turns the result (or the InputError) into component values.

The page's Create form arrives as one dict of components (``inputs={…}``), read once into a
:class:`suxi.studio.Form`; the documented ``/generate`` API keeps its positional contract.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import gradio as gr

from ..cards import outcome, panel_html
from ..errors import InputError, SuxiError
from ..families import family_for, group_models, is_video_model
from ..job import Job
from ..kinds import State
from ..runtime import data_path
from ..studio import Form, Studio, Who
from ..texts import explain, lang_of, pick_language, tr
from ..web.address import client_address
from ..web.routes import TOKEN, CardMaker
from .batchfile import prompts_from

MAX_PAGE_INFO = 2048


def page_facts(page_info: object) -> dict[str, Any]:
    """The page's hidden facts (visitor token, language, confirmation) sent with an event."""
    if not isinstance(page_info, str) or len(page_info) > MAX_PAGE_INFO:
        return {}
    try:
        data = json.loads(page_info)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


class Handlers:
    def __init__(self, studio: Studio) -> None:
        self.studio = studio
        self.cards = CardMaker(studio)
        self.form_fields: dict[str, gr.components.Component] = {}

    # — who is asking —

    def who(
        self,
        request: gr.Request | None,
        *,
        visitor: object = None,
        page_info: object = None,
        api_key: object = "",
    ) -> Who:
        facts = page_facts(page_info)
        token = facts.get("visitor") or visitor
        headers = dict(getattr(request, "headers", None) or {})
        if isinstance(token, str) and TOKEN.fullmatch(token):
            owner = token
        else:  # an API client without a token: its own session
            owner = f"session-{getattr(request, 'session_hash', None) or uuid.uuid4().hex}"
        peer = getattr(getattr(request, "client", None), "host", "") or ""
        address = client_address(peer, headers, self.studio.settings.trusted_proxies)
        lang = (
            lang_of(facts["lang"])
            if isinstance(facts.get("lang"), str)
            else pick_language(headers.get("accept-language"))
        )
        return Who(owner, address, api_key.strip() if isinstance(api_key, str) else "", lang)

    # — the page —

    def form(self, values: dict[Any, Any]) -> tuple[Form, dict[str, Any]]:
        """The Create form's components → a Form, plus the other named values."""
        named = {name: values.get(component) for name, component in self.form_fields.items()}
        image = named.get("image_file")
        form = Form(
            prompt=named.get("prompt") or "",
            model=named.get("model") or "",
            format=named.get("format") or "auto",
            orientation=named.get("orientation") or "auto",
            duration=named.get("duration") or "auto",
            size=named.get("size") or "auto",
            watermark=not named.get("no_watermark"),
            private=bool(named.get("private")),
            max_tokens=named.get("max_tokens"),
            stream=named.get("stream", True),
            image_file=image if isinstance(image, str) and image else None,
            image_url=named.get("image_url") or "",
            count=named.get("count") or 1,
        )
        return form, named

    async def start(self, values: dict[Any, Any], request: gr.Request) -> str:
        """Generate on the page: start the job(s) and hand the cards to the page's script."""
        form, named = self.form(values)
        who = self.who(request, page_info=named.get("page_info"), api_key=named.get("api_key"))
        if not page_facts(named.get("page_info")).get("confirmed", True):
            return json.dumps({"nonce": uuid.uuid4().hex})  # the visitor said no: nothing sent
        return await self._started(who, form)

    async def batch(self, values: dict[Any, Any], request: gr.Request) -> str:
        form, named = self.form(values)
        who = self.who(request, page_info=named.get("page_info"), api_key=named.get("api_key"))
        try:
            # An uploaded list is read and decoded (up to 1 MB): not on the event loop.
            prompts = await asyncio.to_thread(
                prompts_from,
                named.get("batch_text"),
                named.get("batch_file"),
                self.studio.settings.max_batch,
            )
        except InputError as err:
            return self._notice(err, who)
        return await self._started(who, form, batch=prompts)

    async def _started(self, who: Who, form: Form, batch: list[str] | None = None) -> str:
        try:
            started = await self.studio.start(
                form, who, known_models=self.studio.known_models(), batch=batch
            )
        except SuxiError as err:
            return self._notice(err, who)
        notice = ""
        if started.refusal is not None:
            err = started.refusal
            notice = explain(err.kind, who.lang, err.relay_text, **err.values)
        return json.dumps(
            {
                "nonce": uuid.uuid4().hex,
                "started": [self.cards(job, who) for job in started.jobs],
                "notice": notice,
            },
            ensure_ascii=False,
        )

    def _notice(self, err: SuxiError, who: Who) -> str:
        text = explain(err.kind, who.lang, err.relay_text, **err.values)
        return json.dumps({"nonce": uuid.uuid4().hex, "notice": text}, ensure_ascii=False)

    async def refresh_models(self, api_key: str, page_info: str, request: gr.Request):
        who = self.who(request, page_info=page_info, api_key=api_key)
        try:
            names = await self.studio.models(who, refresh=True)
        except SuxiError as err:
            return gr.skip(), explain(err.kind, who.lang, err.relay_text, **err.values)
        current = self.studio.settings.model
        videos = [n for n in names if is_video_model(n)] or names
        value = current if current in videos else videos[0]
        note = tr("models_found", who.lang, n=len(videos))
        return gr.update(choices=self.model_choices(videos), value=value), note

    async def load_models(self, page_info: str, request: gr.Request):
        """On load: the operator key's video models (kept ten minutes), if the relay lists any."""
        who = self.who(request, page_info=page_info)
        try:
            names = await self.studio.models(who)
        except SuxiError:
            return gr.skip()
        videos = [n for n in names if is_video_model(n)]
        current = self.studio.settings.model
        if not videos:
            return gr.skip()
        if current not in videos:
            videos.insert(0, current)
        return gr.update(choices=self.model_choices(videos))

    def model_choices(self, names: list[str]) -> list[tuple[str, str]]:
        choices = []
        for label, members in group_models(names):
            choices += [(f"{name}  ·  {label}", name) for name in members]
        return choices

    def model_options(self, model: str, fmt: str, page_info: str):
        """The controls the chosen model takes, and nothing it does not take (the reply length
        and streaming only where the job goes through the chat format)."""
        lang = lang_of(page_facts(page_info).get("lang"))
        family = family_for(model or self.studio.settings.model)
        auto = (tr("ui_auto", lang), "auto")
        shapes = [auto] + [(tr(f"ui_{s}", lang), s) for s in family.orientations]
        lengths = [auto] + [(tr("ui_seconds", lang, n=d), str(d)) for d in family.durations]
        sizes = [auto] + [(s, s) for s in family.sizes]
        return (
            gr.update(choices=shapes, value="auto", visible=bool(family.orientations)),
            gr.update(choices=lengths, value="auto", visible=bool(family.durations)),
            gr.update(choices=sizes, value="auto", visible=bool(family.sizes)),
            gr.update(visible=family.watermark, value=False),
            gr.update(visible=family.private, value=False),
            *self.chat_options(model, fmt),
        )

    def chat_options(self, model: str, fmt: str):
        """The reply length and streaming matter only where the job goes through the chat
        format: shown then, hidden otherwise."""
        family = family_for(model or self.studio.settings.model)
        chat = fmt == "chat" or (fmt in ("auto", "", None) and family.formats[:1] == ("chat",))
        return gr.update(visible=chat), gr.update(visible=chat)

    # — the documented API —

    async def generate(
        self,
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
        format: str = "auto",
        size: str = "auto",
        watermark: bool = True,
        private: bool = False,
        count: float = 1,
        request: gr.Request = None,
    ) -> AsyncIterator[tuple]:
        """Start a generation and follow it (closing the connection does not stop the job).
        With ``count`` > 1 the first job is followed; the others are in ``/my_videos``."""
        who = self.who(request, visitor=visitor, api_key=api_key)
        form = Form(
            prompt,
            model,
            format,
            orientation,
            duration,
            size,
            watermark,
            private,
            max_tokens,
            stream,
            image,
            image_url,
            count,
        )
        try:
            started = await self.studio.start(form, who, known_models=self.studio.known_models())
        except SuxiError as err:
            yield explain(err.kind, who.lang, err.relay_text, **err.values), None, "", ""
            return
        async for update in self._follow(started.jobs[0], who):
            yield update

    async def modify(
        self,
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
    ) -> AsyncIterator[tuple]:
        """A changed version of a finished video, followed like ``/generate``."""
        who = self.who(request, visitor=visitor, api_key=api_key)
        try:
            job = await self.studio.modify(parent_id, instruction, who)
        except SuxiError as err:
            yield explain(err.kind, who.lang, err.relay_text, **err.values), None, "", ""
            return
        async for update in self._follow(job, who):
            yield update

    async def _follow(self, job: Job, who: Who) -> AsyncIterator[tuple]:
        """Yield only what the outputs show differently: a snapshot that changed something
        they do not show (a relay line, kept under Details) would cost Gradio a whole update
        for nothing (docs/architecture.md, "Gradio's queue and sessions")."""
        shown = None
        async for snapshot in self.studio.jobs.follow(job.id):
            outputs = self._outputs(snapshot, who)
            if outputs != shown:
                shown = outputs
                yield outputs

    def _outputs(self, job: Job, who: Who) -> tuple:
        video = data_path(self.studio.settings, job.file) if job.state == State.DONE else None
        return (
            outcome(job, who.lang, shared=self.studio.settings.shared),
            str(video) if video else None,
            panel_html(job, who.lang, time.time()),
            job.id,
        )

    async def my_videos(self, visitor: str | None = None, request: gr.Request = None) -> list[dict]:
        """This visitor's jobs, newest first (everyone's when running locally)."""
        who = self.who(request, visitor=visitor)
        jobs, _ = self.studio.library(who, limit=100)
        return [job.public() for job in jobs]

    async def open_job(self, job_id: str, visitor: str | None = None, request: gr.Request = None):
        who = self.who(request, visitor=visitor)
        job = self.studio.visible(job_id, who)
        if job is None:
            return explain("not_found_job", who.lang), None, "", ""
        status, video, _panel, _id = self._outputs(job, who)
        return status, video, job.prompt, job.id

    async def check_again(
        self, job_id: str, visitor: str | None = None, api_key: str = "", request: gr.Request = None
    ):
        who = self.who(request, visitor=visitor, api_key=api_key)
        try:
            found = await self.studio.check_again(job_id, who)
        except SuxiError as err:
            return explain(err.kind, who.lang, err.relay_text, **err.values), None
        job = self.studio.visible(job_id, who)
        video = (
            data_path(self.studio.settings, job.file) if job and job.state == State.DONE else None
        )
        return explain(found.kind, who.lang, found.relay_text, **found.values), str(
            video
        ) if video else None

    async def delete_job(
        self, job_id: str, visitor: str | None = None, request: gr.Request = None
    ) -> str:
        who = self.who(request, visitor=visitor)
        return explain("deleted" if self.studio.delete(job_id, who) else "not_found_job", who.lang)

    async def stop(
        self, job_id: str, visitor: str | None = None, request: gr.Request = None
    ) -> str:
        who = self.who(request, visitor=visitor)
        job = self.studio.stop(job_id, who)
        if job is None:
            return tr("nothing_to_stop", who.lang)
        kind = "stopped_task" if job.task_id and job.route != "chat" else "cancelled"
        return explain(kind, who.lang)
