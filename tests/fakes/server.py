"""A loopback HTTP/1.1 server in front of a ``FakeBotApi``, for bots running in another process.

::

    fake = FakeBotApi()
    async with FakeBotApiServer(fake) as server:
        # e.g. `hoinghi run` with api_base_url = server.base_url, started by subprocess
        ...
    fake.assert_no_violations()

The server runs in the test's event loop and hands every request to the fake's own transport,
so long polls, injected faults and the recorded calls behave exactly as in-process. It speaks
just enough HTTP/1.1 for httpx: Content-Length bodies and keep-alive connections.

``rtt`` injects a network's round trip: each request reaches the fake half of it after the
server read it, and its answer leaves half of it after the fake answered. That is how Telegram
sees a bot far away: it counts a message towards its limits when the request *arrives* (half a
round trip after the bot sent it), and the bot learns the outcome half a round trip later. A
bot that counted its sends from their answers would therefore lose a round trip per window.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Protocol

import httpx


class ServedFake(Protocol):
    """What the server needs of a fake platform (the Telegram one, the Zalo one): its transport,
    and the base URLs it routes by, which the server points at itself while it runs."""

    transport: httpx.AsyncBaseTransport
    base_url: str
    base_file_url: str


# Telegram accepts uploads of up to 50 MB; anything larger is refused rather than buffered.
MAX_BODY_BYTES = 50 * 1024 * 1024
_HEAD_LIMIT = 64 * 1024  # bytes per request/header line (asyncio's StreamReader limit)


class _BadRequest(Exception):
    """The client sent something that is not the HTTP this server understands."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


class FakeBotApiServer:
    """Serves ``fake`` on ``http://127.0.0.1:<port>/bot`` until stopped."""

    def __init__(
        self,
        fake: ServedFake,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        rtt: float = 0.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        """Prepare to serve ``fake``; ``port=0`` picks a free port on ``start``; ``rtt``: the
        round trip in seconds added to every request (half on the way in, half on the way out),
        waited with ``sleep``."""
        if host != "127.0.0.1":
            raise ValueError(f"the fake Bot API only listens on 127.0.0.1, not {host!r}")
        if rtt < 0:
            raise ValueError(f"a round trip cannot be negative: {rtt}")
        self.fake = fake
        self.rtt = rtt
        self._sleep = sleep
        self.host = host
        self.port = port
        self.connections_accepted = 0
        self._server: asyncio.Server | None = None
        self._handlers: set[asyncio.Task[None]] = set()
        self._stopping = False  # stop() is cancelling the connections' handlers
        self._saved_urls: tuple[str, str] | None = None

    @property
    def base_url(self) -> str:
        """The ``base_url`` a bot should use (token and method are appended by PTB)."""
        return f"http://{self.host}:{self.port}/bot"

    @property
    def root_url(self) -> str:
        """The server's own address: a platform whose clients add ``/bot<token>/<method>``
        themselves (Zalo's ``[zalo] api_base_url``) is pointed here."""
        return f"http://{self.host}:{self.port}"

    @property
    def base_file_url(self) -> str:
        """The ``base_file_url`` a bot should use for file downloads."""
        return f"http://{self.host}:{self.port}/file/bot"

    async def start(self) -> None:
        """Bind and start accepting connections."""
        if self._server is not None:
            raise RuntimeError("the server is already running")
        self._server = await asyncio.start_server(
            self._serve_connection, self.host, self.port, limit=_HEAD_LIMIT
        )
        self.port = int(self._server.sockets[0].getsockname()[1])
        # The fake routes by URL path, so it must know the URLs its clients are given.
        self._saved_urls = (self.fake.base_url, self.fake.base_file_url)
        self.fake.base_url, self.fake.base_file_url = self.base_url, self.base_file_url

    async def stop(self) -> None:
        """Stop listening, drop open connections (cancelling long polls) and restore the fake."""
        if self._server is None:
            return
        self._server.close()
        self._stopping = True
        try:
            handlers = list(self._handlers)
            for task in handlers:
                task.cancel()
            await asyncio.gather(*handlers, return_exceptions=True)
            await self._server.wait_closed()
        finally:
            self._stopping = False
        self._server = None
        if self._saved_urls is not None:
            self.fake.base_url, self.fake.base_file_url = self._saved_urls

    async def __aenter__(self) -> FakeBotApiServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

    # --- HTTP -------------------------------------------------------------------------------

    async def _serve_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        self.connections_accepted += 1
        try:
            while await self._serve_one(reader, writer):
                pass
        except (ConnectionError, asyncio.IncompleteReadError):
            pass  # The client went away mid-request or mid-response; nobody is left to tell.
        except asyncio.CancelledError:
            if not self._stopping:
                raise
            # stop() dropped the connection: it ends here, quietly. (Python 3.11's stream
            # callback asks a cancelled handler for its exception, which raises, and logs that
            # as an error with its traceback; 3.12 checks for cancellation first.)
        finally:
            self._handlers.discard(task)
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def _serve_one(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        """Answer one request; ``False`` once the connection should be closed."""
        try:
            request_line = await reader.readline()
        except ValueError:  # longer than the StreamReader limit
            await _write(writer, httpx.Response(414), keep_alive=False)
            return False
        if not request_line:
            return False  # A clean close between requests.
        # When this loop got to the request (a bench compares it with when the fake counted it).
        read_at = time.monotonic()
        try:
            request, keep_alive = await self._read_request(request_line, reader)
        except _BadRequest as error:
            await _write(writer, httpx.Response(error.status, text=str(error)), keep_alive=False)
            return False
        request.extensions["read_at"] = read_at
        if self.rtt:
            await self._sleep(self.rtt / 2)  # on its way to Telegram
        try:
            response = await self.fake.transport.handle_async_request(request)
            await response.aread()
        except httpx.TimeoutException:
            # An injected timeout: stay silent until the client gives up and hangs up.
            await reader.read()
            return False
        except httpx.RemoteProtocolError:
            # An injected dropped connection: hang up, the request read, no answer sent.
            return False
        except Exception as error:
            # A crash inside the fake: answer like a broken server instead of hanging up, so
            # the bot process sees an error and the test sees the description.
            failure = httpx.Response(500, text=f"fake Bot API crashed: {error!r}")
            await _write(writer, failure, keep_alive=False)
            return False
        if self.rtt:
            await self._sleep(self.rtt / 2)  # the answer on its way back
        await _write(writer, response, keep_alive=keep_alive)
        return keep_alive

    async def _read_request(
        self, request_line: bytes, reader: asyncio.StreamReader
    ) -> tuple[httpx.Request, bool]:
        parts = request_line.decode("latin-1").split()
        if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
            raise _BadRequest(400, f"malformed request line {request_line!r}")
        method, target, version = parts
        headers: list[tuple[str, str]] = []
        while True:
            try:
                line = await reader.readline()
            except ValueError:
                raise _BadRequest(431, "header line too long") from None
            if line in (b"\r\n", b"\n"):
                break
            if not line:
                raise asyncio.IncompleteReadError(b"", None)
            name, colon, value = line.decode("latin-1").partition(":")
            if not colon:
                raise _BadRequest(400, f"malformed header line {line!r}")
            headers.append((name.strip(), value.strip()))
        fields = httpx.Headers(headers)
        if "chunked" in fields.get("transfer-encoding", "").lower():
            # httpx sends Content-Length for every body PTB builds, so chunking is not needed.
            raise _BadRequest(411, "chunked bodies are not supported; send Content-Length")
        try:
            length = int(fields.get("content-length", "0"))
        except ValueError:
            raise _BadRequest(400, "malformed Content-Length") from None
        if not 0 <= length <= MAX_BODY_BYTES:
            raise _BadRequest(413, f"body of {length} bytes is over the limit")
        body = await reader.readexactly(length)
        connection = fields.get("connection", "").lower()
        keep_alive = connection != "close" if version == "HTTP/1.1" else connection == "keep-alive"
        url = f"http://{self.host}:{self.port}{target}"
        return httpx.Request(method, url, headers=fields, content=body), keep_alive


async def _write(
    writer: asyncio.StreamWriter, response: httpx.Response, *, keep_alive: bool
) -> None:
    body = response.content
    reason = httpx.codes.get_reason_phrase(response.status_code) or "Unknown"
    head = [f"HTTP/1.1 {response.status_code} {reason}"]
    if "content-type" in response.headers:
        head.append(f"Content-Type: {response.headers['content-type']}")
    head.append(f"Content-Length: {len(body)}")
    head.append(f"Connection: {'keep-alive' if keep_alive else 'close'}")
    writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body)
    await writer.drain()
