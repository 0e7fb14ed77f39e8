"""The page's own scripts, put at the very top of the page's ``<head>``.

Gradio injects its ``head`` option with JavaScript after its app has started, which is too late
for what must happen first: the visitor's language choice (Gradio reads ``navigator.language``
when it starts) and the scripts the job cards and My videos call when they mount. So the HTML of
the page itself gets them, here, in an ASGI wrapper that touches only ``GET /`` answers that are
HTML and passes everything else through untouched (streams included).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
ASGIApp = Callable[
    [Scope, Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]], Awaitable[None]
]


def inline_scripts(*sources: str) -> bytes:
    """``<script>`` tags for the given sources (a ``</`` inside cannot end the tag early)."""
    return b"".join(
        b"<script>" + source.replace("</", "<\\/").encode("utf-8") + b"</script>"
        for source in sources
    )


class HeadScripts:
    def __init__(self, app: ASGIApp, html: bytes) -> None:
        self.app = app
        self.html = html

    async def __call__(self, scope: Scope, receive, send) -> None:
        if scope["type"] != "http" or scope.get("method") != "GET" or scope.get("path") != "/":
            await self.app(scope, receive, send)
            return
        start: Message | None = None
        body: list[bytes] = []

        async def capture(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
                return
            if message["type"] != "http.response.body" or start is None:
                await send(message)
                return
            body.append(message.get("body", b""))
            if message.get("more_body"):
                return
            page = b"".join(body)
            headers = [
                (k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"
            ]
            ctype = next((v for k, v in headers if k.lower() == b"content-type"), b"")
            if b"text/html" in ctype and b"<head>" in page:
                page = page.replace(b"<head>", b"<head>" + self.html, 1)
            headers.append((b"content-length", str(len(page)).encode()))
            await send({**start, "headers": headers})
            await send({"type": "http.response.body", "body": page})

        await self.app(scope, receive, capture)
