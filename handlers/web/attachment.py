"""A file the browser saves, never shows: the one way the web pages send a download."""

from __future__ import annotations

import unicodedata
from urllib.parse import quote

from starlette.responses import Response


def attachment(content: bytes, name: str, media_type: str, *, fallback: str = "tep") -> Response:
    """``content`` to save as ``name``: the name as given in ``filename*`` (RFC 6266 / 5987,
    Vietnamese kept) after a plain-letters ``filename`` for old browsers ("Đình" → "Dinh"),
    ``fallback`` when nothing plain is left; never cached (a personal file or list), never
    sniffed into a page."""
    folded = unicodedata.normalize("NFKD", name.replace("đ", "d").replace("Đ", "D"))
    plain = "".join(c for c in folded if c.isascii() and (c.isalnum() or c in "._- ")).strip()
    plain = plain or fallback
    disposition = f'attachment; filename="{plain}"'
    if plain != name:
        disposition += f"; filename*=UTF-8''{quote(name, safe='')}"
    return Response(
        content,
        media_type=media_type,
        headers={
            "content-disposition": disposition,
            "cache-control": "no-store",
            "x-content-type-options": "nosniff",
        },
    )
