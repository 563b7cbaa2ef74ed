"""A file the browser saves, never shows: the one way the web pages send a download."""

from __future__ import annotations

import asyncio
import unicodedata
from collections.abc import AsyncIterator
from typing import IO
from urllib.parse import quote

from starlette.responses import Response, StreamingResponse

# How much of a spooled file is read at a time to send it.
CHUNK = 256 * 1024


def attachment(content: bytes, name: str, media_type: str, *, fallback: str = "tep") -> Response:
    """``content`` to save as ``name``: the name as given in ``filename*`` (RFC 6266 / 5987,
    Vietnamese kept) after a plain-letters ``filename`` for old browsers ("Đình" → "Dinh"),
    ``fallback`` when nothing plain is left; never cached (a personal file or list), never
    sniffed into a page."""
    return Response(content, media_type=media_type, headers=_headers(name, fallback))


def attachment_file(
    file: IO[bytes], name: str, media_type: str, *, fallback: str = "tep"
) -> Response:
    """An open temporary ``file`` (read from its start) to save as ``name``, as
    :func:`attachment` sends bytes, but sent in chunks read off the event loop, and closed
    (so removed) once sent or when the browser goes away."""
    size = file.seek(0, 2)
    file.seek(0)

    async def chunks() -> AsyncIterator[bytes]:
        try:
            while chunk := await asyncio.to_thread(file.read, CHUNK):
                yield chunk
        finally:
            file.close()

    headers = {**_headers(name, fallback), "content-length": str(size)}
    return StreamingResponse(chunks(), media_type=media_type, headers=headers)


def _headers(name: str, fallback: str) -> dict[str, str]:
    folded = unicodedata.normalize("NFKD", name.replace("đ", "d").replace("Đ", "D"))
    plain = "".join(c for c in folded if c.isascii() and (c.isalnum() or c in "._- ")).strip()
    plain = plain or fallback
    disposition = f'attachment; filename="{plain}"'
    if plain != name:
        disposition += f"; filename*=UTF-8''{quote(name, safe='')}"
    return {
        "content-disposition": disposition,
        "cache-control": "no-store",
        "x-content-type-options": "nosniff",
    }
