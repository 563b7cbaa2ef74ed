"""Uploads read as they arrive, with a hard limit: the body goes to a temporary file on disk
part by part (python-multipart through Starlette's form parser spools a file past 1 MB to
disk), and the request is cut off the moment it passes the limit, whatever it announced."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable

from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException
from starlette.requests import ClientDisconnect, Request
from starlette.types import Message

from storage.files import MAX_BYTES

# Room for the form's other fields and the multipart framing around the file.
FORM_OVERHEAD = 64 * 1024
# Fields a form may carry (a list's checkboxes are allowed more: its own limit).
FORM_FIELDS = 12
# The largest text a form may carry: a typed draft is at most 60,000 characters, up to four
# bytes each in UTF-8 (an emoji), and a browser sends each byte of a letter with a diacritic as
# three characters (%E1%BA%A1): 720,000 bytes for the longest draft.
MAX_FIELD = 768 * 1024
# The typed text a form with a file may carry whatever the file's size: the body's room over
# the file's limit (FORM_OVERHEAD), less the framing of its parts and its hidden fields.
TEXT_BESIDE_FILE = FORM_OVERHEAD - 8 * 1024


class TooLarge(Exception):
    """The request's body passed the limit; ``size``: its bytes as announced (Content-Length),
    else as many as came before it was cut off."""

    def __init__(self, size: int = 0) -> None:
        super().__init__(size)
        self.size = size


def limited(request: Request, limit: int) -> Request:
    """``request`` whose body reading raises :class:`TooLarge` once more than ``limit`` bytes
    came (an announced Content-Length over it is refused before reading anything)."""
    announced = request.headers.get("content-length", "")
    if announced.isdigit() and int(announced) > limit:
        raise TooLarge(int(announced))
    received = 0
    upstream = request.receive

    async def receive() -> Message:
        nonlocal received
        message = await upstream()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > limit:
                raise TooLarge(int(announced) if announced.isdigit() else received)
        return message

    return Request(request.scope, receive)


async def read_form(request: Request, *, files: int = 0, fields: int = FORM_FIELDS) -> FormData:
    """The posted form, within the limit for a form with ``files`` files (at most one) and
    ``fields`` fields."""
    limit = FORM_OVERHEAD + (MAX_BYTES if files else MAX_FIELD)
    try:
        # A text field, of a file's form too, is held in memory: no larger than the longest
        # text a form may carry (a file goes to disk, within the body's limit).
        return await limited(request, limit).form(
            max_files=files, max_fields=fields, max_part_size=FORM_OVERHEAD + MAX_FIELD
        )
    except (HTTPException, MultiPartException) as exc:
        # Starlette's own cut of a part too large answers a bare English 400: said as ours.
        detail = getattr(exc, "detail", None) or getattr(exc, "message", "")
        if "maximum size" in str(detail):
            announced = request.headers.get("content-length", "")
            part = FORM_OVERHEAD + MAX_FIELD  # at least: the part that passed it
            raise TooLarge(int(announced) if announced.isdigit() else part) from exc
        raise


def text_field(form: FormData, name: str) -> str:
    """A text field of the form ('' when missing or a file)."""
    value = form.get(name)
    return value if isinstance(value, str) else ""


def upload(form: FormData, name: str) -> UploadFile | None:
    """A file field of the form, if a file was chosen."""
    value = form.get(name)
    return value if isinstance(value, UploadFile) and value.filename else None


_BOUNDARY = re.compile(r'boundary="?([^";,]+)"?', re.IGNORECASE)
_FIELD_NAME = re.compile(rb'content-disposition:[^\r\n]*;\s*name="([^"]*)"', re.IGNORECASE)


async def leading_fields(request: Request, names: Iterable[str]) -> dict[str, str]:
    """The text fields ``names`` of a multipart form refused as too large, as far as they came
    whole in its first bytes: a browser sends a form's fields in its order, the typed ones
    before the file, so what was typed can be shown again beside the refusal. Reads at most
    :data:`FORM_OVERHEAD` bytes of the body (none of the file that made it too large is kept);
    a field cut off, or a body already read, gives nothing."""
    found = _BOUNDARY.search(request.headers.get("content-type", ""))
    if found is None:
        return {}
    head = b""
    with contextlib.suppress(ClientDisconnect, RuntimeError):  # RuntimeError: read already
        async for chunk in request.stream():
            head += chunk
            if len(head) >= FORM_OVERHEAD:
                break
    wanted = set(names)
    fields: dict[str, str] = {}
    # Every part but the last came whole: it is followed by the next part's delimiter.
    for part in head.split(b"--" + found.group(1).encode("latin-1"))[1:-1]:
        header, separator, body = part.partition(b"\r\n\r\n")
        named = _FIELD_NAME.search(header)
        if not separator or named is None or b"filename=" in header.lower():
            continue
        name = named.group(1).decode("utf-8", "replace")
        if name in wanted:
            fields[name] = body.removesuffix(b"\r\n").decode("utf-8", "replace")
    return fields
