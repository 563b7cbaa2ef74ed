"""What 80, 1,000 and 10,000 invitees cost: the office's chat answers, queuing a notice, the
memory of a broadcast, and the files, each the median of several runs in fresh processes.

For each size a database is prepared once (not timed): the example plan, N delegates imported
from one CSV with ``hoinghi delegates import`` (the import's own time and what it said are
printed, then what importing the first half again says of the other half), every
second delegate linked to a Telegram account (1 % of those blocked the bot), nobody answered
yet — the morning the invitations went out, when ``/chuatraloi`` and the notice preview have
the most to say. Every run then works on its own copy of that database:

* **chat** (one process, ``--runs`` repeats each): ``/thongke``, ``/chuatraloi`` and the notice
  preview (the audience «chưa trả lời» chosen for a notice being written) as
  ``Inbox.handle`` answers an office member on Telegram: the server time in the core, from the
  event to the answer, not the sending. Also the size of each answer (characters, Telegram
  messages of 4,096, text-channel messages of 1,000). Then ``queries.delegate_by_code`` in a
  session of its own, as a grant, a withdrawal or a sign-in link finds one person: the last
  code imported, typed in lower case, and a code not on the list.
* **queue** (a fresh process per run): a notice to «chưa trả lời» (all N) due now;
  ``Outbox.queue_due()`` timed; then the whole broadcast drained at full speed through a
  sender that accepts every message (a virtual clock for the pacer), and the process's peak
  resident memory read from ``VmHWM`` in ``/proc/self/status`` (``getrusage`` would carry the
  parent's peak into a child), with the resident memory before the queue for comparison.
  The process imports the Telegram adapter first, as ``hoinghi run`` does.
* **docs** (one process, ``--runs`` rounds, the sides in turns with
  ``bench.common.interleaved``; CPU time of each side): the export's sheet and the report's
  sheets written by ``workbook_bytes`` against a bare openpyxl write-only workbook of the same
  rows (values only), and ``build_slips`` for ``--sample`` slips (1,000; all at 80) against
  segno making and writing their QR codes alone, as the slips used to: each figure beside its
  natural baseline, as a ratio.
* **files** (a fresh process per run): ``invites export`` to .xlsx and .csv, ``report``,
  ``invites print`` through ``bot.cli.main`` (with ``--bot-username``, no network): the wall
  time of the process (start-up included, as the office waits for it) and its ``VmHWM``.

``--baseline TREE`` compares with another copy of the code (e.g. ``git archive i16 | tar -x -C
/tmp/base``): the two alternate run by run (A B A B …) on copies of the same database, so a
change in the machine's load falls on both. ``--timeout`` stops a slow file command
(printed as ``> N s``). Targets are printed with each figure; ``TARGET MISSED: …`` when the
code under test misses one. Always exits 0: a measurement, not a test.

Usage (from the repository root)::

    .venv/bin/python bench/scale.py                          # 80, 1,000, 10,000
    .venv/bin/python bench/scale.py --sizes 80,1000 --runs 3
    .venv/bin/python bench/scale.py --only chat,queue --baseline /tmp/base
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parents[1]
# The code a worker measures: this tree, or the baseline the orchestrator names.
TREE = Path(os.environ.get("HOINGHI_BENCH_TREE") or HERE)
if str(TREE) not in sys.path:
    sys.path.insert(0, str(TREE))
# bench.common is this tree's, whichever code is measured.
sys.path.insert(1, str(HERE))
from bench.common import add_notice, copy_database, interleaved, machine  # noqa: E402

OFFICE_ID = "100000001"  # in config.example.toml's [office] admin_ids
FIRST_USER_ID = 700_000_001
BOT_USERNAME = "hoinghi_bot"
BODY = "Kính gửi các đồng chí: hội nghị bắt đầu lúc 08:00, đề nghị có mặt trước 07:45."
AUDIENCE = "no_answer"
HEADINGS = ("Mã", "Họ và tên", "Chức vụ", "Đơn vị", "Nhóm", "Điện thoại", "Thứ tự")

# The goals of issue 17 (figures for 10,000 delegates unless said).
TARGETS_MS = {"thongke": 100.0, "chuatraloi": 100.0, "preview": 100.0, "queue": 1000.0}
TARGET_RSS_MB = 150.0
TARGETS_S = {"export_xlsx": 3.0, "report": 5.0, "print": 60.0}
TARGET_PRINT_MB = 300.0
TARGET_SIZE = 10_000


# --- the workers (run in a fresh process, on TREE's code) -------------------------------------


def peak_mb() -> float:
    """This process's peak resident memory (VmHWM), in MB."""
    return _status_mb("VmHWM")


def rss_mb() -> float:
    """This process's resident memory now (VmRSS), in MB."""
    return _status_mb("VmRSS")


def _status_mb(field_name: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field_name + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _config_text(db: Path, tree: Path) -> str:
    """``tree``'s example plan, with its database at ``db`` (the worker's own copy)."""
    text = (tree / "config.example.toml").read_text(encoding="utf-8")
    return text.replace(
        '# url = "sqlite+aiosqlite:///data/hoinghi.db"', f'url = "sqlite+aiosqlite:///{db}"', 1
    )


def write_config(folder: Path, db: Path, tree: Path = HERE) -> Path:
    """A config file in ``folder`` pointing at ``db``, from ``tree``'s example plan."""
    path = folder / "config.toml"
    path.write_text(_config_text(db, tree), encoding="utf-8")
    return path


async def _services(config_path: Path) -> Any:
    from bot.config import load_config
    from bot.domain.clock import SystemClock
    from bot.services import build_services
    from storage.engine import create_engine, create_sessionmaker

    loaded = load_config(config_path)
    engine = create_engine(loaded.database_url)
    services = await build_services(loaded.config, create_sessionmaker(engine), SystemClock())
    return loaded.config, engine, services


def _timed(results: list[float], cpu: list[float], started: tuple[float, float]) -> None:
    results.append((time.perf_counter() - started[0]) * 1000)
    cpu.append((time.process_time() - started[1]) * 1000)


def _now() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


async def work_chat(config_path: Path, runs: int) -> dict[str, Any]:
    """Time /thongke, /chuatraloi and the notice preview as the inbox answers them."""
    from bot.chat import Inbox
    from bot.domain.channels import ChannelInfo, Chat, ChatAccount
    from bot.domain.inbound import Action, Command, Text
    from bot.texts import load_catalog
    from bot.texts.plain import render_plain
    from bot.texts.splitting import split_lines
    from handlers.telegram.render import CAPABILITIES as TELEGRAM
    from tests.channels.text_channel import CAPABILITIES as TEXT

    config, engine, services = await _services(config_path)
    catalog = load_catalog(config.meeting.locale)
    inbox = Inbox(services, catalog)
    account = ChatAccount("telegram", OFFICE_ID, OFFICE_ID, "Văn phòng")
    telegram = ChannelInfo("telegram", TELEGRAM)
    events = iter(range(1, 10**9))

    def base() -> dict[str, Any]:
        return {"account": account, "chat": Chat(OFFICE_ID), "event_id": f"e{next(events)}"}

    def sizes(answer: Any) -> dict[str, int]:
        texts = [
            part.html
            for reply in answer.replies
            for part in reply.outbound.parts
            if hasattr(part, "html")
        ]
        plain = [
            text for reply in answer.replies for text in render_plain(reply.outbound, catalog, TEXT)
        ]
        return {
            "chars": sum(len(text) for text in texts),
            "telegram_messages": sum(
                len(split_lines(t.split("\n"), TELEGRAM.max_text)) for t in texts
            ),
            "text_messages": len(plain),
        }

    out: dict[str, Any] = {}
    for name in ("thongke", "chuatraloi"):
        timings: list[float] = []
        cpu: list[float] = []
        answer = None
        for _ in range(runs):
            started = _now()
            answer = await inbox.handle(Command(**base(), name=name, args=()), telegram)
            _timed(timings, cpu, started)
        out[name] = {"ms": timings, "cpu_ms": cpu, **sizes(answer)}
    # A notice being written: its text typed, then the audience chosen (timed), again and again.
    await inbox.handle(Command(**base(), name="thongbao", args=()), telegram)
    await inbox.handle(Text(**base(), text=BODY), telegram)
    from sqlalchemy import select

    from storage.models import OutboundMessage
    from storage.uow import unit_of_work

    async with unit_of_work(services.ctx.sessions) as session:
        draft_id = await session.scalar(
            select(OutboundMessage.id).where(OutboundMessage.status == "draft")
        )
    timings, cpu = [], []
    for _ in range(runs):
        started = _now()
        answer = await inbox.handle(
            Action(**base(), data=f"bc:aud:{draft_id}:{AUDIENCE}"), telegram
        )
        _timed(timings, cpu, started)
    out["preview"] = {"ms": timings, "cpu_ms": cpu, **sizes(answer)}
    # One person found by the code the office typed (a grant, a withdrawal, a sign-in link):
    # the last one imported, in lower case; then a code that is not on the list.
    from storage import queries
    from storage.models import Delegate
    from storage.uow import read_only

    async with read_only(services.ctx.sessions) as session:
        last = await session.scalar(select(Delegate.code).order_by(Delegate.id.desc()).limit(1))
    assert last is not None
    for name, typed in (("code", last.lower()), ("nocode", "khong-co-ma")):
        timings, cpu = [], []
        for _ in range(runs):
            started = _now()
            async with read_only(services.ctx.sessions) as session:
                person = await queries.delegate_by_code(session, services.ctx.meeting_id, typed)
            _timed(timings, cpu, started)
            assert (person is None) == (name == "nocode")
        out[name] = {"ms": timings, "cpu_ms": cpu}
    await inbox.flush()
    await engine.dispose()
    return out


class AcceptingSender:
    """A platform that takes every message at once and keeps nothing (the drain's own cost)."""

    channel = "telegram"

    def __init__(self) -> None:
        from handlers.telegram.render import CAPABILITIES

        self.capabilities = CAPABILITIES
        self.sent = 0

    def prepare(self, outbound: Any) -> Any:
        """Every part as it is."""
        return outbound.parts

    async def send(self, address: str, part: Any) -> Any:
        """Accepted."""
        from bot.domain.outbound import SendOutcome, SendResult

        self.sent += 1
        return SendResult(SendOutcome.SENT, platform_message_id=str(self.sent))


async def work_queue(config_path: Path) -> dict[str, Any]:
    """Queue a notice to everyone who has not answered, time it, drain it, read the peak."""
    import handlers.telegram.app  # noqa: F401  (a running bot has the adapter loaded)
    from bot.app import build_outbox
    from bot.texts import load_catalog
    from schedules.ratelimit import Limits, Pacer, VirtualTime
    from storage.models import Delivery
    from storage.uow import unit_of_work

    config, engine, services = await _services(config_path)
    catalog = load_catalog(config.meeting.locale)
    virtual = VirtualTime()
    pacer = Pacer(Limits(), now=virtual.monotonic, sleep=virtual.sleep)
    sender = AcceptingSender()
    outbox = build_outbox(services, catalog, {sender.channel: sender}, pacer=pacer)
    now = services.ctx.clock.now()
    async with unit_of_work(services.ctx.sessions) as session:
        await add_notice(session, services.ctx.meeting_id, BODY, now, audience=AUDIENCE)
    import gc

    gc.collect()
    before = rss_mb()
    started, cpu_started = time.perf_counter(), time.process_time()
    queued = await outbox.queue_due()
    queue_ms = (time.perf_counter() - started) * 1000
    queue_cpu_ms = (time.process_time() - cpu_started) * 1000
    started = time.perf_counter()
    await outbox.drain()
    await outbox.finish()
    drain_s = time.perf_counter() - started
    from sqlalchemy import func, select

    async with unit_of_work(services.ctx.sessions) as session:
        deliveries = await session.scalar(select(func.count()).select_from(Delivery))
    await engine.dispose()
    return {
        "queue_ms": queue_ms,
        "queue_cpu_ms": queue_cpu_ms,
        "queued": queued,
        "deliveries": deliveries,
        "sent": sender.sent,
        "drain_s": drain_s,
        "rss_before_mb": before,
        "peak_mb": peak_mb(),
    }


def _bare_workbook(sheets: Sequence[Any]) -> bytes:
    """The baseline: the same rows in a bare openpyxl write-only workbook (values only, no
    style, no widths, heights, filters or print set-up)."""
    import io

    from openpyxl import Workbook

    book = Workbook(write_only=True)
    for spec in sheets:
        sheet = book.create_sheet(title=spec.title[:31])
        sheet.append(list(spec.headings))
        for row in [*spec.rows, *spec.footer]:
            sheet.append([_bare_value(value) for value in row])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _bare_value(value: Any) -> Any:
    """A cell's value as openpyxl takes it: a link's address, a local time without its zone."""
    from datetime import datetime

    from bot.documents.workbook import Link

    if isinstance(value, Link):
        return value.url
    if isinstance(value, datetime):
        return value.replace(tzinfo=None)
    return value


def _bare_qr_codes(links: Sequence[str]) -> int:
    """The baseline: each link's QR code made and written as PNG by segno itself, as the slips
    made them before (no document at all)."""
    import io

    import segno

    size = 0
    for link in links:
        buffer = io.BytesIO()
        segno.make_qr(link, error="m").save(buffer, kind="png", scale=10, border=2)
        size += len(buffer.getvalue())
    return size


async def work_docs(config_path: Path, rounds: int, sample: int) -> dict[str, Any]:
    """The files' work in one process, beside its natural baseline, the sides in turns: the
    export sheet and the report's sheets against a bare write-only openpyxl workbook of the
    same rows; ``sample`` slips against segno making their QR codes alone."""
    from bot.documents.slips import Slip, SlipTexts, build_slips
    from bot.documents.workbook import Link, Sheet, workbook_bytes
    from bot.services.report_file import office_report_sheets
    from bot.texts import load_catalog

    config, engine, services = await _services(config_path)
    catalog = load_catalog(config.meeting.locale)
    people = await services.invitations.links()
    links = [f"https://t.me/{BOT_USERNAME}?start={person.token}" for person in people]
    export = Sheet(
        "links",
        HEADINGS,
        [
            [p.code, p.full_name, p.position, p.organization, p.group_key, None, Link(link)]
            for p, link in zip(people, links, strict=True)
        ],
    )
    report = office_report_sheets(catalog, config, await services.office_report.collect())
    slips = [
        Slip(p.code, p.full_name, p.position, p.organization, link)
        for p, link in zip(people[:sample], links[:sample], strict=True)
    ]
    texts = SlipTexts(
        "Hội nghị", "08:00", "Kính gửi đồng chí {name}", "Quét mã", "{link}", "D", "C"
    )
    await engine.dispose()

    def timed(work: Any) -> Any:
        async def side() -> float:
            started = time.process_time()
            work()
            return (time.process_time() - started) * 1000

        return side

    slips_links = [slip.link for slip in slips]
    out: dict[str, Any] = {}
    for name, mine, bare in (
        ("export_sheet", lambda: workbook_bytes([export]), lambda: _bare_workbook([export])),
        ("report_sheets", lambda: workbook_bytes(report), lambda: _bare_workbook(report)),
        ("slips", lambda: build_slips(slips, texts), lambda: _bare_qr_codes(slips_links)),
    ):
        done = await interleaved({"hoinghi": timed(mine), "bare": timed(bare)}, rounds)
        out[name] = {side: list(done.results[side]) for side in ("hoinghi", "bare")}
    out["sample"] = len(slips)
    return out


def work_cli(argv: list[str]) -> dict[str, Any]:
    """Run one ``hoinghi`` command in this process; its exit code, time and peak memory."""
    from bot.cli import main

    started = time.perf_counter()
    code = main(argv)
    return {"code": code, "inner_s": time.perf_counter() - started, "peak_mb": peak_mb()}


def worker(args: argparse.Namespace) -> int:
    """Run one measurement on TREE's code and print it as JSON on the last line."""
    import asyncio
    import logging

    logging.disable(logging.WARNING)
    config = Path(args.config)
    if args.worker == "chat":
        result = asyncio.run(work_chat(config, args.runs))
    elif args.worker == "queue":
        result = asyncio.run(work_queue(config))
    elif args.worker == "docs":
        result = asyncio.run(work_docs(config, args.runs, args.sample))
    elif args.worker == "cli":
        result = work_cli(["--config", str(config), *args.rest])
    else:
        raise SystemExit(f"unknown worker {args.worker}")
    print(json.dumps(result))
    return 0


# --- the set-up (this tree's code) --------------------------------------------------------------


def delegates_csv(path: Path, count: int) -> None:
    """``count`` delegates over the plan's groups, with Vietnamese names and unique codes."""
    sys.path.insert(0, str(HERE))
    from bot.config import load_config

    groups = [group.key for group in load_config(HERE / "config.example.toml").config.groups]
    with path.open("w", encoding="utf-8", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(HEADINGS)
        for index in range(1, count + 1):
            writer.writerow(
                [
                    f"BD{index:05d}",
                    f"Nguyễn Thị Đại Biểu {index}",
                    "Chủ tịch Hội LHPN",
                    f"Hội LHPN phường số {index}, quận Đống Đa",
                    groups[index % len(groups)],
                    "",
                    index,
                ]
            )


def prepare(folder: Path, count: int) -> tuple[Path, float, float]:
    """A database of ``count`` delegates, half of them linked; the import's wall seconds and
    its CPU seconds (that process alone)."""
    import resource

    db = folder / f"scale-{count}.db"
    config = write_config(folder, db)
    listing = folder / f"delegates-{count}.csv"
    delegates_csv(listing, count)
    half = folder / f"delegates-{count}-half.csv"
    with listing.open(encoding="utf-8") as whole, half.open("w", encoding="utf-8") as part:
        part.writelines(line for n, line in enumerate(whole) if n <= max(count // 2, 1))
    env = {**os.environ, "HOINGHI_BENCH_TREE": str(HERE)}
    seconds = cpu = 0.0
    for argv in (
        ["db", "upgrade"],
        ["delegates", "import", str(listing)],
        # The first half again: what the import says of the other half, no longer listed.
        ["delegates", "import", str(half)],
    ):
        started = time.perf_counter()
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        done = subprocess.run(
            [
                sys.executable,
                str(Path(__file__).resolve()),
                "--worker",
                "cli",
                "--config",
                str(config),
                "--",
                *argv,
            ],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if argv[-1] == str(listing):
            seconds = time.perf_counter() - started
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu = (after.ru_utime + after.ru_stime) - (children.ru_utime + children.ru_stime)
        if done.returncode != 0 or json.loads(done.stdout.splitlines()[-1])["code"] != 0:
            raise SystemExit(f"set-up failed: {argv}\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
        if argv[0] == "delegates":
            said = done.stdout.splitlines()[:-1]
            print(f"  {' '.join(argv[:2])} {Path(argv[2]).name}: {len(''.join(said)):,} characters")
            for line in said:
                print(f"    {line}")
    # Every second delegate linked on Telegram; one in a hundred of those blocked the bot.
    connection = sqlite3.connect(db)
    with connection:  # commits; closing below folds the WAL back into the file to be copied
        ids = [
            (row[0], row[1])
            for row in connection.execute("SELECT id, meeting_id FROM delegates ORDER BY id")
        ]
        stamp = "2024-05-10 08:00:00.000000"
        connection.executemany(
            "INSERT INTO channel_identities (meeting_id, delegate_id, channel, external_id,"
            " chat_address, linked_at, linked_via, unreachable_at, unreachable_reason)"
            " VALUES (?, ?, 'telegram', ?, ?, ?, 'token', ?, ?)",
            [
                (
                    meeting_id,
                    delegate_id,
                    str(FIRST_USER_ID + n),
                    str(FIRST_USER_ID + n),
                    stamp,
                    stamp if n % 200 == 0 else None,
                    "blocked" if n % 200 == 0 else None,
                )
                for n, (delegate_id, meeting_id) in enumerate(ids)
                if n % 2 == 0
            ],
        )
    connection.close()
    return db, seconds, cpu


# --- the orchestrator ---------------------------------------------------------------------------


@dataclass
class Side:
    """One copy of the code and what was measured on it."""

    name: str
    tree: Path
    figures: dict[str, list[float]] = field(default_factory=dict)
    notes: dict[str, Any] = field(default_factory=dict)

    def add(self, key: str, value: float) -> None:
        """One more measurement of ``key``."""
        self.figures.setdefault(key, []).append(value)

    def median(self, key: str) -> float | None:
        """The median of ``key``'s measurements, if any."""
        values = self.figures.get(key)
        return statistics.median(values) if values else None


def run_worker(
    side: Side,
    kind: str,
    config: Path,
    rest: Sequence[str] = (),
    runs: int = 1,
    timeout: float | None = None,
    options: Sequence[str] = (),
) -> tuple[dict[str, Any] | None, float, float]:
    """One worker process on ``side``'s code: its JSON (None if it timed out), its wall seconds
    and its CPU seconds (user and system, from wait4: that process alone)."""
    argv = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--worker",
        kind,
        "--config",
        str(config),
        "--runs",
        str(runs),
        *options,
        "--",
        *rest,
    ]
    env = {**os.environ, "HOINGHI_BENCH_TREE": str(side.tree), "PYTHONHASHSEED": "0"}
    out, err = config.parent / f"{kind}.out", config.parent / f"{kind}.err"
    started = time.perf_counter()
    with out.open("w") as stdout, err.open("w") as stderr:
        process = subprocess.Popen(argv, env=env, stdout=stdout, stderr=stderr, cwd=config.parent)
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            if timeout is not None and time.perf_counter() - started > timeout:
                process.kill()
                os.wait4(process.pid, 0)
                return None, time.perf_counter() - started, float("nan")
            time.sleep(0.05)
    process.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - started
    cpu = usage.ru_utime + usage.ru_stime
    text = out.read_text()
    try:
        return json.loads(text.strip().splitlines()[-1]), seconds, cpu
    except (IndexError, json.JSONDecodeError):
        raise SystemExit(
            f"{side.name} {kind} failed:\n{text[-3000:]}\n{err.read_text()[-3000:]}"
        ) from None


def fresh_copy(db: Path, folder: Path, tree: Path) -> Path:
    """A copy of the prepared database and a config for it, in ``folder`` (emptied first)."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    copy = folder / db.name
    copy_database(db, copy)
    return write_config(folder, copy, tree)


def measure(
    sides: Sequence[Side], size: int, db: Path, work: Path, args: argparse.Namespace
) -> None:
    """Every measurement at one size, the sides alternating run by run."""
    only = set(args.only)
    for run in range(args.runs):
        for side in sides if run % 2 == 0 else list(reversed(sides)):
            folder = work / f"{side.name}-{size}"
            if "chat" in only and run == 0:
                # One process, --runs repeats inside (a warm process, as the bot is).
                config = fresh_copy(db, folder, side.tree)
                result, _, _ = run_worker(side, "chat", config, runs=args.runs)
                assert result is not None
                for name in ("thongke", "chuatraloi", "preview", "code", "nocode"):
                    if name not in result:
                        continue
                    for value in result[name]["ms"]:
                        side.add(f"{name}_ms", value)
                    for value in result[name]["cpu_ms"]:
                        side.add(f"{name}_cpu", value)
                    if notes := {
                        k: v for k, v in result[name].items() if k not in ("ms", "cpu_ms")
                    }:
                        side.notes[name] = notes
            if "docs" in only and run == 0:
                # One process, the sides in turns, --runs rounds (CPU time of each side).
                config = fresh_copy(db, folder, side.tree)
                sample = min(size, args.sample)
                result, _, _ = run_worker(
                    side, "docs", config, runs=args.runs, options=["--sample", str(sample)]
                )
                assert result is not None
                for name in ("export_sheet", "report_sheets", "slips"):
                    mine = statistics.median(result[name]["hoinghi"])
                    bare = statistics.median(result[name]["bare"])
                    side.add(f"{name}_ms", mine)
                    side.add(f"{name}_bare_ms", bare)
                    side.add(f"{name}_ratio", mine / bare)
                side.notes["docs_sample"] = result["sample"]
            if "queue" in only:
                config = fresh_copy(db, folder, side.tree)
                result, _, _ = run_worker(side, "queue", config)
                assert result is not None
                side.add("queue_ms", result["queue_ms"])
                side.add("queue_cpu", result["queue_cpu_ms"])
                side.add("broadcast_peak_mb", result["peak_mb"])
                side.add("rss_before_mb", result["rss_before_mb"])
                side.add("drain_s", result["drain_s"])
                side.notes["queue"] = {k: result[k] for k in ("queued", "deliveries", "sent")}
            if "files" in only and run < args.file_runs:
                config = fresh_copy(db, folder, side.tree)
                for key, rest in (
                    ("export_xlsx", ["invites", "export", "links.xlsx"]),
                    ("export_csv", ["invites", "export", "links.csv"]),
                    ("report", ["report", "report.xlsx"]),
                    ("print", ["invites", "print", "slips.docx"]),
                ):
                    extra = ["--bot-username", BOT_USERNAME] if rest[0] == "invites" else []
                    if key in side.notes.get("timed_out", ()):
                        continue  # it did not finish in time before: it will not now
                    result, seconds, cpu = run_worker(
                        side, "cli", config, [*rest, *extra, "--force"], timeout=args.timeout
                    )
                    if result is None:
                        side.notes.setdefault("timed_out", []).append(key)
                        side.add(f"{key}_s", float("inf"))
                        continue
                    if result["code"] != 0:
                        raise SystemExit(f"{side.name}: {rest} exited {result['code']}")
                    side.add(f"{key}_s", seconds)
                    side.add(f"{key}_cpu", cpu)
                    side.add(f"{key}_mb", result["peak_mb"])


ROWS: tuple[tuple[str, str, str], ...] = (
    ("thongke_ms", "/thongke (ms, core)", "thongke"),
    ("thongke_cpu", "  CPU (ms)", ""),
    ("chuatraloi_ms", "/chuatraloi first page (ms, core)", "chuatraloi"),
    ("chuatraloi_cpu", "  CPU (ms)", ""),
    ("preview_ms", "notice preview (ms, core)", "preview"),
    ("preview_cpu", "  CPU (ms)", ""),
    ("code_ms", "look up one code, lower case (ms)", ""),
    ("code_cpu", "  CPU (ms)", ""),
    ("nocode_ms", "  a code not on the list (ms)", ""),
    ("nocode_cpu", "  CPU (ms)", ""),
    ("queue_ms", "queue a notice (ms)", "queue"),
    ("queue_cpu", "  CPU (ms)", ""),
    ("rss_before_mb", "RSS before the broadcast (MB)", ""),
    ("broadcast_peak_mb", "peak RSS, queue + drain (MB)", "rss"),
    ("drain_s", "drain at full speed (s)", ""),
    ("export_xlsx_s", "invites export .xlsx (s)", "export_xlsx"),
    ("export_xlsx_cpu", "  CPU (s)", ""),
    ("export_xlsx_mb", "  peak (MB)", ""),
    ("export_csv_s", "invites export .csv (s)", ""),
    ("export_csv_cpu", "  CPU (s)", ""),
    ("report_s", "report (s)", "report"),
    ("report_cpu", "  CPU (s)", ""),
    ("report_mb", "  peak (MB)", ""),
    ("print_s", "invites print (s)", "print"),
    ("print_cpu", "  CPU (s)", ""),
    ("print_mb", "  peak (MB)", "print_mb"),
    ("export_sheet_ms", "export sheet in process (CPU ms)", ""),
    ("export_sheet_bare_ms", "  bare openpyxl write-only (CPU ms)", ""),
    ("export_sheet_ratio", "  ratio to bare", ""),
    ("report_sheets_ms", "report sheets in process (CPU ms)", ""),
    ("report_sheets_bare_ms", "  bare openpyxl write-only (CPU ms)", ""),
    ("report_sheets_ratio", "  ratio to bare", ""),
    ("slips_ms", "slips .docx, sample (CPU ms)", ""),
    ("slips_bare_ms", "  bare segno QR PNGs alone (CPU ms)", ""),
    ("slips_ratio", "  ratio to bare", ""),
)


def target_of(kind: str) -> tuple[float, str] | None:
    """The goal for a row: its limit and unit."""
    if kind in TARGETS_MS:
        return TARGETS_MS[kind], "ms"
    if kind == "rss":
        return TARGET_RSS_MB, "MB"
    if kind in TARGETS_S:
        return TARGETS_S[kind], "s"
    if kind == "print_mb":
        return TARGET_PRINT_MB, "MB"
    return None


def shown(value: float | None) -> str:
    """A figure as printed."""
    if value is None:
        return "—"
    if value == float("inf"):
        return "timeout"
    return f"{value:,.0f}" if value >= 100 else f"{value:.1f}" if value >= 10 else f"{value:.2f}"


def report(sizes: Sequence[int], results: dict[int, list[Side]], args: argparse.Namespace) -> None:
    """The table, the targets and what was missed."""
    names = [side.name for side in results[sizes[0]]]
    header = f"{'':36}" + "".join(f"{f'{size:,}':>{12 * len(names)}}" for size in sizes)
    print(header)
    if len(names) > 1:
        print(f"{'':36}" + "".join(f"{n:>12}" for _ in sizes for n in names))
    missed: list[str] = []
    missed_cpu: list[str] = []
    for key, label, kind in ROWS:
        values = [results[size][i].median(key) for size in sizes for i in range(len(names))]
        if all(v is None for v in values):
            continue
        target = target_of(kind)
        line = f"{label:36}" + "".join(f"{shown(v):>12}" for v in values)
        if target is not None:
            line += f"   target ≤ {target[0]:g} {target[1]} at {TARGET_SIZE:,}"
            if TARGET_SIZE in results:
                mine = results[TARGET_SIZE][0].median(key)
                if mine is not None and mine > target[0]:
                    missed.append(f"{label.strip()} {shown(mine)} > {target[0]:g} {target[1]}")
                cpu_key = key.rsplit("_", 1)[0] + "_cpu"
                cpu = results[TARGET_SIZE][0].median(cpu_key)
                if cpu is not None and cpu > target[0]:
                    missed_cpu.append(f"{label.strip()} {shown(cpu)} > {target[0]:g} {target[1]}")
        print(line)
    for size in sizes:
        for side in results[size]:
            notes = {k: v for k, v in side.notes.items() if k != "prepared"}
            print(f"  {size:,} {side.name}: {json.dumps(notes, ensure_ascii=False)}")
    print(f"runs: {args.runs} (files: {args.file_runs}); medians. {machine()}")
    targeted = [key for key, _, kind in ROWS if target_of(kind) is not None]
    unmeasured = [
        key
        for key in targeted
        if TARGET_SIZE in results and results[TARGET_SIZE][0].median(key) is None
    ]
    if missed:
        print("TARGET MISSED: " + "; ".join(missed))
    if TARGET_SIZE in results and unmeasured:
        print("not measured (see --only): " + ", ".join(unmeasured))
    elif TARGET_SIZE in results and not missed:
        print("targets met")
    if TARGET_SIZE in results:
        # The machine may be shared: the CPU time the process itself used is the figure that
        # does not grow with the others' load (it still includes their effect on caches).
        verdict = "; ".join(missed_cpu) if missed_cpu else "all met"
        print(f"the same targets on the CPU time of the process alone: {verdict}")


def orchestrate(args: argparse.Namespace) -> int:
    """Prepare each size, measure each side, print the figures."""
    sides = [] if args.baseline_only else [Side("after" if args.baseline else "this", HERE)]
    if args.baseline:
        sides.append(Side("before", Path(args.baseline).resolve()))
    if not sides:
        raise SystemExit("--baseline-only needs --baseline TREE")
    print(f"{machine()}; code: " + ", ".join(f"{s.name} = {s.tree}" for s in sides), flush=True)
    results: dict[int, list[Side]] = {}
    with tempfile.TemporaryDirectory(prefix="hoinghi-scale-") as temp:
        work = Path(args.work) if args.work else Path(temp)
        work.mkdir(parents=True, exist_ok=True)
        for size in args.sizes:
            started = time.perf_counter()
            kept = work / f"scale-{size}.db"
            if args.work and kept.exists():
                db = kept
                print(f"{size:,} delegates: the database prepared before, {kept}", flush=True)
            else:
                db, import_s, import_cpu = prepare(work, size)
                print(
                    f"{size:,} delegates: imported from one CSV in {import_s:.1f} s "
                    f"({import_cpu:.1f} s of CPU); set-up "
                    f"{time.perf_counter() - started:.1f} s",
                    flush=True,
                )
            size_sides = [Side(s.name, s.tree) for s in sides]
            measure(size_sides, size, db, work, args)
            results[size] = size_sides
            print(f"  measured ({machine()})", flush=True)
    report(args.sizes, results, args)
    return 0


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sizes", default="80,1000,10000", help="delegates, comma-separated")
    parser.add_argument("--runs", type=int, default=5, help="runs per figure (default 5)")
    parser.add_argument("--file-runs", type=int, default=3, help="runs of the file commands")
    parser.add_argument("--only", default="chat,queue,docs,files", help="chat, queue, docs, files")
    parser.add_argument(
        "--sample", type=int, default=1000, help="slips compared with bare segno (default 1,000)"
    )
    parser.add_argument("--baseline", help="another copy of the code to compare with (A B A B)")
    parser.add_argument(
        "--baseline-only", action="store_true", help="measure the baseline alone (its figures)"
    )
    parser.add_argument("--timeout", type=float, default=600, help="seconds per file command")
    parser.add_argument(
        "--work", help="keep the prepared databases in this folder and reuse them next time"
    )
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--config", help=argparse.SUPPRESS)
    parser.add_argument("rest", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.sizes = [int(size) for size in str(args.sizes).split(",")]
    args.only = [part.strip() for part in str(args.only).split(",")]
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Run the bench (or, with --worker, one measurement); always 0."""
    args = parse_args(argv)
    if args.worker:
        return worker(args)
    return orchestrate(args)


if __name__ == "__main__":
    sys.exit(main())
