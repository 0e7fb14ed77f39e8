"""Characters: a person or creature from a clip, which later prompts mention as ``@handle``.

``POST /sora/v1/characters`` (docs/relay-protocol.md, "Other routes the app uses") takes either
``{"from_task": <task id of a finished video>}`` or ``{"url": <public https link to a clip>,
"timestamps": "1,3"}`` (the 1–3 second span the character appears in) and answers an id and a
username, the handle prompts use. Only families with ``characters=True`` in
``suxi/families.py`` (Sora) take them.

The app keeps each character in the ``characters`` table, owned by the visitor who made it like
a job, together with the relay it was made on (a handle means nothing to another relay).
Deleting one forgets it here; the relay has no route to delete it.
"""

from __future__ import annotations

import re
import time
import uuid
from dataclasses import dataclass
from typing import Any

from . import generation
from .errors import BadReplyError, InputError, NotFoundError, UnsafeURLError
from .families import family_for
from .kinds import Kind
from .relay.http import RelayHTTP
from .texts import tr
from .urlgate import MAX_IMAGE_LINK_LENGTH, check_url

CHARACTERS_PATH = "/sora/v1/characters"
MIN_SPAN = 1.0
MAX_SPAN = 3.0
MAX_START = 3600.0
HANDLE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_SECOND = r"\s*(\d+(?:\.\d+)?)\s*(?:s|秒)?\s*"
_SPAN = re.compile(rf"^{_SECOND}[,，\-–~～]{_SECOND}$")


class Refused(InputError):
    """A studio feature refused before anything was sent, or the relay does not offer it.

    ``kind`` is the nearest :class:`~suxi.kinds.Kind` (for logs and the API); the sentence the
    person reads is ``text_key`` of ``suxi/texts/studio.py``: show it with :meth:`message`."""

    def __init__(self, kind: Kind, text_key: str, **values: object) -> None:
        super().__init__(kind, text_key, **values)
        self.text_key = text_key

    def message(self, lang: str) -> str:
        return tr(self.text_key, lang, **self.values)


@dataclass(frozen=True)
class Character:
    id: str  # the app's own id (for deleting)
    owner: str
    created: float
    handle: str  # what a prompt mentions, without "@"
    character_id: str  # the relay's id
    source: str  # "task:<job id>" or the clip link
    relay_origin: str
    model: str

    @property
    def mention(self) -> str:
        return f"@{self.handle}"

    def public(self) -> dict[str, Any]:
        """What the page and the API see (no owner)."""
        return {
            "id": self.id,
            "handle": self.handle,
            "mention": self.mention,
            "model": self.model,
            "created": self.created,
            "source": self.source,
        }

    def row(self) -> dict[str, Any]:
        """The ``characters`` table's row (suxi/migrations.py)."""
        return {
            "id": self.id,
            "owner": self.owner,
            "created": self.created,
            "handle": self.handle,
            "character_id": self.character_id,
            "source": self.source,
            "relay_origin": self.relay_origin,
            "model": self.model,
        }


def from_row(row: dict[str, Any]) -> Character:
    return Character(
        id=str(row["id"]),
        owner=str(row["owner"]),
        created=float(row["created"]),
        handle=str(row["handle"]),
        character_id=str(row["character_id"]),
        source=str(row["source"]),
        relay_origin=str(row["relay_origin"]),
        model=str(row["model"]),
    )


def supports_characters(model: str) -> bool:
    return family_for(model).characters


def check_model(model: str) -> str:
    """``model`` when it is a model name whose family takes characters."""
    model = generation.check_model(model, "")
    if not model or not supports_characters(model):
        raise Refused(Kind.BAD_OPTION, "char_no_family", model=model[:80])
    return model


def _seconds(text: str) -> str:
    value = float(text)
    return str(int(value)) if value.is_integer() else f"{value:g}"


def check_span(timestamps: object) -> str:
    """The span as the relay wants it (``"1,3"``): start and end in seconds, 1 to 3 seconds
    apart. Accepts ``"1-3"``, ``"1s, 3s"``, full-width commas."""
    match = _SPAN.match(timestamps) if isinstance(timestamps, str) else None
    if match is None:
        raise Refused(Kind.BAD_OPTION, "char_bad_span", value=str(timestamps or "")[:40])
    start, end = float(match.group(1)), float(match.group(2))
    if start > MAX_START or not MIN_SPAN <= end - start <= MAX_SPAN:
        raise Refused(Kind.BAD_OPTION, "char_bad_span", value=timestamps.strip()[:40])
    return f"{_seconds(match.group(1))},{_seconds(match.group(2))}"


def check_clip_link(url: object) -> str:
    """A clip link the RELAY will fetch: https only, at most 2048 characters, a public host —
    the rules of starting-image links (suxi/urlgate.py, docs/hostile-input.md)."""
    link = url.strip() if isinstance(url, str) else ""
    try:
        check_url(link, "", schemes=("https",), max_length=MAX_IMAGE_LINK_LENGTH)
    except UnsafeURLError as err:
        raise Refused(Kind.IMAGE_URL, "char_bad_link") from err
    return link


def check_task(task_id: object) -> str:
    if not generation.is_task_id(task_id):
        raise Refused(Kind.NOT_MODIFIABLE, "char_no_task")
    return str(task_id)


def read_reply(reply: object) -> tuple[str, str]:
    """(the relay's id, the handle) from its answer: ``{"id", "username"}``, also inside
    ``data`` and under other common names. Raises BadReplyError when either is missing."""
    body = reply if isinstance(reply, dict) else {}
    if isinstance(body.get("data"), dict):
        body = {**body, **body["data"]}
    ident = next(
        (body[k] for k in ("id", "character_id", "cameo_id") if isinstance(body.get(k), str)), ""
    )
    handle = next(
        (body[k] for k in ("username", "handle", "name") if isinstance(body.get(k), str)), ""
    )
    handle = handle.strip().lstrip("@")
    if not ident.strip() or len(ident) > 200 or not HANDLE.fullmatch(handle):
        raise BadReplyError("character", relay_text=str(reply)[:200])
    return ident.strip(), handle


async def request_character(
    http: RelayHTTP,
    key: str,
    *,
    from_task: str | None = None,
    url: str | None = None,
    timestamps: str | None = None,
) -> tuple[str, str]:
    """Ask the relay for a character (one call; checked values only). Returns (id, handle).
    A relay without the route raises Refused("char_not_offered"); other failures raise the
    package's errors."""
    body = {"from_task": from_task} if from_task else {"url": url, "timestamps": timestamps}
    try:
        reply = await http.call_json("POST", CHARACTERS_PATH, key=key, json=body)
    except NotFoundError as err:
        raise Refused(Kind.NOT_FOUND, "char_not_offered") from err
    return read_reply(reply)


def new_character(
    *, owner: str, handle: str, character_id: str, source: str, relay_origin: str, model: str
) -> Character:
    return Character(
        id=uuid.uuid4().hex,
        owner=owner,
        created=time.time(),
        handle=handle,
        character_id=character_id,
        source=source,
        relay_origin=relay_origin,
        model=model,
    )


def insert_handle(prompt: str, handle: str) -> str:
    """``prompt`` with ``@handle`` added at its end (once: a prompt that mentions it already
    is returned unchanged)."""
    mention = f"@{handle.lstrip('@')}"
    if re.search(re.escape(mention) + r"(?![A-Za-z0-9_-]|\.[A-Za-z0-9])", prompt):
        return prompt
    text = prompt.rstrip()
    return f"{text} {mention}" if text else mention
