"""Gradio handlers for the studio's helpers on the Create tab: style presets, prompt help, the
storyboard editor, characters, the model's price and the key's balance (suxi/presets.py,
suxi/prompthelp.py, suxi/storyboard.py, suxi/characters.py, suxi/pricing.py, suxi/balance.py)."""

from __future__ import annotations

from typing import Any

import gradio as gr

from .. import characters, presets, storyboard
from ..errors import InputError, SuxiError
from ..kinds import State
from ..texts import explain, lang_of, tr
from .handlers import Handlers, page_facts


def said(err: Exception, lang: str) -> str:
    """One sentence for an error (a Refused names its own sentence)."""
    key = getattr(err, "text_key", None) or getattr(err, "kind", "unknown")
    return explain(key, lang, getattr(err, "relay_text", ""), **getattr(err, "values", {}))


class Extras:
    def __init__(self, handlers: Handlers) -> None:
        self.h = handlers
        self.studio = handlers.studio
        self.presets = presets.load_presets(self.studio.settings.presets_path or None)

    def lang(self, page_info: object) -> str:
        return lang_of(page_facts(page_info).get("lang"))

    # — presets —

    def preset_choices(self, lang: str) -> list[tuple[str, str]]:
        return presets.choices(self.presets, lang)

    def preset_choices_for(self, page_info: str):
        """The style list in the page's language (the layout is built in English)."""
        return gr.update(choices=self.preset_choices(self.lang(page_info)))

    def preset_changed(self, prompt: str, chosen: str, previous: str, page_info: str):
        """Swap the previous style's phrase for the chosen one, visibly in the prompt."""
        text = prompt or ""
        old = presets.find(self.presets, previous)
        if old is not None:
            text = presets.remove_preset(text, old)
        new = presets.find(self.presets, chosen)
        if new is not None:
            text = presets.apply_preset(text, new, self.lang(page_info))
        return text, chosen or ""

    # — prompt help —

    async def improve(self, prompt: str, api_key: str, page_info: str, request: gr.Request):
        who = self.h.who(request, page_info=page_info, api_key=api_key)
        try:
            better = await self.studio.assist.improve_prompt(prompt, who)
        except (InputError, SuxiError, characters.Refused) as err:
            return gr.update(visible=False), gr.update(visible=False), said(err, who.lang)
        return gr.update(value=better, visible=True), gr.update(visible=True), gr.skip()

    @staticmethod
    def use_suggestion(suggestion: str):
        return suggestion, gr.update(value="", visible=False), gr.update(visible=False)

    # — storyboard —

    def storyboard_use(self, rows: Any, model: str, page_info: str):
        lang = self.lang(page_info)
        values = rows.values.tolist() if hasattr(rows, "values") else rows
        shots = storyboard.shots_from_rows(values)
        issues = storyboard.check(shots, model or self.studio.settings.model)
        if issues:
            return gr.skip(), gr.skip(), " ".join(i.text(lang) for i in issues)
        seconds = storyboard.duration_for(shots, model or self.studio.settings.model)
        summary = tr(
            "sb_summary",
            lang,
            n=len(shots),
            total=storyboard.seconds_text(storyboard.total(shots)),
            limit=storyboard.longest(model) or "—",
        )
        duration = gr.update(value=str(seconds)) if seconds else gr.skip()
        return storyboard.compose(shots), duration, summary

    @staticmethod
    def storyboard_read(prompt: str):
        shots = storyboard.parse(prompt or "")
        return [[s.seconds, s.scene] for s in shots] or [[5, ""]]

    # — characters —

    def characters_panel(self, model: str, api_key: str, page_info: str, request: gr.Request):
        """Shown only for models that take characters: my finished videos to start from, and
        the characters I have."""
        who = self.h.who(request, page_info=page_info, api_key=api_key)
        if not characters.supports_characters(model or self.studio.settings.model):
            return gr.update(visible=False), gr.skip(), gr.skip()
        jobs, _ = self.studio.library(who, limit=50, states=(str(State.DONE),))
        videos = [(job.prompt[:60], job.id) for job in jobs if job.task_id]
        mine = self.studio.assist.characters_of(who)
        return (
            gr.update(visible=True),
            gr.update(choices=videos, value=None),
            gr.update(choices=[(c.mention, c.mention) for c in mine], value=None),
        )

    async def make_character(
        self,
        video: str,
        url: str,
        span: str,
        model: str,
        api_key: str,
        page_info: str,
        request: gr.Request,
    ):
        who = self.h.who(request, page_info=page_info, api_key=api_key)
        try:
            made = await self.studio.assist.make_character(
                who, job_id=video or None, url=url or "", timestamps=span or "", model=model
            )
        except (InputError, SuxiError, characters.Refused) as err:
            return gr.skip(), said(err, who.lang)
        mine = self.studio.assist.characters_of(who)
        choices = [(c.mention, c.mention) for c in mine]
        return gr.update(choices=choices, value=made.mention), tr(
            "char_made", who.lang, mention=made.mention
        )

    @staticmethod
    def insert_character(prompt: str, mention: str):
        return (
            characters.insert_handle(prompt or "", (mention or "").lstrip("@"))
            if mention
            else gr.skip()
        )

    # — price and balance —

    async def price(self, model: str, api_key: str, page_info: str, request: gr.Request) -> str:
        who = self.h.who(request, page_info=page_info, api_key=api_key)
        try:
            found = await self.studio.assist.price(model or self.studio.settings.model, who)
        except SuxiError:
            return ""
        return found.text(who.lang, self.studio.settings.balance_unit) if found else ""

    async def balance(self, api_key: str, page_info: str, request: gr.Request):
        who = self.h.who(request, page_info=page_info, api_key=api_key)
        hidden = gr.update(value="", visible=False), gr.update(visible=False)
        try:
            report = await self.studio.assist.balance(who)
        except InputError:
            return hidden
        if not report.shown:  # the operator's balance on a public site: not the visitor's
            return hidden
        text = report.text(who.lang)
        shown = f"**{text}**" if report.low else text
        return gr.update(value=shown, visible=True), gr.update(visible=True)

    def storyboard_headers(self, page_info: str):
        """The shot table's column names in the page's language (a table takes no gr.I18n)."""
        lang = self.lang(page_info)
        return gr.update(headers=[tr("ui_sb_seconds", lang), tr("ui_sb_scene", lang)])
