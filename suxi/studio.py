"""The app's verbs — start, change, again, stop, delete, check again, list — in one place.

The page (Gradio events and the page's own routes), the ``/generate`` API, the MCP tools and
the tests call these; each turns raw inputs into checked values first
(:func:`suxi.generation.options_from`), decides who sees what (on a shared deployment a visitor
sees only their own jobs; locally the owner sees every job), and raises
:class:`~suxi.errors.InputError` before anything is sent.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import secrets
import time
import uuid
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from . import conversation
from .admission import KeyChoice
from .errors import InputError, SuxiError
from .families import is_video_model
from .generation import (
    GenerationOptions,
    StartImage,
    check_max_tokens,
    check_prompt,
    options_from,
)
from .images import check_image_host, check_image_url, prepare_image
from .job import Job
from .jobs import StartRequest
from .kinds import Kind, State
from .recovery import Outcome, check_again
from .runtime import Runtime

MAX_COUNT = 4


@dataclass(frozen=True)
class Who:
    """The person behind a call: their visitor token, address, own key and language."""

    owner: str
    address: str = ""
    api_key: str = ""  # the visitor's own relay key, if they gave one (never stored)
    lang: str = "en"


@dataclass(frozen=True)
class Form:
    """The Create form's raw inputs (strings and numbers from the page or the API)."""

    prompt: object = ""
    model: object = ""
    format: object = "auto"
    orientation: object = "auto"
    duration: object = "auto"
    size: object = "auto"
    watermark: object = True
    private: object = False
    max_tokens: object = 1000
    stream: object = True
    image_file: str | None = None  # a path the upload was saved to
    image_url: object = ""
    count: object = 1


@dataclass(frozen=True)
class Started:
    jobs: list[Job]
    refusal: InputError | None = None  # why the rest did not start (limits)


class Studio:
    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self._models: tuple[float, list[str]] | None = None  # the operator key's list
        self._models_failed = float("-inf")  # when fetching it last failed (monotonic)

    # — the relay's models —

    async def models(self, who: Who, *, refresh: bool = False) -> list[str]:
        """The models the key may use (the operator's list is kept ten minutes)."""
        choice = self.choice(who)
        cached = self._models
        if choice.operator and cached and not refresh and time.monotonic() - cached[0] < 600:
            return cached[1]
        data = await choice.relay.backends.http.call_json("GET", "/v1/models", key=choice.key)
        items = data.get("data") if isinstance(data, dict) else None
        names = [
            m["id"][:100]
            for m in (items if isinstance(items, list) else [])[:2000]
            if isinstance(m, dict) and isinstance(m.get("id"), str) and m["id"].strip()
        ]
        names = list(dict.fromkeys(names)) or [self.settings.model]
        if choice.operator:
            self._models = (time.monotonic(), names)
        return names

    def known_models(self) -> list[str] | None:
        return self._models[1] if self._models else None

    async def _models_to_check(self, who: Who) -> list[str] | None:
        """The operator key's list for :meth:`check_model`, fetched when nobody has asked for
        it yet (an API caller never opens the page that loads it); a failed fetch is not
        repeated for a minute, so a flood of calls cannot turn into a flood of list requests."""
        known = self.known_models()
        if known is not None or time.monotonic() - self._models_failed < 60:
            return known
        try:
            return await self.models(who)
        except SuxiError:
            self._models_failed = time.monotonic()
            return None

    @property
    def jobs(self):
        assert self.runtime.jobs is not None
        return self.runtime.jobs

    @property
    def settings(self):
        return self.runtime.configured

    # — who sees what —

    def scope(self, who: Who) -> str | None:
        """The owner whose jobs ``who`` sees: their own on a shared deployment, all locally."""
        return who.owner if self.settings.shared else None

    def visible(self, job_id: object, who: Who) -> Job | None:
        """The whole record of a job this visitor may see (None otherwise)."""
        if not isinstance(job_id, str) or not job_id or len(job_id) > 64:
            return None
        job = self.jobs.get(job_id)
        if job is None or (self.settings.shared and job.owner != who.owner):
            return None
        return job

    # — starting —

    def choice(self, who: Who) -> KeyChoice:
        return self.runtime.key_for(who.api_key)

    def _needs_list(self, model: str, choice: KeyChoice) -> bool:
        s = self.settings
        return (
            choice.operator and not self.runtime.demo and not s.allowed_models and model != s.model
        )

    def check_model(self, model: str, choice: KeyChoice, known: list[str] | None) -> None:
        """On the operator's key only the allowed models: ``SUXI_ALLOWED_MODELS``, else the
        video models of the relay's list, else (no list) only ``SUXI_MODEL``."""
        if not choice.operator or self.runtime.demo:
            return
        s = self.settings
        if s.allowed_models:
            allowed = set(s.allowed_models)
        elif known:
            allowed = {m for m in known if is_video_model(m)} | {s.model}
        else:
            allowed = {s.model}
        if model not in allowed:
            raise InputError(Kind.MODEL_NOT_ALLOWED, model=model[:80])

    async def _on_operators_key(
        self,
        options: GenerationOptions,
        choice: KeyChoice,
        who: Who,
        known: list[str] | None = None,
    ) -> None:
        """What the operator's key may be spent on — an allowed video model, a bounded reply —
        checked for every job that spends it, whatever made it (Generate, Again, a change)."""
        if not choice.operator or self.runtime.demo:
            return
        check_max_tokens(options.max_tokens, self.settings.operator_max_tokens)
        if known is None and self._needs_list(options.model, choice):
            known = await self._models_to_check(who)
        self.check_model(options.model, choice, known)

    async def start(
        self,
        form: Form,
        who: Who,
        *,
        known_models: list[str] | None = None,
        batch: list[str] | None = None,
    ) -> Started:
        """Start one job, ``form.count`` variations, or a batch (``batch``: one prompt each)."""
        choice = self.choice(who)
        s = self.settings
        options = options_from(
            model=form.model,
            default_model=s.model,
            format=form.format if form.format not in (None, "") else s.format,
            orientation=form.orientation,
            duration=form.duration,
            size=form.size,
            watermark=form.watermark,
            private=form.private,
            max_tokens=form.max_tokens,
            stream=form.stream,
            max_tokens_ceiling=s.operator_max_tokens
            if choice.operator and not self.runtime.demo
            else None,
        )
        await self._on_operators_key(options, choice, who, known_models)
        prompts = batch if batch is not None else [form.prompt]
        texts = [check_prompt(p, s.max_prompt_chars) for p in prompts]
        if batch is not None:
            waiting, limit = self.jobs.waiting_for(who.owner), 2 * s.max_batch
            if waiting + len(texts) > limit:
                raise InputError(Kind.BATCH_WAITING, count=waiting, limit=limit)
        count = 1 if batch is not None else _count(form.count)
        image, image_ref = await self._picture(form)
        visitor = self.runtime.visitor(who.owner, who.address)
        group = uuid.uuid4().hex if len(texts) > 1 or count > 1 else None
        kind = "batch" if batch is not None else "variations"
        requests = []
        for index, text in enumerate(texts * count if batch is None else texts):
            requests.append(
                StartRequest(
                    visitor=visitor,
                    prompt=text,
                    options=options,
                    image=image,
                    image_ref=image_ref,
                    messages=conversation.first_messages(
                        text, options, image.url if image else None
                    ),
                    group=(group, kind, index) if group else None,
                    waiting=batch is not None,
                )
            )
        jobs, refusal = self.jobs.start_many(requests, choice)
        if not jobs and refusal is not None:
            raise refusal
        if batch is not None:
            self.jobs.batches.add(jobs[0].group_id or "", choice)
        return Started(jobs, refusal)

    async def _picture(self, form: Form) -> tuple[StartImage | None, str]:
        if form.image_file:
            # Decoding and re-encoding a phone photo takes a few hundred ms: not on the loop.
            data_url, kept = await asyncio.to_thread(self._prepare_and_keep, Path(form.image_file))
            return StartImage(data_url=data_url), kept
        link = form.image_url.strip() if isinstance(form.image_url, str) else ""
        if link:
            checked = check_image_url(link)
            await check_image_host(checked)
            return StartImage(link=checked), link
        return None, ""

    def _prepare_and_keep(self, path: Path) -> tuple[str, str]:
        data_url = prepare_image(path, max_input_bytes=self.settings.max_upload_bytes)
        return data_url, self._keep_picture(data_url)

    def _keep_picture(self, data_url: str) -> str:
        """The prepared picture, kept once by content (for "Again")."""
        raw = base64.b64decode(data_url.partition(",")[2])
        name = f"inputs/{hashlib.sha256(raw).hexdigest()[:32]}.jpg"
        path = self.settings.data_dir / name
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(raw)
        return name

    async def modify(self, parent_id: object, instruction: object, who: Who) -> Job:
        """A changed version of a finished video, through the route that made it."""
        parent = self.visible(parent_id, who)
        if parent is None or parent.state != State.DONE:
            raise InputError(Kind.NOT_MODIFIABLE)
        text = check_prompt(instruction, self.settings.max_prompt_chars)
        choice = self.runtime.choice_for_job(parent, who.api_key)
        visitor = self.runtime.visitor(who.owner, who.address)
        if parent.route == "chat":
            if not parent.answer:
                raise InputError(Kind.NOT_MODIFIABLE)
            messages = conversation.modification_messages(
                parent.messages, parent.answer, text, parent.options
            )
            request = StartRequest(
                visitor,
                text,
                replace(parent.options, format="chat"),
                messages=messages,
                parent_id=parent.id,
            )
        elif parent.route == "openai" and parent.task_id:
            request = StartRequest(
                visitor,
                text,
                replace(parent.options, format="openai"),
                parent_id=parent.id,
                remix_of=parent.task_id,
            )
        else:
            raise InputError(Kind.NO_REMIX, format=parent.route or "?")
        await self._on_operators_key(request.options, choice, who)
        return self.jobs.start(request, choice)

    async def again(self, job_id: object, who: Who) -> Job:
        """The same prompt and settings once more (a new paid request)."""
        old = self.visible(job_id, who)
        if old is None:
            raise InputError(Kind.NOT_FOUND_JOB)
        image, image_ref = self.jobs.picture_of(old), old.image_ref
        if old.image and image is None:  # never a paid request without the picture it had
            raise InputError(Kind.PICTURE_GONE)
        choice = self.choice(who)
        await self._on_operators_key(old.options, choice, who)
        messages = conversation.first_messages(
            old.prompt, old.options, image.url if image else None
        )
        request = StartRequest(
            self.runtime.visitor(who.owner, who.address),
            old.prompt,
            old.options,
            image=image,
            image_ref=image_ref,
            messages=messages,
        )
        return self.jobs.start(request, choice)

    # — following up —

    def stop(self, job_id: object, who: Who) -> Job | None:
        job = self.visible(job_id, who)
        if job is None or not (job.running or job.state == State.WAITING):
            return None
        return self.jobs.stop(job.id)

    def delete(self, job_id: object, who: Who) -> bool:
        job = self.visible(job_id, who)
        return job is not None and self.jobs.delete(job.id)

    async def check_again(self, job_id: object, who: Who) -> Outcome:
        job = self.visible(job_id, who)
        if job is None:
            return Outcome(Kind.NOT_FOUND_JOB)
        choice = self.runtime.choice_for_job(job, who.api_key)
        return await check_again(self.jobs, job, choice)

    def library(self, who: Who, **filters: Any) -> tuple[list[Job], int]:
        return self.jobs.store.page(self.scope(who), **filters)

    def parent_of(self, job: Job, who: Who) -> Job | None:
        return self.visible(job.parent_id, who) if job.parent_id else None

    def share(self, job_id: object, who: Who, on: bool) -> Job | None:
        job = self.visible(job_id, who)
        if job is None or job.state != State.DONE:
            return None
        token = (job.share_token or secrets.token_urlsafe(18)) if on else None
        return self.jobs.commit(job.with_(share_token=token))

    @property
    def assist(self):
        """The helpers beyond making videos: balance, prompt help, characters, price."""
        from .assist import Assist

        if getattr(self, "_assist", None) is None:
            self._assist = Assist(self)
        return self._assist


def _count(value: object) -> int:
    try:
        number = int(float(value))  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        return 1
    return max(1, min(MAX_COUNT, number))
