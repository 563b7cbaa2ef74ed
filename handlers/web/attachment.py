"""A file the browser saves, never shows: the one way the web pages send a download."""

from __future__ import annotations

import asyncio
import os
import stat
import unicodedata
from collections.abc import AsyncIterator
from pathlib import Path
from typing import IO
from urllib.parse import quote

from starlette.responses import FileResponse, Response, StreamingResponse
from starlette.types import Receive, Scope, Send

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
        while chunk := await asyncio.to_thread(file.read, CHUNK):
            yield chunk

    headers = {**_headers(name, fallback), "content-length": str(size)}
    return _FileStream(file, chunks(), media_type=media_type, headers=headers)


def attachment_head(name: str, media_type: str, *, fallback: str = "tep") -> Response:
    """The answer to a HEAD for a download built on request: the headers its GET sends (what
    it is and the name to save it as), without building it, so without its length."""
    response = Response(media_type=media_type, headers=_headers(name, fallback))
    del response.headers["content-length"]
    return response


class _FileStream(StreamingResponse):
    """A file sent in chunks and closed once the response ends, however it ends: a browser
    that goes away mid-download leaves the chunks' generator suspended, not finished."""

    def __init__(
        self,
        file: IO[bytes],
        content: AsyncIterator[bytes],
        media_type: str,
        headers: dict[str, str],
    ) -> None:
        super().__init__(content, media_type=media_type, headers=headers)
        self.file = file

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self.file.close()


async def attachment_path(
    path: Path, name: str, media_type: str, *, fallback: str = "tep"
) -> Response | None:
    """The stored file at ``path`` to save as ``name``, as :func:`attachment` sends bytes (the
    same headers), but streamed from the disk a chunk at a time, never read whole into memory
    (a room of phones downloading one 15 MB document at once), answering HEAD and a
    ``Range`` (a download resumed on a weak connection). None when the file is not there
    (looked at off the event loop)."""
    found = await asyncio.to_thread(_stat, path)
    if found is None:
        return None
    headers = _headers(name, fallback)
    return FileResponse(path, media_type=media_type, headers=headers, stat_result=found)


def _stat(path: Path) -> os.stat_result | None:
    try:
        found = path.stat()
    except OSError:
        return None
    return found if stat.S_ISREG(found.st_mode) else None


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
