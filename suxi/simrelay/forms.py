"""Request bodies of the task formats: JSON objects and ``multipart/form-data``."""

from __future__ import annotations

from email.message import Message
from typing import Any
from urllib.parse import parse_qsl

from .steps import RecordedRequest

FileField = tuple[str, str, bytes]  # (filename, content type, data)


class FormError(ValueError):
    pass


def _header_params(value: str, name: str) -> Message:
    msg = Message()
    msg[name] = value
    return msg


def parse_multipart(body: bytes, content_type: str) -> tuple[dict[str, str], dict[str, FileField]]:
    """The text fields and file parts of a ``multipart/form-data`` body (last one of a name wins).

    Split on the boundary by hand rather than through :mod:`email`'s line-based parser so a file
    part comes back byte for byte, whatever line endings or NUL bytes it holds.
    """
    boundary = _header_params(content_type, "content-type").get_param("boundary")
    if not isinstance(boundary, str) or not boundary:
        raise FormError("multipart body without a boundary")
    delimiter = b"--" + boundary.encode("latin-1")
    sections = body.split(delimiter)
    if len(sections) < 3 or not sections[-1].startswith(b"--"):
        raise FormError("multipart body without its closing boundary")
    form: dict[str, str] = {}
    files: dict[str, FileField] = {}
    for section in sections[1:-1]:
        if not section.startswith(b"\r\n"):
            raise FormError("malformed multipart part")
        raw_head, sep, data = section[2:].partition(b"\r\n\r\n")
        if not sep or not data.endswith(b"\r\n"):
            raise FormError("malformed multipart part")
        data = data[:-2]
        headers: dict[str, str] = {}
        for line in raw_head.decode("utf-8", "replace").split("\r\n"):
            key, _, value = line.partition(":")
            headers[key.strip().lower()] = value.strip()
        disposition = _header_params(headers.get("content-disposition", ""), "content-disposition")
        name = disposition.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            raise FormError("multipart part without a name")
        filename = disposition.get_param("filename", header="content-disposition")
        if isinstance(filename, str):
            ctype = headers.get("content-type", "application/octet-stream")
            files[name] = (filename, ctype, data)
        else:
            form[name] = data.decode("utf-8", "replace")
    return form, files


def read_fields(request: RecordedRequest) -> dict[str, Any]:
    """The request's fields: a JSON object, or form fields (multipart or urlencoded; files land
    on ``request.files``). Raises :class:`FormError` for anything else."""
    ctype = request.headers.get("content-type", "")
    if ctype.lower().startswith("multipart/form-data"):
        request.form, request.files = parse_multipart(request.body, ctype)
        return dict(request.form)
    # curl -d labels a JSON body as a form: take it as the JSON it is.
    form_body = ctype.lower().startswith("application/x-www-form-urlencoded")
    if form_body and not request.body.lstrip().startswith(b"{"):
        pairs = parse_qsl(request.body.decode("utf-8", "replace"), keep_blank_values=True)
        request.form = dict(pairs)
        return dict(request.form)
    try:
        payload = request.json()
    except ValueError as err:
        raise FormError("the body is not JSON") from err
    if not isinstance(payload, dict):
        raise FormError("the body is not a JSON object")
    return payload


def flag(value: Any) -> bool:
    """A boolean field sent as JSON ``true`` or as a form string ``"true"``/``"1"``."""
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def number(value: Any) -> int | None:
    """A whole number sent as JSON number or string (``"10"``, ``"10s"``); ``None`` otherwise."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return int(value)
    if isinstance(value, str):
        digits = value.strip().lower().removesuffix("s").strip()
        if digits.isdigit():
            return int(digits)
    return None
