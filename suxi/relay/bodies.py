"""What a relay's error body says, in its own words. Pure.

Error bodies are usually new-api JSON (``{"error": {"message": …}}``, sometimes with
``message_zh``), sometimes plain text, sometimes a proxy's HTML page (docs/relay-protocol.md,
"Errors before the stream starts"). HTML is reduced to its title and never shown as markup.
"""

from __future__ import annotations

import json
import re
from html import unescape

from ..textsafe import clean_text, loads_json

TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
TAG = re.compile(r"<[^>]+>")
MAX_TEXT = 500


def error_text(error: object) -> str:
    """The relay's own words from an ``{"error": …}`` value (string or object)."""
    if isinstance(error, str):
        return clean_text(error, MAX_TEXT)
    if isinstance(error, dict):
        for key in ("message", "message_zh", "msg", "detail", "reason"):
            value = error.get(key)
            if isinstance(value, str) and value.strip():
                return clean_text(value.strip(), MAX_TEXT)
        return clean_text(json.dumps(error, ensure_ascii=False), MAX_TEXT)
    return clean_text(str(error), MAX_TEXT)


def describe_body(body: bytes, content_type: str = "") -> str:
    """The relay's own words from an error body; HTML gives only its title."""
    text = body.decode("utf-8", errors="replace").strip()
    content_type = content_type.lower()
    if "json" in content_type or text.startswith("{"):
        data = loads_json(text, max_bytes=len(body) + 1)
        if isinstance(data, dict):
            if data.get("error"):
                return error_text(data["error"])
            for key in ("message", "msg", "detail"):
                if isinstance(data.get(key), str):
                    return clean_text(data[key], MAX_TEXT)
    if "html" in content_type or text[:200].lstrip().lower().startswith(("<!doctype", "<html")):
        title = TITLE.search(text)
        return clean_text(unescape(TAG.sub("", title.group(1))).strip(), 200) if title else ""
    return clean_text(text, MAX_TEXT)
