"""The personal pages under load: hoinghi's web server against a bare Starlette "hello".

Each server runs in a process of its own (uvicorn, as ``hoinghi run`` starts it, access log
off), listening on loopback; this process is the clients: ``--clients`` (200) connections at
once, each asking in turn. hoinghi has ``--invitees`` (5,000) in its SQLite database, and every
request names a different invitee, drawn from a seed.

* **page**: ``GET /<token>`` — a personal page (the invitation, the answer, the forms).
* **rsvp**: ``POST /<token>/rsvp`` with the page's own form fields (CSRF signature included),
  choice "attend", answered 303 as a browser sees it (the redirect is not followed: it is the
  page again, measured above).
* **bare**: ``GET /`` of a Starlette app that answers "hello" — the same framework, server and
  transport with no work at all: the ceiling.

The sides take turns (``bench/common.py``: each round runs every phase once in a shuffled order;
the median round is reported), and each round starts with a warm-up the figures leave out.
Goals (issue 18): the page at ≥ 0.5 × the bare server's requests per second, and its p95 under
50 ms.

``checkin`` is the meeting day's desk over HTTP (issue 21): a check-in staff member signed in
with a one-time link and a desk chosen (its cookies), then **lookup** (``GET /<token>`` with
the desk cookie: the desk's view of the invitee, as the phone's camera opens a slip's QR) and
**tap** (``POST /office/checkin/in``: «Điểm danh», each invitee once) at ``--invitees``
(2,000) with ``--clients`` (4) desks at once; goal: each under 200 ms at p95.

Usage (from the repository root)::

    .venv/bin/python bench/web.py                   # 5,000 invitees, 200 clients, 3 rounds
    .venv/bin/python bench/web.py --requests 2000 --rounds 5
    .venv/bin/python bench/web.py cpu               # CPU per page and per post, in process
    .venv/bin/python bench/web.py cpu --profile     # ... and where that CPU goes (cProfile)
    .venv/bin/python bench/web.py cpu --notices 5   # ... with five notices sent to everyone
    .venv/bin/python bench/web.py checkin           # the desk: lookup and tap, 2,000 invitees

``cpu`` calls the application directly (no socket, no client) on pages already opened once, as
in the load phases, and divides this process's CPU time by the requests: a steadier figure
than requests per second on a machine shared with other work.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from bench.common import copy_database, delegate_rows, interleaved, machine, percentile  # noqa: E402
from bot.app import freeze_startup_heap  # noqa: E402

if TYPE_CHECKING:
    from starlette.types import ASGIApp

PAGE_RATIO_GOAL = 0.5
PAGE_P95_GOAL_MS = 50.0
# The example plan's answers close at 17:00 on 21/5/2024: the bench's clock stands before that.
BENCH_NOW = datetime(2024, 5, 18, 9, 0, tzinfo=ZoneInfo("Asia/Ho_Chi_Minh"))
SECRET = b"bench-web-secret-not-for-production"
_HIDDEN = re.compile(r'<input type="hidden" name="(nonce|csrf|lang)" value="([^"]*)">')


# --- the servers (each in its own process) -------------------------------------------------------


async def prepare(db: Path, invitees: int, notices: int = 0) -> None:
    """A database with ``invitees`` delegates of the example plan (and ``notices`` office
    notices sent to every one of them, each with a copy for each, as the outbox leaves them
    for invitees on no chat: what a personal page reads its notices from)."""
    from bot.config import load_config
    from bot.domain.clock import ManualClock
    from bot.services import build_services
    from storage.engine import create_engine, create_sessionmaker
    from storage.migrate import upgrade_database
    from tests.conftest import EXAMPLE_CONFIG

    config = load_config(EXAMPLE_CONFIG).config
    engine = create_engine(f"sqlite+aiosqlite:///{db}")
    try:
        await upgrade_database(engine)
        services = await build_services(config, create_sessionmaker(engine), ManualClock(BENCH_NOW))
        rows = delegate_rows(config, invitees)
        await services.delegates.import_rows(rows, actor="bench")
        if notices:
            await add_sent_notices(services, notices)
    finally:
        await engine.dispose()


async def add_sent_notices(services: Any, notices: int) -> None:
    """``notices`` notices to every invitee, sent (a minute apart, before the bench's clock):
    the message rows and one ``not_linked`` copy per invitee, written as the outbox writes
    them (one executemany)."""
    from datetime import timedelta

    from sqlalchemy import insert, select

    from bench.common import add_notice
    from bot.domain.outbound import DeliveryStatus, MessageStatus
    from storage.models import Delegate, Delivery
    from storage.uow import unit_of_work

    ctx = services.ctx
    async with unit_of_work(ctx.sessions) as session:
        people = list(
            await session.scalars(select(Delegate.id).where(Delegate.meeting_id == ctx.meeting_id))
        )
        for index in range(notices):
            at = BENCH_NOW - timedelta(minutes=notices - index)
            message = await add_notice(
                session, ctx.meeting_id, f"Thông báo {index + 1}: đổi phòng họp.", at,
                audience="everyone",
            )  # fmt: skip
            message.status, message.queued_at, message.finished_at = MessageStatus.DONE, at, at
            await session.flush()
            fixed = {
                "message_id": message.id,
                "status": DeliveryStatus.NOT_LINKED.value,
                "attempts": 0,
                "parts_sent": 0,
                "created_at": at,
                "updated_at": at,
            }
            copies = [
                {**fixed, "delegate_id": person, "recipient": f"delegate:{person}"}
                for person in people
            ]
            await (await session.connection()).execute(insert(Delivery.__table__), copies)


async def serve(side: str, port: int, db: Path) -> None:
    """Serve ``side`` on 127.0.0.1:``port`` until killed; says "ready" once listening."""
    from handlers.web.server import serving

    if side == "bare":
        from starlette.applications import Starlette
        from starlette.requests import Request
        from starlette.responses import PlainTextResponse
        from starlette.routing import Route

        async def hello(request: Request) -> PlainTextResponse:
            return PlainTextResponse("hello")

        app = Starlette(routes=[Route("/", hello)])
        async with serving(app, host="127.0.0.1", port=port):
            print("ready", flush=True)
            await asyncio.Event().wait()
        return

    app = await hoinghi_app(db, f"http://127.0.0.1:{port}")
    async with serving(app, host="127.0.0.1", port=port):
        freeze_startup_heap()  # as `hoinghi run` does once started (bot.app)
        print("ready", flush=True)
        await asyncio.Event().wait()


async def hoinghi_app(db: Path, base_url: str) -> ASGIApp:
    """hoinghi's web application on the bench database, its clock before the deadline."""
    from bot.config import load_config
    from bot.domain.clock import ManualClock
    from bot.services import build_services
    from bot.texts import load_catalog
    from handlers.web.app import WebSetup, build_web_app
    from storage.engine import create_engine, create_sessionmaker
    from tests.conftest import EXAMPLE_CONFIG

    config = load_config(EXAMPLE_CONFIG).config
    assert config.web is not None
    settings = config.web.model_copy(update={"base_url": base_url})
    engine = create_engine(f"sqlite+aiosqlite:///{db}")
    services = await build_services(config, create_sessionmaker(engine), ManualClock(BENCH_NOW))
    return build_web_app(WebSetup(services, load_catalog("vi"), settings, SECRET))


# --- the CPU a request costs, in this process -----------------------------------------------------

CPU_HOST = "127.0.0.1:8080"


async def call(
    app: ASGIApp, method: str, path: str, body: bytes = b"", headers: Sequence[tuple[str, str]] = ()
) -> tuple[int, bytes]:
    """One request straight to ``app`` (no socket, no HTTP client): its status and body."""
    path, _, query = path.partition("?")
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [(b"host", CPU_HOST.encode())]
        + [(name.lower().encode(), value.encode()) for name, value in headers]
        + ([(b"content-length", str(len(body)).encode())] if body else []),
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8080),
    }
    asked = False

    async def receive() -> dict[str, Any]:
        nonlocal asked
        if asked:
            return {"type": "http.disconnect"}
        asked = True
        return {"type": "http.request", "body": body, "more_body": False}

    status, chunks = 0, []

    async def send(message: MutableMapping[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = int(message["status"])
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, send)  # type: ignore[arg-type]
    return status, b"".join(chunks)


async def cpu(args: argparse.Namespace) -> None:
    """Print the CPU time a page and an RSVP post cost in this process (and, with
    ``--profile``, the functions that cost most)."""
    import cProfile
    import pstats

    print(machine())
    with tempfile.TemporaryDirectory(prefix="hoinghi-bench-web-") as folder:
        db = Path(folder) / "web.db"
        await prepare(db, args.invitees, args.notices)
        tokens = await tokens_of(db)
        rng = random.Random(args.seed)
        picks = [rng.choice(tokens) for _ in range(args.requests)]
        app = await hoinghi_app(db, f"http://{CPU_HOST}")
        bodies = []
        for token in picks:  # each page opened once first, as before the load phases
            status, page = await call(app, "GET", f"/{token}")
            assert status == 200, status
            text = page.decode()
            start = text.index('id="form-attend"')
            fields = dict(_HIDDEN.findall(text[start : text.index("</form>", start)]))
            bodies.append(urlencode({**fields, "choice": "attend"}).encode())
        # The event loop's thread's own CPU (SQLite's work is on aiosqlite's thread).
        profiler = cProfile.Profile(time.thread_time) if args.profile else None
        form = (("origin", f"http://{CPU_HOST}"),)
        form += (("content-type", "application/x-www-form-urlencoded"),)
        figures = {}
        for name in ("page", "rsvp"):
            if profiler is not None:
                profiler.enable()
            started = time.process_time()
            for token, body in zip(picks, bodies, strict=True):
                if name == "page":
                    status, _ = await call(app, "GET", f"/{token}")
                    assert status == 200, status
                else:
                    status, _ = await call(app, "POST", f"/{token}/rsvp", body, form)
                    assert status == 303, status
            figures[name] = (time.process_time() - started) / len(picks) * 1000
            if profiler is not None:
                profiler.disable()
    print(
        f"{args.invitees:,} invitees, {args.notices} notices to each, "
        f"{len(picks):,} requests of each kind, in process"
    )
    for name, ms in figures.items():
        print(f"{name:<5} {ms:6.2f} ms CPU a request")
    if profiler is not None:
        stats = pstats.Stats(profiler)
        stats.sort_stats("cumulative").print_stats(45)
        stats.sort_stats("tottime").print_stats(30)


# --- the clients (this process) -------------------------------------------------------------


@dataclass(frozen=True)
class Phase:
    """One timed phase: requests answered, seconds, and each request's latency."""

    name: str
    requests: int
    seconds: float
    latencies: Sequence[float]
    failures: int

    @property
    def rate(self) -> float:
        """Requests answered a second."""
        return self.requests / self.seconds

    @property
    def p95_ms(self) -> float:
        """The 95th percentile latency, in milliseconds."""
        return percentile(self.latencies, 0.95) * 1000


class Server:
    """A server process of ``bench/web.py serve``."""

    def __init__(self, side: str, db: Path) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.process = subprocess.Popen(
            [sys.executable, __file__, "serve", side, str(self.port), str(db)],
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        assert self.process.stdout is not None
        if self.process.stdout.readline().strip() != "ready":
            raise RuntimeError(f"the {side} server did not start")

    @property
    def url(self) -> str:
        """Where it listens."""
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        """End the process."""
        self.process.terminate()
        self.process.wait(timeout=30)


class Connection:
    """One keep-alive HTTP/1.1 connection with as little client work as can be: the figures
    are the servers', not a Python HTTP client's (httpx at 200 connections costs more CPU than
    a bare Starlette server, on a machine both share)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def request(self, method: str, path: str, body: bytes = b"", **headers: str) -> bytes:
        """Send one request; the status line and the body of its answer."""
        if self.streams is None:
            self.streams = await asyncio.open_connection("127.0.0.1", self.port)
        reader, writer = self.streams
        head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n"
        head += "".join(f"{name.replace('_', '-')}: {value}\r\n" for name, value in headers.items())
        if body:
            head += f"Content-Length: {len(body)}\r\n"
        writer.write(head.encode() + b"\r\n" + body)
        answer = await reader.readuntil(b"\r\n\r\n")
        length = re.search(rb"(?i)\r\ncontent-length: *(\d+)", answer)
        content = await reader.readexactly(int(length.group(1))) if length else b""
        if re.search(rb"(?i)\r\nconnection: *close", answer):
            writer.close()
            self.streams = None
        return answer.split(b"\r\n", 1)[0] + b"\n" + content

    def close(self) -> None:
        """Hang up."""
        if self.streams is not None:
            self.streams[1].close()


async def load(
    name: str,
    count: int,
    clients: int,
    port: int,
    request: Callable[[Connection, int], Awaitable[bool]],
) -> Phase:
    """``count`` requests from ``clients`` connections at once to ``port``; ``request`` makes
    the i-th and says whether its answer was the right one."""
    latencies: list[float] = []
    errors: Counter[str] = Counter()
    failures = 0
    next_index = 0

    async def worker() -> None:
        nonlocal next_index, failures
        connection = Connection(port)
        try:
            while next_index < count:
                index = next_index
                next_index += 1
                started = time.perf_counter()
                try:
                    ok = await request(connection, index)
                except (OSError, asyncio.IncompleteReadError) as exc:  # counted, said once
                    ok = False
                    errors[type(exc).__name__] += 1
                    connection.close()
                    connection = Connection(port)
                latencies.append(time.perf_counter() - started)
                failures += not ok
        finally:
            connection.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(clients)))
    seconds = time.perf_counter() - started
    if errors:
        print(f"  {name}: " + ", ".join(f"{n} × {e}" for e, n in errors.items()), file=sys.stderr)
    return Phase(name, count, seconds, latencies, failures)


async def form_fields(base: str, tokens: Sequence[str]) -> list[dict[str, str]]:
    """The attend form's hidden fields on each of ``tokens``' pages (fetched before timing)."""
    async with httpx.AsyncClient(timeout=60) as client:

        async def one(token: str) -> dict[str, str]:
            page = (await client.get(f"{base}/{token}")).text
            start = page.index('id="form-attend"')
            return dict(_HIDDEN.findall(page[start : page.index("</form>", start)]))

        found: list[dict[str, str]] = []
        for start in range(0, len(tokens), 50):
            found += await asyncio.gather(*(one(t) for t in tokens[start : start + 50]))
        return found


async def tokens_of(db: Path) -> list[str]:
    """Every invitee's token in the bench database."""
    from sqlalchemy import text

    from storage.engine import create_engine

    engine = create_engine(f"sqlite+aiosqlite:///{db}")
    try:
        async with engine.connect() as connection:
            rows = await connection.execute(text("SELECT token FROM invitations"))
            return [row[0] for row in rows]
    finally:
        await engine.dispose()


async def bench(args: argparse.Namespace) -> bool:
    """Prepare, serve both sides, run the rounds, print the figures; True if the goals are met."""
    print(machine())
    with tempfile.TemporaryDirectory(prefix="hoinghi-bench-web-") as folder:
        db = Path(folder) / "web.db"
        await prepare(db, args.invitees)
        tokens = await tokens_of(db)
        rng = random.Random(args.seed)
        hoinghi, bare = Server("hoinghi", db), Server("bare", db)
        try:
            picks = [rng.choice(tokens) for _ in range(args.requests)]
            fields = await form_fields(hoinghi.url, picks)

            bodies = [
                urlencode({**fields[index], "choice": "attend"}).encode()
                for index in range(args.requests)
            ]

            async def page(connection: Connection, index: int) -> bool:
                answer = await connection.request("GET", f"/{picks[index]}")
                return answer.startswith(b"HTTP/1.1 200") and b"form-attend" in answer

            async def rsvp(connection: Connection, index: int) -> bool:
                answer = await connection.request(
                    "POST",
                    f"/{picks[index]}/rsvp",
                    bodies[index],
                    Origin=hoinghi.url,
                    Content_Type="application/x-www-form-urlencoded",
                )
                return answer.startswith(b"HTTP/1.1 303")

            async def hello(connection: Connection, index: int) -> bool:
                return (await connection.request("GET", "/")).startswith(b"HTTP/1.1 200")

            phases = {"page": page, "rsvp": rsvp, "bare": hello}
            ports = {"page": hoinghi.port, "rsvp": hoinghi.port, "bare": bare.port}
            warm = min(200, args.requests)

            def side(name: str) -> Callable[[], Awaitable[Phase]]:
                async def run() -> Phase:
                    port = ports[name]
                    await load(name, warm, args.clients, port, phases[name])  # warm-up: not counted
                    return await load(name, args.requests, args.clients, port, phases[name])

                return run

            rounds = await interleaved({name: side(name) for name in phases}, args.rounds)
        finally:
            hoinghi.stop()
            bare.stop()
    print(
        f"{args.invitees:,} invitees, {args.requests:,} requests a phase, {args.clients} "
        f"clients at once, {args.rounds} rounds (order: "
        + " | ".join(" ".join(order) for order in rounds.order)
        + ")"
    )
    print(f"{'phase':<6} {'req/s (median)':>15} {'range':>17} {'p95 ms':>8} {'failures':>9}")
    for name in phases:
        low, high = rounds.spread(name, lambda p: p.rate)
        p95 = rounds.median(name, lambda p: p.p95_ms)
        failures = sum(p.failures for p in rounds.results[name])
        print(
            f"{name:<6} {rounds.median(name, lambda p: p.rate):>15.0f} "
            f"{f'{low:.0f}–{high:.0f}':>17} {p95:>8.1f} {failures:>9}"
        )
    bare_rate = rounds.median("bare", lambda p: p.rate)
    page_ratio = rounds.median("page", lambda p: p.rate) / bare_rate
    rsvp_ratio = rounds.median("rsvp", lambda p: p.rate) / bare_rate
    page_p95 = rounds.median("page", lambda p: p.p95_ms)
    failures = sum(p.failures for phase in rounds.results.values() for p in phase)
    met = page_ratio >= PAGE_RATIO_GOAL and page_p95 < PAGE_P95_GOAL_MS and failures == 0
    print(
        f"page / bare: {page_ratio:.2f} (goal ≥ {PAGE_RATIO_GOAL}); rsvp / bare: {rsvp_ratio:.2f}; "
        f"page p95 {page_p95:.1f} ms (goal < {PAGE_P95_GOAL_MS:.0f}); "
        + ("goals met" if met else "GOALS MISSED")
    )
    return met


CHECKIN_P95_GOAL_MS = 200.0
DESK_STAFF = "BD00001"  # the bench's check-in staff member (the first synthetic delegate)
_FIELD = re.compile(r'<input type="hidden" name="([a-z_]+)" value="([^"]*)">')


async def desk_session(
    db: Path, base: str, transport: httpx.AsyncBaseTransport | None = None
) -> tuple[str, str, dict[str, str]]:
    """Sign :data:`DESK_STAFF` in at a desk over HTTP, as a phone does: the desk cookie alone,
    every cookie, and the desk forms' signature (a nonce and its CSRF, valid for the session)."""
    from bot.config import load_config
    from bot.domain.clock import ManualClock
    from bot.services import build_services
    from bot.services.access import Role
    from storage.engine import create_engine, create_sessionmaker
    from tests.conftest import EXAMPLE_CONFIG

    engine = create_engine(f"sqlite+aiosqlite:///{db}")
    try:
        config = load_config(EXAMPLE_CONFIG).config
        services = await build_services(config, create_sessionmaker(engine), ManualClock(BENCH_NOW))
        access = services.access
        await access.grant(access.local_operator(), DESK_STAFF, Role.CHECKIN)
        link = await services.signin.link_for_code(DESK_STAFF)
    finally:
        await engine.dispose()
    assert link.secret is not None

    def form(html: str, form_id: str) -> dict[str, str]:
        start = html.index(f'id="{form_id}"')
        return dict(_FIELD.findall(html[start : html.index("</form>", start)]))

    async with httpx.AsyncClient(
        base_url=base, timeout=60, headers={"origin": base}, transport=transport
    ) as client:
        page = await client.get(f"/office/signin/{link.secret}")
        await client.post(f"/office/signin/{link.secret}", data=form(page.text, "form-signin"))
        page = await client.get("/office/checkin/desk")
        await client.post("/office/checkin/desk", data={**form(page.text, "form-desk"),
                                                        "desk": "Bàn 1"})  # fmt: skip
        page = await client.get("/office/checkin")
        guest = form(page.text, "form-guest")
        cookies = {cookie.name: cookie.value for cookie in client.cookies.jar}
    signature = {"nonce": guest["nonce"], "csrf": guest["csrf"]}
    every = "; ".join(f"{name}={value}" for name, value in cookies.items())
    return f"hoinghi_desk={cookies['hoinghi_desk']}", every, signature


async def checkin_cpu(args: argparse.Namespace) -> None:
    """The CPU a tap costs in this process (no socket): the desk's session and cookie checks,
    the form's signature and request key, the check-in, the 303; with ``--profile``, where."""
    import cProfile
    import pstats

    print(machine())
    with tempfile.TemporaryDirectory(prefix="hoinghi-bench-checkin-") as folder:
        db = Path(folder) / "web.db"
        await prepare(db, args.invitees)
        tokens = await tokens_of(db)
        random.Random(args.seed).shuffle(tokens)
        base = f"http://{CPU_HOST}"
        app = await hoinghi_app(db, base)
        transport = httpx.ASGITransport(app=app)
        _, cookies, signature = await desk_session(db, base, transport)
        headers = (("cookie", cookies), ("origin", base),
                   ("content-type", "application/x-www-form-urlencoded"))  # fmt: skip
        count = min(args.requests, len(tokens) - 50)
        costs = []
        profiler = cProfile.Profile(time.process_time) if args.profile else None
        for index in range(count + 50):  # the first 50 warm up, not counted
            body = urlencode({**signature, "key": tokens[index], "rk": f"bench-{index:08d}",
                              "back": f"/{tokens[index]}", "as": "delegate"})  # fmt: skip
            if profiler is not None and index >= 50:
                profiler.enable()
            before = time.process_time()
            status, _ = await call(app, "POST", "/office/checkin/in", body.encode(), headers)
            if index >= 50:
                costs.append((time.process_time() - before) * 1000)
            if profiler is not None:
                profiler.disable()
            assert status == 303, status
    print(f"{args.invitees:,} invitees, {count:,} taps in process: CPU ms a tap median "
          f"{percentile(costs, 0.5):.2f}, p95 {percentile(costs, 0.95):.2f}, "
          f"mean {sum(costs) / len(costs):.2f}")  # fmt: skip
    if profiler is not None:
        stats = pstats.Stats(profiler)
        stats.sort_stats("cumulative").print_stats(50)
        stats.sort_stats("tottime").print_stats(25)


async def bench_checkin(args: argparse.Namespace) -> bool:
    """The desk over HTTP: lookups, then taps, each invitee once; True if the goal is met."""
    print(machine())
    with tempfile.TemporaryDirectory(prefix="hoinghi-bench-checkin-") as folder:
        db = Path(folder) / "web.db"
        await prepare(db, args.invitees)
        tokens = await tokens_of(db)
        random.Random(args.seed).shuffle(tokens)
        count = min(args.requests, len(tokens))
        server = Server("hoinghi", db)
        try:
            desk_cookie, cookies, signature = await desk_session(db, server.url)

            async def lookup(connection: Connection, index: int) -> bool:
                answer = await connection.request("GET", f"/{tokens[index]}", Cookie=desk_cookie)
                return answer.startswith(b"HTTP/1.1 200") and b'id="form-tap"' in answer

            async def tap(connection: Connection, index: int) -> bool:
                body = urlencode({**signature, "key": tokens[index], "rk": f"bench-{index:08d}",
                                  "back": f"/{tokens[index]}", "as": "delegate"})  # fmt: skip
                answer = await connection.request(
                    "POST", "/office/checkin/in", body.encode(), Cookie=cookies,
                    Origin=server.url, Content_Type="application/x-www-form-urlencoded",
                )  # fmt: skip
                return answer.startswith(b"HTTP/1.1 303")

            await load("warm", min(50, count), args.clients, server.port, lookup)  # not counted
            phases = [
                await load("lookup", count, args.clients, server.port, lookup),
                await load("tap", count, args.clients, server.port, tap),
            ]
        finally:
            server.stop()
    print(f"{args.invitees:,} invitees, {count:,} requests a phase, {args.clients} desks at once")
    print(f"{'phase':<7} {'req/s':>7} {'median ms':>10} {'p95 ms':>8} {'failures':>9}")
    met = True
    for phase in phases:
        median = sorted(phase.latencies)[len(phase.latencies) // 2] * 1000
        print(f"{phase.name:<7} {phase.rate:>7.0f} {median:>10.1f} {phase.p95_ms:>8.1f} "
              f"{phase.failures:>9}")  # fmt: skip
        met = met and phase.p95_ms < CHECKIN_P95_GOAL_MS and phase.failures == 0
    print(f"goal: p95 < {CHECKIN_P95_GOAL_MS:.0f} ms, no failure: " + ("met" if met else "MISSED"))
    return met


DASHBOARD_GOAL_MS = 100.0
OFFICE_STAFF = "BD00002"  # the bench's office staff member (the second synthetic delegate)


async def prepare_dashboard(db: Path, invitees: int, audit_rows: int) -> None:
    """The dashboard's bench database: ``invitees`` delegates of the example plan with the
    plan's tasks synced, answers, linked accounts, a sent notice, check-ins, and
    ``audit_rows`` audit entries (as weeks of a meeting's preparation leave them)."""
    from sqlalchemy import text

    from bot.config import load_config
    from bot.domain.clock import ManualClock
    from bot.services import build_services
    from bot.services.access import Role
    from storage.engine import create_engine, create_sessionmaker
    from tests.conftest import EXAMPLE_CONFIG

    await prepare(db, invitees)
    config = load_config(EXAMPLE_CONFIG).config
    engine = create_engine(f"sqlite+aiosqlite:///{db}")
    try:
        services = await build_services(config, create_sessionmaker(engine), ManualClock(BENCH_NOW))
        await services.tasks.sync()
        access = services.access
        await access.grant(access.local_operator(), OFFICE_STAFF, Role.OFFICE)
        rng = random.Random(7)
        at = "2024-05-1{} 0{}:{:02d}:{:02d}.000000"
        async with engine.begin() as connection:
            # The list was imported on the first of May, before every answer and link below, as
            # in life (an answer older than her live link reads as given before a reissue).
            await connection.execute(
                text("UPDATE invitations SET created_at = '2024-05-01 01:00:00.000000'")
            )
            # Answers: 60 % attending, 10 % declined, 5 % a substitute, the rest none yet.
            await connection.execute(text(
                "UPDATE rsvps SET status = CASE WHEN delegate_id % 20 < 12 THEN 'attending' "
                "WHEN delegate_id % 20 < 14 THEN 'declined' WHEN delegate_id % 20 = 14 THEN "
                "'substitute' ELSE status END, answered_at = CASE WHEN delegate_id % 20 < 15 "
                "THEN '2024-05-10 08:00:00.000000' ELSE answered_at END"
            ))  # fmt: skip
            # Seven in ten linked on Telegram, one in ten of those unreachable.
            await connection.execute(text(
                "INSERT INTO channel_identities (meeting_id, delegate_id, channel, external_id, "
                "chat_address, linked_at, linked_via, unreachable_at) SELECT meeting_id, id, "
                "'telegram', "
                "CAST(700000000 + id AS TEXT), CAST(700000000 + id AS TEXT), "
                "'2024-05-05 08:00:00.000000', 'token', CASE WHEN id % 100 < 7 THEN "
                "'2024-05-12 08:00:00.000000' END FROM delegates WHERE id % 10 < 7"
            ))  # fmt: skip
            # Half of the assignments reported on, some done.
            await connection.execute(text(
                "UPDATE task_assignments SET status = CASE WHEN id % 4 = 0 THEN 'done' "
                "ELSE 'in_progress' END, updated_at = '2024-05-12 08:00:00.000000' "
                "WHERE id % 2 = 0"
            ))  # fmt: skip
            actions = ("rsvp.changed", "identity.linked", "delegate.created", "task.status",
                       "invitation.reissued", "broadcast.queued", "checkin.recorded")  # fmt: skip
            rows = [
                {
                    "at": at.format(
                        rng.randint(0, 7), rng.randint(0, 9), rng.randint(0, 59), rng.randint(0, 59)
                    ),
                    "actor": rng.choice(
                        ("cli:bench", f"telegram:{700000000 + rng.randint(1, invitees)}")
                    ),
                    "action": rng.choice(actions),
                    "entity": "delegate",
                    "entity_id": rng.randint(1, invitees),
                    "after": '{"status": "attending"}',
                }
                for _ in range(audit_rows)
            ]
            await connection.execute(text(
                "INSERT INTO audit_log (meeting_id, at, actor, action, entity, entity_id, before, "
                "after) SELECT id, :at, :actor, :action, :entity, :entity_id, NULL, :after "
                "FROM meetings"
            ), rows)  # fmt: skip
            # A third of the attending already in at the desks.
            await connection.execute(text(
                "INSERT INTO checkins (meeting_id, delegate_id, kind, full_name, answer, desk, "
                "checked_in_at, checked_in_by, staff_name, day) SELECT d.meeting_id, d.id, "
                "'delegate', d.full_name, r.status, 'Bàn ' || (d.id % 4 + 1), "
                "'2024-05-18 01:30:00.000000', 'cli:bench', 'Bench', '2024-05-28' FROM "
                "delegates d JOIN "
                "rsvps r ON r.delegate_id = d.id WHERE r.status = 'attending' AND d.id % 3 = 0"
            ))  # fmt: skip
        operator = access.local_operator()
        broadcasts = services.broadcasts
        started = await broadcasts.start(operator)
        await broadcasts.accept_text(operator, "Kính gửi các đại biểu: thông báo thử.")
        if started.message_id is not None:
            await broadcasts.send_now(operator, started.message_id)
    finally:
        await engine.dispose()


def dashboard_pages(task_id: int) -> list[tuple[str, str]]:
    """The dashboard's pages the bench asks for: (name, path)."""
    search = urlencode({"q": "Biểu 77"})
    return [
        ("overview", "/office/"),
        ("live (poll)", "/office/live"),
        ("delegates", "/office/delegates"),
        ("delegates filtered", "/office/delegates?answer=attending&channel=telegram"),
        ("delegates search", f"/office/delegates?{search}"),
        ("delegate", "/office/delegates/BD05000"),
        ("notices", "/office/notices"),
        ("tasks", "/office/tasks"),
        ("task", f"/office/tasks/{task_id}"),
        ("log", "/office/log"),
        ("log filtered", "/office/log?action=rsvp.changed"),
        ("import", "/office/import"),
        ("invitations", "/office/invitations"),
        ("attendance", "/office/attendance"),
        ("attendance live", "/office/attendance/live"),
        ("attendance summary", "/office/attendance/summary"),
    ]


async def office_link(db: Path) -> str:
    """A one-time sign-in link's secret for :data:`OFFICE_STAFF`."""
    from bot.config import load_config
    from bot.domain.clock import ManualClock
    from bot.services import build_services
    from storage.engine import create_engine, create_sessionmaker
    from tests.conftest import EXAMPLE_CONFIG

    engine = create_engine(f"sqlite+aiosqlite:///{db}")
    try:
        config = load_config(EXAMPLE_CONFIG).config
        services = await build_services(config, create_sessionmaker(engine), ManualClock(BENCH_NOW))
        link = await services.signin.link_for_code(OFFICE_STAFF)
    finally:
        await engine.dispose()
    assert link.secret is not None
    return link.secret


async def biggest_task(db: Path) -> int:
    """The id of the task with the most people on it (the page that shows the most)."""
    from sqlalchemy import text

    from storage.engine import create_engine

    engine = create_engine(f"sqlite+aiosqlite:///{db}")
    try:
        async with engine.connect() as connection:
            found = await connection.execute(
                text("SELECT task_id FROM task_assignments GROUP BY task_id ORDER BY count(*) DESC")
            )
            first = found.scalars().first()
            assert first is not None, "the plan's tasks have nobody on them"
            return int(first)
    finally:
        await engine.dispose()


async def bench_dashboard(args: argparse.Namespace) -> bool:
    """Every dashboard page: CPU ms in process and wall ms over HTTP (one client) per request;
    True if every page's p95 is under the goal in process."""
    import cProfile
    import pstats

    print(machine())
    with tempfile.TemporaryDirectory(prefix="hoinghi-bench-dash-") as folder:
        db = Path(folder) / "web.db"
        started = time.perf_counter()
        kept = Path(args.keep) if args.keep else None
        if kept is not None and kept.exists():  # prepared by an earlier run: a copy
            copy_database(kept, db)
        else:
            await prepare_dashboard(db, args.invitees, args.audit)
            if kept is not None:
                copy_database(db, kept)
        print(f"prepared {args.invitees:,} invitees, {args.audit:,} audit rows in "
              f"{time.perf_counter() - started:.0f} s (not timed)")  # fmt: skip
        pages = dashboard_pages(await biggest_task(db))
        if args.only:
            pages = [(name, path) for name, path in pages if args.only in name]
        app = await hoinghi_app(db, f"http://{CPU_HOST}")
        secret = await office_link(db)
        origin = (("origin", f"http://{CPU_HOST}"),)
        status, page = await call(app, "GET", f"/office/signin/{secret}")
        form = dict(_HIDDEN.findall(page.decode()))
        body = urlencode({k: v for k, v in form.items() if k != "lang"}).encode()
        form_type = (("content-type", "application/x-www-form-urlencoded"),)
        status, cookie = await signin_cookie(
            app, f"/office/signin/{secret}", body, origin + form_type
        )
        assert status == 303, status
        headers = (("cookie", cookie),)
        # What start-up built is left out of the collector's full passes, as `hoinghi run`
        # does (bot.app.freeze_startup_heap): without it a full pass over the whole heap after
        # a page's many new objects fell in one request of fifteen (the p95's spikes).
        freeze_startup_heap()
        cpu: dict[str, list[float]] = {}
        profiler = cProfile.Profile(time.process_time) if args.profile else None
        for name, path in pages:  # one each first: the template compiled, caches warm
            status, _ = await call(app, "GET", path, headers=headers)
            assert status == 200, (name, status)
        for _ in range(args.requests):
            for name, path in pages:
                if profiler is not None:
                    profiler.enable()
                before = time.process_time()
                await call(app, "GET", path, headers=headers)
                cpu.setdefault(name, []).append((time.process_time() - before) * 1000)
                if profiler is not None:
                    profiler.disable()
        wall: dict[str, list[float]] = {}
        if not args.no_http:
            server = Server("hoinghi", db)
            try:
                async with httpx.AsyncClient(base_url=server.url, timeout=60,
                                             headers={"origin": server.url}) as client:  # fmt: skip
                    secret = await office_link(db)
                    page_ = await client.get(f"/office/signin/{secret}")
                    form = dict(_HIDDEN.findall(page_.text))
                    fields = {k: v for k, v in form.items() if k != "lang"}
                    await client.post(f"/office/signin/{secret}", data=fields)
                    cookies = "; ".join(f"{c.name}={c.value}" for c in client.cookies.jar)
                connection = Connection(server.port)
                for name, path in pages:  # warm
                    answer = await connection.request("GET", path, Cookie=cookies)
                    assert answer.startswith(b"HTTP/1.1 200"), (name, answer[:80])
                for _ in range(args.requests):
                    for name, path in pages:
                        before = time.perf_counter()
                        await connection.request("GET", path, Cookie=cookies)
                        wall.setdefault(name, []).append((time.perf_counter() - before) * 1000)
                connection.close()
            finally:
                server.stop()
    print(f"{args.invitees:,} invitees, {args.audit:,} audit rows, {args.requests} requests a "
          f"page; {machine()}")  # fmt: skip
    print(f"{'page':<20} {'CPU median':>10} {'CPU p95':>8} {'HTTP median':>11} {'HTTP p95':>9}"
          f"  (ms; goal < {DASHBOARD_GOAL_MS:.0f})")  # fmt: skip
    met = True
    for name, _ in pages:
        figures = cpu[name]
        p95 = percentile(figures, 0.95)
        http = wall.get(name)
        line = f"{name:<20} {percentile(figures, 0.5):>10.1f} {p95:>8.1f}"
        if http:
            line += f" {percentile(http, 0.5):>11.1f} {percentile(http, 0.95):>9.1f}"
        print(line + ("" if p95 < DASHBOARD_GOAL_MS else "  OVER"))
        met = met and p95 < DASHBOARD_GOAL_MS
    print("goal: every page's CPU p95 < 100 ms: " + ("met" if met else "MISSED"))
    if profiler is not None:
        stats = pstats.Stats(profiler)
        stats.sort_stats("cumulative").print_stats(60)
        stats.sort_stats("tottime").print_stats(30)
    return met


async def signin_cookie(
    app: ASGIApp, path: str, body: bytes, headers: Sequence[tuple[str, str]]
) -> tuple[int, str]:
    """Post the sign-in form in process; the status and the cookies it sets (a ``Cookie``
    header's value)."""
    scope: dict[str, Any] = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
        "root_path": "", "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8080),
        "headers": [(b"host", CPU_HOST.encode())]
        + [(name.encode(), value.encode()) for name, value in headers]
        + [(b"content-length", str(len(body)).encode())],
    }  # fmt: skip
    sent = False
    status, cookie = 0, ""

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: MutableMapping[str, Any]) -> None:
        nonlocal status, cookie
        if message["type"] == "http.response.start":
            status = int(message["status"])
            # Every cookie set with a value: signing in also clears the desk's cookie
            # (``hoinghi_desk=""``), after the session's.
            kept = [
                value.decode().split(";", 1)[0]
                for name, value in message["headers"]
                if name == b"set-cookie" and not value.decode().split(";", 1)[0].endswith('=""')
            ]
            cookie = "; ".join(kept)

    await app(scope, receive, send)  # type: ignore[arg-type]
    return status, cookie


def main(argv: Sequence[str] | None = None) -> int:
    """Run the bench (or, as ``serve``, one of its servers)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["serve"]:
        side, port, db = argv[1], int(argv[2]), Path(argv[3])
        os.environ.setdefault("PYTHONHASHSEED", "0")
        asyncio.run(serve(side, port, db))
        return 0
    in_process = argv[:1] == ["cpu"]
    desk = argv[:1] == ["checkin"]
    dash = argv[:1] == ["dashboard"]
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--invitees", type=int, default=2000 if desk else 10000 if dash else 5000)
    parser.add_argument(
        "--requests",
        type=int,
        default=500 if in_process else 2000 if desk else 30 if dash else 3000,
        help="requests a phase and round (cpu: of each kind)",
    )
    parser.add_argument("--clients", type=int, default=4 if desk else 200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--profile", action="store_true", help="cpu: where the time goes")
    parser.add_argument("--notices", type=int, default=0, help="cpu: notices sent to everyone")
    parser.add_argument("--audit", type=int, default=60000, help="dashboard: audit rows")
    parser.add_argument("--only", default="", help="dashboard: the pages whose name has this")
    parser.add_argument("--cpu", action="store_true", help="checkin: CPU a tap, in process")
    parser.add_argument("--keep", default="", help="dashboard: prepare once into this file")
    parser.add_argument("--no-http", action="store_true", help="dashboard: in process only")
    args = parser.parse_args(argv[1:] if in_process or desk or dash else argv)
    if dash:
        return 0 if asyncio.run(bench_dashboard(args)) else 1
    if desk and args.cpu:
        asyncio.run(checkin_cpu(args))
        return 0
    if desk:
        return 0 if asyncio.run(bench_checkin(args)) else 1
    if in_process:
        asyncio.run(cpu(args))
        return 0
    return 0 if asyncio.run(bench(args)) else 1


if __name__ == "__main__":
    sys.exit(main())
