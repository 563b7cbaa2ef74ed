"""Static files under names that change with their content (``site.3f2a…c1.css``), cached
for a year: a new version is a new name, so no browser keeps an old stylesheet or script."""

from __future__ import annotations

import hashlib
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, Response

STATIC_CACHE = "public, max-age=31536000, immutable"
MEDIA = {".css": "text/css", ".js": "text/javascript"}


class Static:
    """The files of ``folder`` under names that change with their content, cached for a year,
    at ``<prefix>/static/<name>`` (the personal pages' stylesheet; the dashboard's stylesheet
    and script)."""

    def __init__(self, folder: Path, prefix: str = "") -> None:
        self.files: dict[str, tuple[Path, str]] = {}
        self.names: dict[str, str] = {}
        self.prefix = prefix
        for path in sorted(folder.iterdir()):
            digest = hashlib.sha256(path.read_bytes()).hexdigest()[:12]
            name = f"{path.stem}.{digest}{path.suffix}"
            self.files[name] = (path, MEDIA.get(path.suffix, "application/octet-stream"))
            self.names[path.name] = name

    def url(self, name: str) -> str:
        """The fingerprinted address of a static file."""
        return f"{self.prefix}/static/{self.names[name]}"

    async def serve(self, request: Request) -> Response:
        """A static file by its fingerprinted name."""
        found = self.files.get(request.path_params["name"])
        if found is None:
            return PlainTextResponse("", status_code=404)
        path, media = found
        return FileResponse(path, media_type=media, headers={"cache-control": STATIC_CACHE})
