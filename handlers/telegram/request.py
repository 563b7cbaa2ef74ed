"""How the bot talks HTTP to the Bot API: aiohttp by default, PTB's own httpx on request.

python-telegram-bot sends every request through a :class:`~telegram.request.BaseRequest`; its
own, ``HTTPXRequest``, costs 0.8 ms of CPU a request on a small server, 2.1 ms with 32 at once
(httpx, httpcore and anyio, and a pool whose bookkeeping grows with the connections it keeps:
encode/httpcore#1035). A tap is two requests and a share of a long poll, so over a real network
that was most of what a tap cost. :class:`AiohttpRequest` does the same over aiohttp's client,
whose parser is compiled: 0.3 and 0.24 ms (``bench/http_client.py``). ``[telegram]
http_client = "httpx"`` goes back to PTB's own, for a network where aiohttp does not work.

Both honour ``HTTPS_PROXY``/``HTTP_PROXY``/``NO_PROXY`` from the environment (read once, at
start) and verify certificates against certifi's list, as httpx does. An error's text never
holds the request's address: the token is in it, and a delivery's error is stored and shown to
the office.
"""

from __future__ import annotations

import base64
import functools
import json
import logging
import ssl
import urllib.request
from urllib.parse import unquote, urlsplit

import aiohttp
import certifi
import httpx
from telegram._utils.defaultvalue import DefaultValue
from telegram._utils.types import ODVInput, UploadFileDict
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, HTTPXRequest, RequestData

from bot.config import HttpClient
from bot.logs import redact

# Connections PTB's Application gives its bot (messages, toasts, downloads), and its poll.
BOT_POOL = 256
POLL_POOL = 1
# PTB's defaults (HTTPXRequest): seconds.
READ_TIMEOUT = 5.0
WRITE_TIMEOUT = 5.0
CONNECT_TIMEOUT = 5.0
POOL_TIMEOUT = 1.0
MEDIA_WRITE_TIMEOUT = 20.0
# A proxy's address and the header that gives it the user and password, or none.
_Proxy = tuple[str | None, dict[str, str] | None]
NO_PROXY: _Proxy = (None, None)
_JSON = {"Content-Type": "application/json"}
# A whole body's encoding, UTF-8 and compact: made once (json.dumps with any option builds a new
# encoder for every call).
_ENCODE_BODY = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
# The logger of PTB's BaseRequest, and what it logs of an answer it cannot read as JSON.
PTB_REQUEST_LOGGER = "telegram.request.BaseRequest"
_PTB_NOT_JSON = 'Can not load invalid JSON data: "%s"'


def new_request(client: HttpClient, *, pool: int = BOT_POOL) -> BaseRequest:
    """A request object for one Bot or for polling (``pool=POLL_POOL``), over ``client``."""
    if client == "httpx":
        return HTTPXRequest(connection_pool_size=pool)
    return AiohttpRequest(connection_pool_size=pool)


def quiet_unreadable_answers() -> None:
    """Log an answer that is not JSON in one short line (:class:`UnreadableAnswerFilter`),
    whichever HTTP client the bot uses; twice is once."""
    logger = logging.getLogger(PTB_REQUEST_LOGGER)
    if not any(isinstance(f, UnreadableAnswerFilter) for f in logger.filters):
        logger.addFilter(UnreadableAnswerFilter())


class UnreadableAnswerFilter(logging.Filter):
    """PTB logs an answer it cannot read as JSON at ERROR, with a traceback and the whole
    answer: a proxy's or firewall's HTML page (hundreds of lines in the office's log, and a
    page may quote the address asked for, the token in it). That record becomes a WARNING of
    one line with the answer's length; the error itself still reaches whoever sent the request
    (the outbox's outcome, the replies' retries, the error handler), which log its status. Any
    other record of the logger passes as it is."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Shorten PTB's record of an unreadable answer in place; every record is kept."""
        if record.msg == _PTB_NOT_JSON and isinstance(record.args, tuple) and record.args:
            characters = len(str(record.args[0]))
            record.msg = "an answer that is not JSON (%d characters; a proxy's page?), not logged"
            record.args = (characters,)
            record.levelno, record.levelname = (
                logging.WARNING,
                logging.getLevelName(logging.WARNING),
            )
            record.exc_info, record.exc_text = None, None
        return True


class AiohttpRequest(BaseRequest):
    """PTB's requests over one :class:`aiohttp.ClientSession`: the timeouts and the errors
    HTTPXRequest gives (``TimedOut``, ``NetworkError``), the same fields and uploads; the fields
    of a request without a file go as JSON (:func:`_json_body`), not as HTTPXRequest's form.

    aiohttp has no timeout for writing a request; the four timeouts together bound the whole
    request instead, so a stalled upload still ends.
    """

    def __init__(
        self,
        connection_pool_size: int = 1,
        *,
        read_timeout: float | None = READ_TIMEOUT,
        write_timeout: float | None = WRITE_TIMEOUT,
        connect_timeout: float | None = CONNECT_TIMEOUT,
        pool_timeout: float | None = POOL_TIMEOUT,
        media_write_timeout: float | None = MEDIA_WRITE_TIMEOUT,
    ) -> None:
        self._pool = connection_pool_size
        self._read = read_timeout
        self._write = write_timeout
        self._connect = connect_timeout
        self._pool_wait = pool_timeout
        self._media_write = media_write_timeout
        self._session: aiohttp.ClientSession | None = None
        self._proxies: dict[str, _Proxy] = {}
        self._bypassed: dict[str, bool] = {}

    @property
    def read_timeout(self) -> float | None:
        """Seconds to wait for an answer unless a call says otherwise (PTB adds a long poll's)."""
        return self._read

    async def initialize(self) -> None:
        """Open the session (inside the running loop, as aiohttp requires); twice is once."""
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(
                limit=self._pool,
                limit_per_host=0,
                ssl=ssl.create_default_context(cafile=certifi.where()),
            )
            # The proxy variables are read here, once, as httpx reads them: aiohttp's own
            # trust_env reads them and ~/.netrc on every request, in a thread (0.7 ms each).
            self._proxies, self._bypassed = _proxies_from_env(), {}
            self._session = aiohttp.ClientSession(
                connector=connector,
                headers={"User-Agent": self.USER_AGENT},
                timeout=aiohttp.ClientTimeout(total=None),
            )

    async def shutdown(self) -> None:
        """Close the session and its connections; twice is once."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        """One request: its status and its body; a timeout is ``TimedOut``, any other failure
        of the network ``NetworkError``."""
        if self._session is None:
            raise RuntimeError("This AiohttpRequest is not initialized!")
        files = request_data.multipart_data if request_data else None
        fields = _fields(request_data) if request_data else None
        read = self._read if isinstance(read_timeout, DefaultValue) else read_timeout
        connect = self._connect if isinstance(connect_timeout, DefaultValue) else connect_timeout
        wait = self._pool_wait if isinstance(pool_timeout, DefaultValue) else pool_timeout
        write = write_timeout
        if isinstance(write, DefaultValue):
            write = self._media_write if files else self._write
        timeout = _timeout(read, write, connect, wait)
        body: aiohttp.FormData | bytes | None = None
        headers = None
        if files:
            body = _multipart(fields or {}, files)
        elif fields:
            body, headers = self._body(fields)
        proxy, proxy_headers = self._proxy_for(url)
        try:
            async with self._session.request(
                method,
                url,
                data=body,
                headers=headers,
                timeout=timeout,
                proxy=proxy,
                proxy_headers=proxy_headers,
            ) as answer:
                return answer.status, await answer.read()
        except TimeoutError as exc:  # aiohttp's own timeouts are TimeoutErrors too
            raise TimedOut from exc
        except aiohttp.ClientError as exc:
            raise NetworkError(f"aiohttp.{type(exc).__name__}: {_without(url, exc)}") from exc

    def _body(self, fields: dict[str, str]) -> tuple[bytes, dict[str, str]]:
        """The body of a request without files, and the header that names its kind: JSON."""
        return _json_body(fields), _JSON

    def _proxy_for(self, url: str) -> _Proxy:
        """The proxy ``url`` goes through, if any (``NO_PROXY`` asked once per host)."""
        if not self._proxies:  # the usual case: no proxy at all, nothing to look up
            return NO_PROXY
        parts = urlsplit(url)
        proxy = self._proxies.get(parts.scheme)
        if proxy is None:
            return NO_PROXY
        host = parts.hostname or ""
        if host not in self._bypassed:
            self._bypassed[host] = bool(urllib.request.proxy_bypass(host))
        return NO_PROXY if self._bypassed[host] else proxy


# Failures that came before the request was sent: connecting (a refused or unreachable
# address, DNS, TLS, a proxy that would not open the tunnel), waiting for a free connection, an
# address the client would not use. Telegram cannot have got the request.
_UNSENT = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
    httpx.ProxyError,
    httpx.UnsupportedProtocol,
    httpx.LocalProtocolError,
    aiohttp.ClientConnectorError,
    aiohttp.ConnectionTimeoutError,
    aiohttp.ClientHttpProxyError,
    aiohttp.ServerFingerprintMismatch,
    aiohttp.InvalidURL,
)


def went_out(error: NetworkError) -> bool:
    """Whether a request that failed on the way (no answer from Telegram) may have reached it.

    PTB raises ``TimedOut`` for every timeout and ``NetworkError`` for every other failure of
    the HTTP client, each from the client's own error, which PTB and :class:`AiohttpRequest`
    keep as the cause. One that came before the request was sent (:data:`_UNSENT`: connecting,
    or waiting for a free connection) sent nothing. A read or write timeout, a timeout of
    unknown origin, and a connection that broke once the request was on it (the server closed
    it or reset it while the bot waited for the answer: httpx's ``RemoteProtocolError`` and
    ``ReadError``, aiohttp's ``ServerDisconnectedError`` and ``ClientOSError``) may have: the
    answer was lost, not necessarily the request. A ``NetworkError`` with no client error
    behind it is an answer (Telegram's 5xx, a proxy's page), not a failure on the way: no."""
    cause = error.__cause__
    if isinstance(cause, _UNSENT):
        return False
    if isinstance(error, TimedOut):
        return True
    return isinstance(cause, httpx.HTTPError | aiohttp.ClientError)


def _fields(request_data: RequestData) -> dict[str, str]:
    """PTB's ``RequestData.json_parameters``, each value JSON-encoded once: a text as it is,
    anything else (a number, a flag, a keyboard) JSON-serialized, the fields without a value left
    out. PTB's own encodes each value twice (once to see that it is not ``None``); with the
    timeouts made once (:func:`_timeout`), a request costs 12–14 µs less (bench/README.md,
    2026-12-06). tests/test_http_client.py checks the two agree."""
    return {
        name: value if isinstance(value, str) else json.dumps(value)
        for name, value in request_data.parameters.items()
    }


@functools.lru_cache(maxsize=64)
def _timeout(
    read: float | None, write: float | None, connect: float | None, wait: float | None
) -> aiohttp.ClientTimeout:
    """aiohttp's timeouts for PTB's four: one object for each combination (a handful: the
    defaults, a long poll's, an upload's), not one built for every request."""
    return aiohttp.ClientTimeout(
        total=_sum(read, write, connect, wait),
        connect=_sum(connect, wait),
        sock_connect=connect,
        sock_read=read,
    )


def _json_body(fields: dict[str, str]) -> bytes:
    """PTB's fields (each a string: a text as it is, anything else JSON-serialized) as one JSON
    object, in UTF-8.

    Telegram's server reads a string of a JSON body as a form field's value
    (``td::HttpReader::parse_json_parameters``), so Telegram gets what a form would give it. But
    a form percent-encodes every byte of a Vietnamese letter into three characters: a
    confirmation took 28 µs to encode and 582 bytes, a notice of 1,070 characters 80 µs and
    2,756; as JSON 7 µs each, and 405 and 1,645 bytes. Over HTTP a notice costs 0.04–0.07 ms
    less a message (``bench/http_client.py``; ``bench/README.md``, 2026-12-04). Handed a dict,
    aiohttp would build a form and a multipart writer first.
    """
    return _ENCODE_BODY(fields).encode()


def _proxies_from_env() -> dict[str, _Proxy]:
    """``HTTPS_PROXY`` and ``HTTP_PROXY`` (either case), each an ``http://`` proxy, its user and
    password apart; aiohttp reaches no other kind, and skips them as it does its own."""
    found: dict[str, _Proxy] = {}
    for scheme, address in urllib.request.getproxies().items():
        proxy = urlsplit(address)
        if scheme in ("http", "https") and proxy.scheme == "http" and proxy.hostname:
            headers = None
            if proxy.username:
                pair = f"{unquote(proxy.username)}:{unquote(proxy.password or '')}"
                basic = base64.b64encode(pair.encode()).decode("ascii")
                headers = {"Proxy-Authorization": f"Basic {basic}"}
            found[scheme] = (f"http://{proxy.netloc.rpartition('@')[2]}", headers)
    return found


def _sum(*seconds: float | None) -> float | None:
    """The sum, or None (no limit) if any of them is unlimited."""
    if any(part is None for part in seconds):
        return None
    return sum(part for part in seconds if part is not None)


def _multipart(fields: dict[str, str], files: UploadFileDict) -> aiohttp.FormData:
    """The form PTB's upload is: its parameters as fields, each file as a part of its own."""
    form = aiohttp.FormData(quote_fields=False)
    for name, value in fields.items():
        form.add_field(name, value)
    for name, (filename, content, mime) in files.items():
        form.add_field(name, content, filename=filename, content_type=mime)
    return form


def _without(url: str, exc: BaseException) -> str:
    """The error's text without the request's address (the token is in it)."""
    origin = url.split("/", 3)[:3]
    return redact(str(exc).replace(url, "/".join(origin)))
