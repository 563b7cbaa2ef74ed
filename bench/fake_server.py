"""The fake Bot API with Telegram's limits, served over loopback HTTP from a process of its own.

A bench's bot and the fake it talks to should not share an event loop (or a garbage collector,
or a GIL): a pause in one would hold the other up and hide what a network shows. The child
process serves a ``FakeBotApi(enforce_limits=True)`` behind ``tests.fakes.server.FakeBotApiServer``
with the round trip asked for, and answers the parent's questions over a pipe: where it listens,
and afterwards what it saw. :class:`ServedFake` serves a fresh fake (``broadcast.py``) and says
what it accepted and when (on ``time.monotonic``, the same clock in every process of the
machine); :class:`ServedCopy` serves a copy of a fake the bench set up (``load.py``: its users,
their cards, the taps' callback queries) and says what the bot asked of it.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

import httpx

from rehearsal.telegram_api import ApiCall
from tests.fakes.server import FakeBotApiServer
from tests.fakes.telegram_api import OVERALL_LIMIT, OVERALL_WINDOW, FakeBotApi


@dataclass(frozen=True)
class Call:
    """One sendMessage as the fake met it: when the server's loop read it off the socket, when
    the fake counted it towards its limits, and its status (200, or 429 refused)."""

    read_at: float
    counted_at: float
    status: int


class Accepting(httpx.AsyncBaseTransport):
    """The fake's transport, noting when it accepted each sendMessage (its clock of limits), and
    every sendMessage's :class:`Call`."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.accepted: list[float] = []
        self.calls: list[Call] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Forward to the fake; note an accepted message."""
        at = time.monotonic()
        response = await self.inner.handle_async_request(request)
        if request.url.path.endswith("/sendMessage"):
            read_at = float(request.extensions.get("read_at", at))
            self.calls.append(Call(read_at, at, response.status_code))
            if response.status_code == 200:
                self.accepted.append(at)
        return response


@dataclass(frozen=True)
class Seen:
    """What the fake saw: its 429s, what each chat got, when it accepted messages."""

    rate_limited: int
    sent_counts: dict[int, int]
    accepted: list[float]
    violations: int
    calls: tuple[Call, ...] = ()

    def overfull_windows(self) -> int:
        """How often more than Telegram's 30 messages fell within one sliding second (the fake
        answers those with 429: this counts what it accepted, as a check of the check)."""
        times = sorted(self.accepted)
        return sum(
            1 for a, b in zip(times, times[OVERALL_LIMIT:], strict=False) if b - a < OVERALL_WINDOW
        )


def seen(fake: FakeBotApi, accepting: Accepting) -> Seen:
    """The figures of ``fake``."""
    return Seen(
        fake.rate_limited,
        dict(fake.sent_counts()),
        list(accepting.accepted),
        len(fake.violations),
        tuple(accepting.calls),
    )


def limited_fake(users: Sequence[int]) -> tuple[FakeBotApi, Accepting]:
    """A fresh fake with Telegram's limits and these private chats, its acceptances timed."""
    fake = FakeBotApi(enforce_limits=True)
    for user in users:
        fake.user(user, f"Đại biểu {user}")
    accepting = Accepting(fake.transport)
    fake.transport = accepting
    return fake, accepting


class _Child:
    """A fake served from a child process (spawned: nothing of the parent's loop or threads),
    asked over a pipe; what it sends first is where it listens."""

    def __init__(self, target: Callable[..., None], *args: Any) -> None:
        context = multiprocessing.get_context("spawn")
        self._pipe, child = context.Pipe()
        self._process = context.Process(target=target, args=(child, *args), daemon=True)
        self._process.start()
        self._listening: Any = self._pipe.recv()

    def _ask(self, question: str) -> Any:
        self._pipe.send(question)
        return self._pipe.recv()

    def close(self) -> None:
        """Stop the server and its process."""
        self._pipe.send("stop")
        self._process.join(timeout=30)


class ServedFake(_Child):
    """A fake Bot API in a child process, over loopback HTTP with ``rtt`` seconds of round trip."""

    def __init__(self, users: Sequence[int], rtt: float) -> None:
        super().__init__(_child, list(users), rtt)
        self.base_url, self.token = self._listening

    def seen(self) -> Seen:
        """What the fake saw so far."""
        result: Seen = self._ask("seen")
        return result


def _child(pipe: Connection, users: list[int], rtt: float) -> None:
    asyncio.run(_serve(pipe, users, rtt))


async def _serve(pipe: Connection, users: list[int], rtt: float) -> None:
    fake, accepting = limited_fake(users)
    loop = asyncio.get_running_loop()
    async with FakeBotApiServer(fake, rtt=rtt) as server:
        pipe.send((server.base_url, fake.token))
        while True:
            command: Any = await loop.run_in_executor(None, pipe.recv)
            if command == "seen":
                pipe.send(seen(fake, accepting))
            else:
                break


@dataclass(frozen=True)
class Observed:
    """What a served copy of a fake saw of one run: every request (files left out), the 429s it
    answered, the Bot API violations it found, the connections the bot opened."""

    calls: tuple[ApiCall, ...]
    rate_limited: int
    violations: tuple[str, ...]
    connections: int

    @classmethod
    def since(cls, fake: FakeBotApi, mark: tuple[int, int, int], connections: int) -> Observed:
        """What ``fake`` saw after ``mark`` (its :func:`counts` then)."""
        first, limited, violations = mark
        return cls(
            tuple(
                ApiCall(c.method, c.params, error_code=c.error_code, error=c.error)
                for c in fake.calls[first:]
            ),
            fake.rate_limited - limited,
            tuple(fake.violations[violations:]),
            connections,
        )


def counts(fake: FakeBotApi) -> tuple[int, int, int]:
    """Where ``fake``'s calls, 429s and violations stand, for :meth:`Observed.since`."""
    return len(fake.calls), fake.rate_limited, len(fake.violations)


class ServedCopy(_Child):
    """A copy of ``fake`` as it stands (its chats, its users, the callback queries it issued)
    served over loopback HTTP from a process of its own, with Telegram's limits enforced and
    ``rtt`` seconds of round trip; :meth:`observed` reads back what the bot asked of it.

    The copy is the fake's state at the start of one run: what the bot does to it does not come
    back, so every run starts from the same state."""

    def __init__(self, fake: FakeBotApi, rtt: float) -> None:
        super().__init__(_copy_child, fake, rtt)
        self.base_url, self.base_file_url = self._listening

    def observed(self) -> Observed:
        """What the copy saw since it started."""
        result: Observed = self._ask("observed")
        return result


def _copy_child(pipe: Connection, fake: FakeBotApi, rtt: float) -> None:
    asyncio.run(_serve_copy(pipe, fake, rtt))


async def _serve_copy(pipe: Connection, fake: FakeBotApi, rtt: float) -> None:
    fake.enforce_limits = True
    mark = counts(fake)
    loop = asyncio.get_running_loop()
    async with FakeBotApiServer(fake, rtt=rtt) as server:
        pipe.send((server.base_url, server.base_file_url))
        while True:
            command: Any = await loop.run_in_executor(None, pipe.recv)
            if command != "observed":
                break
            pipe.send(Observed.since(fake, mark, server.connections_accepted))
