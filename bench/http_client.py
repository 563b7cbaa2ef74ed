"""What one Bot API request costs the bot, over aiohttp and over httpx, in turns.

The two clients of ``[telegram] http_client`` (``handlers/telegram/request.py``), each behind a
python-telegram-bot ``Bot`` as ``hoinghi run`` builds it (a pool of 256), answer callback
queries (the toast a tap gets) against a server on loopback in **another process**, so the
CPU measured is the bot's alone: PTB, the client, the sockets. The server answers every request
at once with the same small JSON, so nothing but the client differs between the sides.

* **CPU ms/req** = ``time.process_time()`` of the bot's process over the timed requests, per
  request;
* **req/s** = requests / wall time;
* K concurrent callers (``--concurrency``, 1 and 32): at 32 the pool keeps up to 32
  connections, which is where httpx's pool bookkeeping grows (encode/httpcore#1035).

The sides take turns (``bench.common.interleaved``); each figure is the median of the rounds,
lowest and highest beside, and the ratio httpx/aiohttp is taken within each round.

    .venv/bin/python bench/http_client.py                  # 2,000 requests, K = 1 and 32, 3 rounds
    .venv/bin/python bench/http_client.py --requests 500 --rounds 1   # a smoke check
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import multiprocessing
import os
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from telegram import Bot, User  # noqa: E402

from bench.common import interleaved, machine  # noqa: E402
from bot.config import HttpClient  # noqa: E402
from handlers.telegram.request import new_request  # noqa: E402

CLIENTS: tuple[HttpClient, ...] = ("aiohttp", "httpx")
TOKEN = "123456:BENCH-token-of-a-loopback-server-xx"
_BODY = json.dumps({"ok": True, "result": True}).encode()
_ANSWER = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
    + str(len(_BODY)).encode()
    + b"\r\n\r\n"
    + _BODY
)
WARM_UP = 50


async def _answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Answer every request on the connection with the same JSON, keeping it alive."""
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            if length:
                await reader.readexactly(length)
            writer.write(_ANSWER)
    except (asyncio.IncompleteReadError, ConnectionError):
        writer.close()


def serve(port: Any) -> None:  # a multiprocessing Value("i")
    """The server process: listen on a free loopback port, say which, answer until killed."""

    async def main() -> None:
        server = await asyncio.start_server(_answer, "127.0.0.1", 0)
        port.value = server.sockets[0].getsockname()[1]
        await server.serve_forever()

    asyncio.run(main())


@dataclass(frozen=True)
class Result:
    cpu_ms: float  # per request
    rate: float  # requests a second


async def run(client: HttpClient, base_url: str, requests: int, concurrency: int) -> Result:
    """``requests`` toasts by ``concurrency`` callers through one Bot on ``client``."""
    request = new_request(client)
    bot = Bot(TOKEN, base_url=base_url, request=request, get_updates_request=new_request("httpx"))
    bot._bot_user = User(123456, "Bench", is_bot=True)  # no getMe
    await request.initialize()
    try:
        for number in range(WARM_UP):
            await bot.answer_callback_query(f"w{number}", text="Đã ghi nhận")
        numbers = iter(range(requests))

        async def caller() -> None:
            for number in numbers:
                await bot.answer_callback_query(str(number), text="Đã ghi nhận: Tham dự")

        wall, cpu = time.perf_counter(), time.process_time()
        await asyncio.gather(*(caller() for _ in range(concurrency)))
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    finally:
        await request.shutdown()
    return Result(cpu / requests * 1000, requests / wall)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000, help="per run (default 2000)")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 32])
    parser.add_argument("--rounds", type=int, default=3, help="turns of each side (3)")
    parser.add_argument("--seed", type=int, default=60, help="the sides' order each round")
    args = parser.parse_args()

    os.environ.pop("HTTP_PROXY", None)  # loopback goes straight to the server
    os.environ.pop("http_proxy", None)
    context = multiprocessing.get_context("spawn")
    port = context.Value("i", 0)
    server = context.Process(target=serve, args=(port,), daemon=True)
    server.start()
    try:
        while port.value == 0:
            time.sleep(0.05)
        base_url = f"http://127.0.0.1:{port.value}/bot"
        print(machine(), flush=True)
        print(f"requests: {args.requests} a run; rounds: {args.rounds}; seed {args.seed}")
        for concurrency in args.concurrency:
            sides: dict[str, Callable[[], Awaitable[Result]]] = {
                client: functools.partial(run, client, base_url, args.requests, concurrency)
                for client in CLIENTS
            }
            rounds = asyncio.run(interleaved(sides, args.rounds, seed=args.seed))
            print(f"\nK = {concurrency} (median [lowest–highest] of {args.rounds})")
            print(f"  {'client':8} {'CPU ms/req':>22} {'req/s':>20}")
            for client in CLIENTS:
                cpu = rounds.median(client, lambda r: r.cpu_ms)
                low, high = rounds.spread(client, lambda r: r.cpu_ms)
                rate = rounds.median(client, lambda r: r.rate)
                slow, fast = rounds.spread(client, lambda r: r.rate)
                print(
                    f"  {client:8} {cpu:6.3f} [{low:.3f}–{high:.3f}]"
                    f" {rate:7.0f} [{slow:.0f}–{fast:.0f}]"
                )
            ratios = [
                httpx.cpu_ms / aio.cpu_ms
                for httpx, aio in zip(
                    rounds.results["httpx"], rounds.results["aiohttp"], strict=True
                )
            ]
            print(
                f"  CPU per request httpx/aiohttp: {statistics.median(ratios):.2f} "
                f"[{min(ratios):.2f}–{max(ratios):.2f}]; order {rounds.order}"
            )
        print(machine(), flush=True)
    finally:
        server.kill()
        server.join()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
