"""The studio's helpers beyond making videos: the key's balance, prompt help, characters and
the model's price (suxi/balance.py, suxi/prompthelp.py, suxi/characters.py, suxi/pricing.py),
each deciding who sees what the way :class:`suxi.studio.Studio` does."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from . import balance as balances
from . import characters, pricing, prompthelp
from .admission import KeyChoice
from .errors import InputError
from .generation import check_prompt
from .kinds import Kind, State

if TYPE_CHECKING:
    from .studio import Studio, Who


class Assist:
    def __init__(self, studio: Studio) -> None:
        self.studio = studio

    def balance_shown(self, who: Who) -> bool:
        """Whether ``who`` may see the balance of the key their requests spend: always their
        own key's; the operator's only locally or with ``SUXI_SHOW_BALANCE``."""
        choice = self.studio.choice(who)
        return not (
            choice.operator
            and self.studio.settings.shared
            and not self.studio.settings.show_balance
        )

    async def balance(self, who: Who) -> balances.Report:
        """The balance of the key ``who`` spends, what the jobs that ended since the previous
        reading cost, and whether it is low. Never raises a relay error (the report says)."""
        watch = getattr(self, "_balance_watch", None)
        if watch is None:
            s = self.studio.settings
            watch = balances.BalanceWatch(
                self.studio.runtime.secret, unit=s.balance_unit, low_balance=s.low_balance
            )
            self._balance_watch = watch
        if not self.balance_shown(who):
            return watch.hidden()
        choice = self.studio.choice(who)
        since = watch.since(choice.key)
        reading = await balances.read_balance(choice.relay.backends.http, choice.key)
        return watch.observe(choice.key, reading, self._ended_since(since, choice, who))

    def _ended_since(self, since: float | None, choice: KeyChoice, who: Who) -> int:
        """Jobs on this kind of key (the operator's: everyone's) that ended after ``since``."""
        if since is None:
            return 0
        owner = None if choice.operator else who.owner
        ended = tuple(state.value for state in State if state.ended)
        jobs, _ = self.studio.jobs.store.page(owner, limit=200, states=ended)
        return sum(
            1
            for j in jobs
            if j.finished is not None and j.finished >= since and j.own_key != choice.operator
        )

    async def prompt_model(self, who: Who) -> str | None:
        """The chat model prompt help uses for ``who``'s key (None: the relay lists none)."""
        if self.studio.settings.prompt_model:
            return self.studio.settings.prompt_model
        return prompthelp.pick_prompt_model(await self.studio.models(who))

    async def improve_prompt(self, text: object, who: Who) -> str:
        """``text`` with camera, light, motion and sound detail, from a chat model on the same
        relay (one paid call; on the operator's key of a shared deployment, limited per visitor
        per hour). Raises InputError / characters.Refused before sending, SuxiError after."""
        s = self.studio.settings
        prompt = check_prompt(text, s.max_prompt_chars)
        choice = self.studio.choice(who)
        model = await self.prompt_model(who)
        if model is None:
            raise characters.Refused(Kind.BAD_MODEL, "help_no_model")
        visitor = self.studio.runtime.visitor(who.owner, who.address)
        self.studio.jobs.admission.help_allowed(visitor, choice)
        self.studio.jobs.admission.record(visitor, choice, f"help-{uuid.uuid4().hex}", what="help")
        return await prompthelp.improve(
            choice.relay.backends.http, choice.key, prompt, model, limit=s.max_prompt_chars
        )

    def characters_of(self, who: Who) -> list[characters.Character]:
        """``who``'s characters made on the relay their key goes to, newest first."""
        try:
            origin = self.studio.choice(who).relay.origin
        except InputError:
            return []
        rows = self.studio.jobs.store.characters(self.studio.scope(who))
        return [c for c in map(characters.from_row, rows) if c.relay_origin == origin]

    async def make_character(
        self,
        who: Who,
        *,
        job_id: object = None,
        url: object = "",
        timestamps: object = "",
        model: object = "",
    ) -> characters.Character:
        """A character from a finished video (``job_id``) or from a clip link and a 1–3 s span
        (``url``, ``timestamps``, for ``model``), kept as ``who``'s. Raises Refused or
        InputError before sending (counted like a video against the per-visitor limits on the
        operator's key), SuxiError after."""
        if job_id:
            job = self.studio.visible(job_id, who)
            if job is None or job.state != State.DONE:
                raise characters.Refused(Kind.NOT_FOUND_JOB, "char_no_task")
            name = characters.check_model(job.model)
            task_id = characters.check_task(job.task_id)
            choice = self.studio.runtime.choice_for_job(job, who.api_key)
            fields: dict[str, str] = {"from_task": task_id}
            source = f"task:{job.id}"
        else:
            raw = (
                model.strip()
                if isinstance(model, str) and model.strip()
                else self.studio.settings.model
            )
            name = characters.check_model(raw)
            link = characters.check_clip_link(url)
            fields = {"url": link, "timestamps": characters.check_span(timestamps)}
            choice = self.studio.choice(who)
            source = link
        visitor = self.studio.runtime.visitor(who.owner, who.address)
        self.studio.jobs.admission.allowance(visitor, choice, 1)
        self.studio.jobs.admission.record(
            visitor,
            choice,
            f"character-{uuid.uuid4().hex}",  # counts like a video
        )
        ident, handle = await characters.request_character(
            choice.relay.backends.http, choice.key, **fields
        )
        made = characters.new_character(
            owner=who.owner,
            handle=handle,
            character_id=ident,
            source=source,
            relay_origin=choice.relay.origin,
            model=name,
        )
        self.studio.jobs.store.add_character(made.row())
        return made

    def delete_character(self, character_id: object, who: Who) -> bool:
        """Forget one of ``who``'s characters here (the relay keeps it)."""
        if not isinstance(character_id, str) or not character_id or len(character_id) > 64:
            return False
        return self.studio.jobs.store.delete_character(character_id, self.studio.scope(who))

    async def price(self, model: str, who: Who) -> pricing.Price | None:
        """The published price of one video of ``model`` on the relay ``who``'s key goes to;
        None when unknown. Bounded by a short timeout and kept a few minutes."""
        try:
            relay = self.studio.choice(who).relay
        except InputError:
            relay = self.studio.runtime.operator_relay
        lists = getattr(self, "_price_lists", None)
        if lists is None:
            lists = self._price_lists = {}
        if relay.origin not in lists:
            lists[relay.origin] = pricing.PriceList(relay.backends.http)
        return await lists[relay.origin].price(model)
