"""Talking to the relay: one HTTP layer and one backend per way of asking for a video.

Every backend turns its wire format into the same typed events (:mod:`suxi.events`) through the
same method, ``run(request, key, *, task_id=None, deadline, first_delay=0)``:

==============  ============================================  =======================
route           calls                                          resumable by task id
==============  ============================================  =======================
``chat``        ``POST /v1/chat/completions`` (one stream)     no
``unified``     ``POST /v1/video/create``, ``GET /v1/video/query``  yes
``generations`` ``POST /v1/video/generations[/{id}]``          yes (new-api's dialect)
``openai``      ``POST /v1/videos``, ``GET /v1/videos/{id}``    yes (+ remix, content)
==============  ============================================  =======================

:func:`routes_for` picks the routes to try for a job, in order (docs/model-families.md).
"""

from __future__ import annotations

from ..families import family_for
from ..generation import GenerationOptions
from .chat import ChatBackend
from .http import RelayHTTP
from .openai import OpenAIBackend
from .tasks import GenerationsBackend, TaskBackend, UnifiedBackend

FORMAT_ROUTES: dict[str, tuple[str, ...]] = {
    "chat": ("chat",),
    "unified": ("unified", "generations"),
    "openai": ("openai",),
}
TASK_ROUTES = ("unified", "generations", "openai")


def routes_for(options: GenerationOptions, remembered: str | None = None) -> list[str]:
    """The routes to try, in order. A forced format gives its own routes; ``auto`` gives chat
    for the families relays serve by chat first (the sora family), otherwise the task routes
    the family is served through, the one this relay answered last time first. Only a create
    refused as an unknown route (404/405: nothing was created) moves on to the next."""
    if options.format in FORMAT_ROUTES:
        routes = list(FORMAT_ROUTES[options.format])
    else:
        family = family_for(options.model)
        if family.formats and family.formats[0] == "chat":
            return ["chat"]
        routes = [r for f in family.formats if f != "chat" for r in FORMAT_ROUTES[f]]
        routes += [r for r in TASK_ROUTES if r not in routes]
    if remembered in routes:
        routes.remove(remembered)
        routes.insert(0, remembered)
    return routes


class Backends:
    """The backends of one relay, built once."""

    def __init__(self, http: RelayHTTP) -> None:
        self.http = http
        self._by_route: dict[str, ChatBackend | TaskBackend] = {
            "chat": ChatBackend(http),
            "unified": UnifiedBackend(http),
            "generations": GenerationsBackend(http),
            "openai": OpenAIBackend(http),
        }

    def get(self, route: str) -> ChatBackend | TaskBackend:
        return self._by_route[route]

    async def aclose(self) -> None:
        await self.http.aclose()


__all__ = ["FORMAT_ROUTES", "TASK_ROUTES", "Backends", "RelayHTTP", "routes_for"]
