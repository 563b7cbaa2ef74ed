"""What keeps the personal pages safe whatever a route does: the headers on every answer, an
access log that writes the route and never the path (the path holds the token), forms that
only this server can have written, and the client's address as a key that is not the address.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import os
import secrets
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

access_log = logging.getLogger("hoinghi.web.access")
# The routes machines ask (handlers.web.probes): their access lines are DEBUG.
PROBES = frozenset({"/healthz", "/readyz", "/metrics"})

SECRET_ENV = "HOINGHI_WEB_SECRET"  # noqa: S105 (a variable name, not a secret)
SECRET_FILE = ".hoinghi-web-secret"  # noqa: S105
# No script but our own static file (handlers/web/static/page.js: nothing inline), no asset
# but our own, no frame, forms only to ourselves.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
HEADERS = (
    (b"referrer-policy", b"no-referrer"),
    (b"x-robots-tag", b"noindex, nofollow"),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"content-security-policy", CSP.encode()),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
)
# Behind HTTPS only: a year of never asking this host in plain HTTP, so a hotspot cannot answer
# an address typed without https:// (its own host only: the office's domain may serve others).
HSTS = (b"strict-transport-security", b"max-age=31536000")


def load_secret(folder: Path, env: dict[str, str] | Any = os.environ) -> bytes:
    """The server's secret for form tokens: ``$HOINGHI_WEB_SECRET``, else one generated once
    into a file beside the plan (readable by its owner only) so forms survive a restart."""
    given = env.get(SECRET_ENV, "")
    if given:
        return given.encode()
    path = folder / SECRET_FILE
    try:
        return path.read_bytes().strip()
    except FileNotFoundError:
        pass
    value = secrets.token_urlsafe(32).encode()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(value)
    return value


class Guard:
    """Form tokens bound to one personal page: a nonce per rendered form (the form's identity,
    so a form sent twice is recognised) and its HMAC with the server's secret and the page's
    invitation token. A page whose link was re-issued takes no form of the old one."""

    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def issue(self, token: str) -> tuple[str, str]:
        """A fresh (nonce, signature) for a form on ``token``'s page."""
        nonce = secrets.token_urlsafe(12)
        return nonce, self._sign(token, nonce)

    def valid(self, token: str, nonce: str, signature: str) -> bool:
        """Whether a posted form was written by this server for ``token``'s page."""
        if not nonce or len(nonce) > 64 or not signature:
            return False
        return hmac.compare_digest(self._sign(token, nonce), signature)

    def client_key(self, address: str) -> str:
        """The key wrong tokens are counted under for one client: a digest of its address
        with the secret (the database never holds the address itself)."""
        digest = hmac.new(self._secret, f"client|{address}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest[:18]).decode()

    def _sign(self, token: str, nonce: str) -> str:
        digest = hmac.new(self._secret, f"form|{token}|{nonce}".encode(), hashlib.sha256)
        return base64.urlsafe_b64encode(digest.digest()[:24]).decode()


class SecureHeaders:
    """Adds :data:`HEADERS` to every answer (and :data:`HSTS` when served over ``https``);
    pages (not the fingerprinted static files) are never stored by a cache, shared or not."""

    def __init__(self, app: ASGIApp, *, https: bool = False) -> None:
        self.app = app
        self.headers = (*HEADERS, HSTS) if https else HEADERS

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [(name, value) for name, value in self.headers if name not in present]
                if b"cache-control" not in present:
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


class AccessLog:
    """One log line per request: method, the *route* it matched (``/{token}/rsvp``, never the
    path with the token), status and time taken; ``observe`` is told the same route and the
    seconds (the metrics' latency)."""

    def __init__(self, app: ASGIApp, observe: Callable[[str, float], None] | None = None) -> None:
        self.app = app
        self.observe = observe

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_noting(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_noting)
        finally:
            took = time.perf_counter() - started
            route = scope.get("route")
            name = getattr(route, "path", None) or "(no route)"
            # A probe asked every few seconds would bury the requests of people: DEBUG.
            level = logging.DEBUG if name in PROBES else logging.INFO
            method = scope.get("method", "?")
            access_log.log(level, "%s %s %d %.1f ms", method, name, status, took * 1000)
            if self.observe is not None:
                self.observe(name, took)


def own_page(request: Request, origin: str) -> bool:
    """Whether the browser says a form was posted from this server's own pages (its
    ``Origin``, or ``Sec-Fetch-Site: same-origin``): stricter than :func:`same_site`, which lets
    a browser that says neither through. What a form carried is put back in a page's boxes only
    for one the browser vouches for, never for a post that merely names no other site."""
    sent = request.headers.get("origin")
    own = f"{request.url.scheme}://{request.headers.get('host', '')}"
    if sent is not None and sent != "null":
        return sent in (origin, own)
    return request.headers.get("sec-fetch-site") == "same-origin"


def same_site(request: Request, origin: str) -> bool:
    """Whether a form was posted from this server's own pages (``origin``, the public address,
    or the host the request names), as far as the browser says.

    Under ``Referrer-Policy: no-referrer`` a browser posts a form with ``Origin: null`` (the
    Fetch standard's rule, which Chromium follows), so there the browser's ``Sec-Fetch-Site``
    decides; a browser that sends neither is judged by the form's own signature alone, which
    every form must carry anyway."""
    sent = request.headers.get("origin")
    own = f"{request.url.scheme}://{request.headers.get('host', '')}"
    if sent is not None and sent != "null":
        return sent in (origin, own)
    return request.headers.get("sec-fetch-site", "same-origin") in ("same-origin", "none")
