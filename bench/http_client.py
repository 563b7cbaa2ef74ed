"""What one Bot API request costs the bot, over aiohttp and over httpx, in turns.

The two clients of ``[telegram] http_client`` (``handlers/telegram/request.py``), each behind a
python-telegram-bot ``Bot`` as ``hoinghi run`` builds it (a pool of 256), send the same
requests against a server on loopback in **another process**, so the CPU measured is the
bot's alone: PTB, the client, the sockets. The server answers every request at once with the
same small JSON, so nothing but the client differs between the sides. A third side,
**aiohttp-form**, is aiohttp's client sending the percent-encoded form httpx sends, as it did
until 2026-12-04: the baseline of its JSON bodies.

* ``--message toast`` (the default): ``answerCallbackQuery`` with a short toast, as a tap gets;
* ``--message confirmation``: a tap's confirmation, sent as hoinghi sends it
  (``render.send_part``: ``sendMessage`` with the Vietnamese text and its buttons);
* ``--message notice``: a notice of 906 Vietnamese characters, the same way.

* **CPU ms/req** = ``time.process_time()`` of the bot's process over the timed requests, per
  request;
* **req/s** = requests / wall time;
* K concurrent callers (``--concurrency``, 1 and 32): at 32 the pool keeps up to 32
  connections, which is where httpx's pool bookkeeping grows (encode/httpcore#1035).

The sides take turns (``bench.common.interleaved``); each figure is the median of the rounds,
lowest and highest beside, and the ratios httpx/aiohttp and aiohttp-form/aiohttp are taken
within each round.

    .venv/bin/python bench/http_client.py                  # 2,000 requests, K = 1 and 32, 3 rounds
    .venv/bin/python bench/http_client.py --requests 500 --rounds 1   # a smoke check
    .venv/bin/python bench/http_client.py --message notice --concurrency 1   # long texts
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
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from telegram import Bot, User  # noqa: E402
from telegram.request import BaseRequest  # noqa: E402

from bench.common import interleaved, machine  # noqa: E402
from bot.domain.outbound import Button, TextPart  # noqa: E402
from bot.texts import load_catalog  # noqa: E402
from handlers.telegram.render import send_part  # noqa: E402
from handlers.telegram.request import BOT_POOL, AiohttpRequest, new_request  # noqa: E402

CLIENTS = ("aiohttp", "aiohttp-form", "httpx")
TOKEN = "123456:BENCH-token-of-a-loopback-server-xx"
CHAT = 123456789
CATALOG = load_catalog("vi")
CONFIRMATION = TextPart(
    "<b>Đã ghi nhận</b>: đồng chí <b>tham dự</b> Hội nghị sơ kết giữa nhiệm kỳ. Hạn trả lời: "
    "17:00 ngày 15/12/2026.",
    ((Button("Đổi ý", "rsvp:menu"),),),
)
NOTICE = TextPart(
    "<b>Thông báo của Văn phòng</b>\n"
    + "Kính gửi đồng chí Chủ tịch Hội Liên hiệp Phụ nữ quận, huyện, thị xã. Văn phòng trân trọng "
    "đề nghị các đồng chí gửi báo cáo tham luận về Văn phòng trước ngày tổ chức hội nghị. " * 5
)
WARM_UP = 50


def _answer_of(body: bytes) -> bytes:
    return (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
        + str(len(body)).encode()
        + b"\r\n\r\n"
        + body
    )


# A toast's answer is true; a message's, the message (only its id is read).
_ANSWERS = {
    "toast": _answer_of(json.dumps({"ok": True, "result": True}).encode()),
    "message": _answer_of(json.dumps({"ok": True, "result": {"message_id": 1}}).encode()),
}


class FormRequest(AiohttpRequest):
    """:class:`AiohttpRequest` as it was until 2026-12-04: the fields of a request without
    files as the percent-encoded form httpx sends."""

    def _body(self, fields: dict[str, str]) -> tuple[bytes, dict[str, str]]:
        return urlencode(fields).encode("ascii"), {
            "Content-Type": "application/x-www-form-urlencoded"
        }


def request_of(client: str) -> BaseRequest:
    if client == "aiohttp-form":
        return FormRequest(connection_pool_size=BOT_POOL)
    return new_request("httpx" if client == "httpx" else "aiohttp")


async def _answer(
    answer: bytes, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
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
            writer.write(answer)
    except (asyncio.IncompleteReadError, ConnectionError):
        writer.close()


def serve(port: Any, answer: bytes) -> None:  # a multiprocessing Value("i")
    """The server process: listen on a free loopback port, say which, answer until killed."""

    async def main() -> None:
        server = await asyncio.start_server(functools.partial(_answer, answer), "127.0.0.1", 0)
        port.value = server.sockets[0].getsockname()[1]
        await server.serve_forever()

    asyncio.run(main())


@dataclass(frozen=True)
class Result:
    cpu_ms: float  # per request
    rate: float  # requests a second


async def run(client: str, message: str, base_url: str, requests: int, concurrency: int) -> Result:
    """``requests`` of ``message`` by ``concurrency`` callers through one Bot on ``client``."""
    request = request_of(client)
    bot = Bot(TOKEN, base_url=base_url, request=request, get_updates_request=new_request("httpx"))
    bot._bot_user = User(123456, "Bench", is_bot=True)  # no getMe
    part = NOTICE if message == "notice" else CONFIRMATION

    async def send(number: int) -> None:
        if message == "toast":
            await bot.answer_callback_query(str(number), text="Đã ghi nhận: Tham dự")
        else:
            await send_part(bot, CHAT, part, CATALOG)

    await request.initialize()
    try:
        for number in range(-WARM_UP, 0):
            await send(number)
        numbers = iter(range(requests))

        async def caller() -> None:
            for number in numbers:
                await send(number)

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
    parser.add_argument(
        "--message",
        choices=("toast", "confirmation", "notice"),
        default="toast",
        help="what each request sends (default: a tap's toast)",
    )
    args = parser.parse_args()

    os.environ.pop("HTTP_PROXY", None)  # loopback goes straight to the server
    os.environ.pop("http_proxy", None)
    context = multiprocessing.get_context("spawn")
    port = context.Value("i", 0)
    answer = _ANSWERS["toast" if args.message == "toast" else "message"]
    server = context.Process(target=serve, args=(port, answer), daemon=True)
    server.start()
    try:
        while port.value == 0:
            time.sleep(0.05)
        base_url = f"http://127.0.0.1:{port.value}/bot"
        print(machine(), flush=True)
        print(
            f"requests: {args.requests} a run, each a {args.message}; rounds: {args.rounds}; "
            f"seed {args.seed}"
        )
        for concurrency in args.concurrency:
            sides: dict[str, Callable[[], Awaitable[Result]]] = {
                client: functools.partial(
                    run, client, args.message, base_url, args.requests, concurrency
                )
                for client in CLIENTS
            }
            rounds = asyncio.run(interleaved(sides, args.rounds, seed=args.seed))
            print(f"\nK = {concurrency} (median [lowest–highest] of {args.rounds})")
            print(f"  {'client':12} {'CPU ms/req':>22} {'req/s':>20}")
            for client in CLIENTS:
                cpu = rounds.median(client, lambda r: r.cpu_ms)
                low, high = rounds.spread(client, lambda r: r.cpu_ms)
                rate = rounds.median(client, lambda r: r.rate)
                slow, fast = rounds.spread(client, lambda r: r.rate)
                print(
                    f"  {client:12} {cpu:6.3f} [{low:.3f}–{high:.3f}]"
                    f" {rate:7.0f} [{slow:.0f}–{fast:.0f}]"
                )
            for baseline in ("httpx", "aiohttp-form"):
                ratios = [
                    other.cpu_ms / aio.cpu_ms
                    for other, aio in zip(
                        rounds.results[baseline], rounds.results["aiohttp"], strict=True
                    )
                ]
                print(
                    f"  CPU per request {baseline}/aiohttp: {statistics.median(ratios):.3f} "
                    f"[{min(ratios):.3f}–{max(ratios):.3f}]"
                )
            print(f"  order {rounds.order}")
        print(machine(), flush=True)
    finally:
        server.kill()
        server.join()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
