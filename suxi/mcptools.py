"""Tools for AI assistants (Gradio's MCP server): make a video, list my videos, check again.

Each tool is a method of :class:`McpTools`, built on :class:`suxi.studio.Studio`; Gradio turns
its name, docstring and parameters into the tool's description, so they are written for the
assistant that reads them. Every answer is one JSON text; a finished video is a ``video_url`` on
the app's own ``/media/…`` route (suxi/web/routes.py), the one copy the page plays too. One text
output, not a file output, because Gradio's MCP server turns several outputs into one Python
list repr when the client asked for no progress, and a file output is copied into Gradio's cache.

Who is asking is the visitor token the assistant passes. ``generate`` without one makes a new
token and returns it, so the assistant can come back for the video; on a shared deployment
``my_videos`` and ``check_again`` see only that token's videos, and without a token
``my_videos`` lists nothing (an assistant must not browse other people's videos). Locally every
video is the owner's, as on the page.

While a video is made, ``generate`` (and ``check_again`` when the relay is still at work) report
progress through ``gr.Progress``: Gradio's MCP server forwards it to the client as progress
notifications ("Progress Generating 37%…: Step 37 of 100"). :func:`add_tools` wires the tools
into a ``gr.Blocks`` — as events of hidden components, because ``gr.api`` hands its function no
``gr.Progress``.
"""

from __future__ import annotations

import json
import secrets
from typing import Any

import gradio as gr

from .cards import media_url, outcome
from .errors import SuxiError
from .job import Job
from .kinds import State
from .studio import Form, Studio, Who
from .texts import explain, pick_language, tr
from .web.address import client_address
from .web.routes import TOKEN

FOLLOW_IDLE = 10.0  # seconds: a progress report at least this often while a job is quiet
LIST_LIMIT = 100
PROGRESS = gr.Progress()  # Gradio replaces it with a tracker for each call


def _json(data: dict[str, Any]) -> str:
    return json.dumps(data, ensure_ascii=False, indent=1)


def _first(value: str | None) -> str:
    return (value or "").split(",")[0].strip()


def base_url(request: gr.Request | None) -> str:
    """The address the caller reached the app at (``""`` when unknown): links built on it only
    go back to that caller, so a proxy's forwarded host and scheme are taken as given."""
    headers = {k.lower(): v for k, v in dict(getattr(request, "headers", None) or {}).items()}
    host = _first(headers.get("x-forwarded-host")) or _first(headers.get("host"))
    if not host:
        return ""
    scheme = _first(headers.get("x-forwarded-proto")) or "http"
    return f"{scheme}://{host}"


class McpTools:
    def __init__(self, studio: Studio) -> None:
        self.studio = studio

    # — who is asking, what they get back —

    def _who(self, token: str, request: gr.Request | None) -> Who:
        headers = dict(getattr(request, "headers", None) or {})
        peer = getattr(getattr(request, "client", None), "host", "") or ""
        address = client_address(peer, headers, self.studio.settings.trusted_proxies)
        return Who(token, address, "", pick_language(headers.get("accept-language")))

    def _link(self, job: Job, request: gr.Request | None) -> str | None:
        path = media_url(job, job.file) if job.state == State.DONE else None
        return f"{base_url(request)}{path}" if path else None

    def _summary(self, job: Job, who: Who, request: gr.Request | None) -> dict[str, Any]:
        return {
            "job_id": job.id,
            "state": str(job.state),
            "message": outcome(job, who.lang),
            "prompt": job.prompt,
            "model": job.model,
            "video_url": self._link(job, request),
            "visitor_token": who.owner,
        }

    async def _follow(self, job: Job, who: Who, progress: gr.Progress) -> Job:
        """The job once it ended, reporting its progress meanwhile."""
        async for snapshot in self.studio.jobs.follow(job.id, idle=FOLLOW_IDLE):
            job = snapshot
            percent = int(job.percent or 0) if job.state != State.DONE else 100
            progress((max(0, min(100, percent)), 100), desc=outcome(job, who.lang))
        return job

    # — the tools —

    async def generate(
        self,
        prompt: str,
        model: str = "",
        duration: str = "auto",
        orientation: str = "auto",
        visitor_token: str = "",
        request: gr.Request = None,
        progress: gr.Progress = PROGRESS,
    ) -> str:
        """Make a short video from a description of a scene and wait until it is ready
        (usually a few minutes). Each call is a paid request to the video relay.

        Args:
            prompt: What the video shows, in one or a few sentences (any language).
            model: The video model, e.g. sora-2 or veo3.1-fast; empty for this site's default.
            duration: Length in seconds the model takes (e.g. 10 or 15 for sora-2), or auto.
            orientation: landscape, portrait, square (only some models), or auto.
            visitor_token: The visitor_token an earlier answer gave; empty the first time.
        Returns:
            JSON text: job_id, state, a readable message, video_url when it is ready, and the
            visitor_token to pass to my_videos and check_again.
        """
        token = visitor_token.strip() if isinstance(visitor_token, str) else ""
        if token and not TOKEN.fullmatch(token):
            return _json({"error": "bad_token", "message": tr("mcp_bad_token", "en")})
        who = self._who(token or secrets.token_urlsafe(24), request)
        form = Form(prompt=prompt, model=model, duration=duration, orientation=orientation)
        try:
            started = await self.studio.start(form, who, known_models=self.studio.known_models())
        except SuxiError as err:
            message = explain(err.kind, who.lang, err.relay_text, **err.values)
            return _json({"error": str(err.kind), "message": message})
        job = await self._follow(started.jobs[0], who, progress)
        return _json(self._summary(job, who, request))

    def my_videos(self, visitor_token: str = "", request: gr.Request = None) -> str:
        """List the videos made with a visitor token, newest first (at most 100).

        Args:
            visitor_token: The visitor_token a generate answer returned (required on a shared site).
        Returns:
            JSON text: the videos, each with id, state, prompt, model, created, finished and
            video_url when it is ready.
        """
        token = visitor_token.strip() if isinstance(visitor_token, str) else ""
        if self.studio.settings.shared and not TOKEN.fullmatch(token):
            return _json({"videos": [], "message": tr("mcp_token_needed", "en")})
        who = self._who(token, request)
        jobs, total = self.studio.library(who, limit=LIST_LIMIT)
        videos = [{**job.public(), "video_url": self._link(job, request)} for job in jobs]
        return _json({"videos": videos, "total": total})

    async def check_again(
        self,
        job_id: str,
        visitor_token: str = "",
        request: gr.Request = None,
        progress: gr.Progress = PROGRESS,
    ) -> str:
        """Ask the relay again about a video that failed, stopped or was interrupted: it may
        have been finished after all, or still be in the making (then this waits for it).

        Args:
            job_id: The job_id from generate or my_videos.
            visitor_token: The visitor_token the video was made with.
        Returns:
            JSON text: what was found, the state, a readable message and video_url when the
            video is there now.
        """
        token = visitor_token.strip() if isinstance(visitor_token, str) else ""
        if self.studio.settings.shared and not TOKEN.fullmatch(token):
            return _json({"error": "not_found_job", "message": tr("mcp_token_needed", "en")})
        who = self._who(token, request)
        try:
            found = await self.studio.check_again(job_id, who)
        except SuxiError as err:
            message = explain(err.kind, who.lang, err.relay_text, **err.values)
            return _json({"error": str(err.kind), "message": message})
        answer: dict[str, Any] = {
            "found": str(found.kind),
            "message": explain(found.kind, who.lang, found.relay_text, **found.values),
        }
        job = self.studio.visible(job_id, who)
        if job is None:
            return _json(answer)
        job = await self._follow(job, who, progress)
        return _json({**self._summary(job, who, request), **answer})


def add_tools(tools: McpTools, *, api_prefix: str = "tool_") -> None:
    """Expose the tools as API endpoints of the ``gr.Blocks`` being built (call it inside the
    ``with gr.Blocks()`` block); with ``mcp_server=True`` each becomes an MCP tool named after
    its method. Tool names come from the method names, so another public endpoint whose
    function is also called ``generate`` makes this one ``generate_1``: mark such endpoints
    ``api_visibility="undocumented"`` to keep them out of the MCP server."""
    with gr.Group(visible=False):
        prompt = gr.Textbox()  # no value: a required parameter
        model = gr.Textbox(value="")
        duration = gr.Textbox(value="auto")
        orientation = gr.Textbox(value="auto")
        token = gr.Textbox(value="")
        job_id = gr.Textbox()
        answer = gr.Textbox()
        make, listing, check = gr.Button(), gr.Button(), gr.Button()
    # A call waits minutes for its video while holding no thread: the admission limits, not
    # Gradio's default of one call at a time, decide how many run at once.
    make.click(
        tools.generate,
        [prompt, model, duration, orientation, token],
        [answer],
        api_name=f"{api_prefix}generate",
        concurrency_limit=None,
    )
    listing.click(tools.my_videos, [token], [answer], api_name=f"{api_prefix}my_videos")
    check.click(
        tools.check_again,
        [job_id, token],
        [answer],
        api_name=f"{api_prefix}check_again",
        concurrency_limit=None,
    )
