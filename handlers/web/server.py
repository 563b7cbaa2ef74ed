"""uvicorn in the bot's own process and event loop: started and stopped by the composition
root like a chat channel, without uvicorn's own signal handling (the app's stop decides)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import urlsplit

import uvicorn
from starlette.types import ASGIApp

from bot.errors import ChannelUnavailable

log = logging.getLogger(__name__)

# Seconds a stop waits for requests being answered (an upload on a slow line is cut short).
STOP_GRACE = 5.0


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host``:``port`` (port 0: any free one); refused as
    :class:`ChannelUnavailable` when the address is taken or not this machine's."""
    family = socket.AF_INET6 if ":" in host.strip("[]") else socket.AF_INET
    # IPPROTO_TCP named, not left 0: asyncio turns Nagle off (TCP_NODELAY) only on sockets
    # whose proto says TCP, and an accepted socket inherits the listener's proto. With Nagle
    # on, an answer's body (written after its head) waited for the client's delayed ACK of
    # the head, ~40 ms on every request after a connection's first. Set on the listener too,
    # whose accepted sockets inherit it on Linux.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((host.strip("[]"), port))
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        raise ChannelUnavailable("web_listen", f"{host}:{port}: {exc.strerror}") from None
    sock.setblocking(False)
    return sock


@asynccontextmanager
async def serving(
    app: ASGIApp, *, host: str, port: int, base_url: str = "", grace: float = STOP_GRACE
) -> AsyncIterator[int]:
    """Serve ``app`` on ``host``:``port`` while the block runs; yields the port listened on.

    Behind a reverse proxy on this machine, the client's address comes from its
    X-Forwarded-For (trusted from 127.0.0.1 only). uvicorn's access log is off: it would
    write every path, and a personal page's path is its key (handlers.web.security.AccessLog
    writes the route instead).
    """
    sock = bind(host, port)
    config = uvicorn.Config(
        app,
        access_log=False,
        log_config=None,
        lifespan="off",
        proxy_headers=True,
        forwarded_allow_ips="127.0.0.1",
        server_header=False,
        root_path=urlsplit(base_url).path.rstrip("/"),
        timeout_graceful_shutdown=int(grace) or 1,
    )
    server = uvicorn.Server(config)
    config.load()
    server.lifespan = config.lifespan_class(config)
    await server.startup(sockets=[sock])
    looping = asyncio.create_task(server.main_loop(), name="hoinghi-web")
    listening = int(sock.getsockname()[1])
    log.info("web server listens on %s:%d", host, listening)
    try:
        yield listening
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await looping
        await server.shutdown(sockets=[sock])
        log.info("web server stopped")
