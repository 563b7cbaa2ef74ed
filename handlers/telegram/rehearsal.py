"""``hoinghi rehearse``: the whole plan on one machine, without a Telegram token.

The real bot — python-telegram-bot, the handlers, the services, the outbox, SQLite — runs
against the simulated Bot API (:mod:`handlers.telegram.simulator`, checked against the official
method list) with simulated delegates, speakers, task contacts and office staff. Time is the
injected clock: the plan's timeline, from the invitations to the meeting morning, is walked
through event by event, so a month of preparation takes well under a minute and nothing sleeps.

Everything happens in a temporary folder (database, uploaded drafts); the real database and the
real Telegram API are never touched. Simulated people are marked "(mô phỏng)" in the
transcript and in their Telegram names.
"""

from __future__ import annotations

import asyncio
import io
import random
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from docx import Document
from sqlalchemy import func, select

from bot.config import Config, LoadedConfig
from bot.delegate_file import Group as FileGroup
from bot.delegate_file import parse_delegate_file
from bot.domain.outbound import DeliveryStatus, MessageKind, MessageStatus, SendOutcome, SendResult
from bot.domain.reminders import planned_messages
from bot.domain.rsvp import RsvpStatus
from bot.services import Services, build_outbox, build_services
from bot.services.report_file import office_report_workbook
from bot.texts import Catalog
from handlers.telegram.app import build_application
from handlers.telegram.channel import TelegramSender
from handlers.telegram.simulator import FakeBotApi, FakeGroup, FakeUser, JsonDict, deliver
from schedules.clock import ManualClock
from schedules.outbox import Outbox
from schedules.planner import sync_planned
from schedules.ratelimit import Limits, Pacer, VirtualTime
from storage.engine import create_engine, create_sessionmaker
from storage.files import FileStore
from storage.migrate import upgrade_database
from storage.models import Delivery, OutboundMessage, SpeechAssignment

SIMULATED = "mô phỏng"
BOT_USERNAME = "hoinghi_dien_tap_bot"
_OFFICE_CHAT = -1009999999999
_ADMIN_ID = 900_000_001
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


@dataclass(frozen=True)
class Faults:
    """What goes wrong in a rehearsal with faults; every roll comes from the seed."""

    error_rate: float = 0.10  # a send answered with a 5xx
    timeout_rate: float = 0.03  # a send that times out (before reaching Telegram)
    burst_rate: float = 0.01  # a 429 with retry_after: the outbox pauses everything
    kill_rate: float = 0.05  # the bot process dies just before or just after a send
    blockers: int = 3  # delegates who block the bot in the last days


class _Killed(BaseException):
    """The simulated death of the bot process: nothing catches it but the rehearsal."""


@dataclass
class _FaultStats:
    kills: int = 0
    delivered_parts: int = 0  # parts Telegram accepted, counted as they went out
    injected: Counter[str] = field(default_factory=Counter)


@dataclass
class _Process:
    """One run of the bot between two kills."""

    dead: bool = False


async def _never() -> None:
    """What a dead process does from now on: nothing, ever (asyncio.run cancels the wait)."""
    await asyncio.Event().wait()


class _MortalOutbox(Outbox):
    """The outbox of a process that can die: once dead, it writes nothing more to the database,
    so what it had sent but not yet recorded is sent again after the restart, as for real."""

    process = _Process()

    async def _record_part(self, *args: Any, **kwargs: Any) -> None:
        if self.process.dead:
            await _never()
        await super()._record_part(*args, **kwargs)

    async def _retry(self, *args: Any, **kwargs: Any) -> None:
        if self.process.dead:
            await _never()
        await super()._retry(*args, **kwargs)

    async def _finish_delivery(self, *args: Any, **kwargs: Any) -> None:
        if self.process.dead:
            await _never()
        await super()._finish_delivery(*args, **kwargs)


class _FaultySender:
    """The outbox's Telegram sender, with the faults of a bad day injected around it."""

    def __init__(
        self,
        inner: TelegramSender,
        rng: random.Random,
        faults: Faults,
        stats: _FaultStats,
        process: _Process,
    ) -> None:
        self.inner = inner
        self.channel = inner.channel
        self.bot = inner.bot
        self._rng, self._faults, self._stats = rng, faults, stats
        self._process = process

    def prepare(self, outbound: Any) -> Any:
        return self.inner.prepare(outbound)

    async def send(self, address: str, part: Any) -> SendResult:
        if self._process.dead:
            await _never()  # the rest of a dead process's batch never runs again
        faults, roll = self._faults, self._rng.random()
        if roll < faults.kill_rate / 2:
            self._die()
        roll -= faults.kill_rate / 2
        for name, rate, result in (
            ("5xx", faults.error_rate, SendResult(SendOutcome.TRANSIENT, error="502 Bad Gateway")),
            ("timeout", faults.timeout_rate, SendResult(SendOutcome.TRANSIENT, error="TimedOut")),
            ("429", faults.burst_rate, SendResult(SendOutcome.RATE_LIMITED, retry_after=3.0)),
        ):
            if roll < rate:
                self._stats.injected[name] += 1
                return result
            roll -= rate
        sent = await self.inner.send(address, part)
        if sent.outcome is SendOutcome.SENT:
            self._stats.delivered_parts += 1
        if self._rng.random() < faults.kill_rate / 2:
            self._die()  # after Telegram took it, before the outbox wrote it down
        return sent

    def _die(self) -> None:
        self._process.dead = True
        raise _Killed


@dataclass
class Rehearsal:
    """What the rehearsal did: the transcript and the checks that decide its exit code."""

    transcript: list[str] = field(default_factory=list)
    checks: list[tuple[str, bool]] = field(default_factory=list)
    summary: str = ""
    kills: int = 0
    duplicates: int = 0

    @property
    def passed(self) -> bool:
        """Every expected step happened."""
        return bool(self.checks) and all(ok for _, ok in self.checks)


@dataclass
class _Stage:
    """The running pieces of one rehearsal."""

    config: Config
    catalog: Catalog
    services: Services
    fake: FakeBotApi
    app: Any
    outbox: Outbox
    clock: ManualClock
    office: FakeGroup
    admin: FakeUser
    result: Rehearsal
    users: dict[str, FakeUser] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    faults: Faults | None = None
    rng: random.Random = field(default_factory=random.Random)
    stats: _FaultStats = field(default_factory=_FaultStats)
    plan: dict[str, str] = field(default_factory=dict)

    def say(self, text: str) -> None:
        local = self.config.meeting.local(self.clock.now())
        self.result.transcript.append(f"[{local:%d/%m %H:%M}] {text}")

    async def send(self, update: JsonDict) -> None:
        await deliver(self.app, update)

    def user(self, code: str, name: str) -> FakeUser:
        if code not in self.users:
            first = name.split()[-1] if name.split() else code
            self.users[code] = self.fake.user(
                800_000_000 + len(self.users), f"{first} ({SIMULATED})"
            )
        return self.users[code]


async def rehearse(
    loaded: LoadedConfig,
    catalog: Catalog,
    *,
    delegates: Path,
    contacts: Path | None,
    report: Path,
    workdir: Path,
    seed: int = 60,
    faults: Faults | None = None,
) -> Rehearsal:
    """Run the plan of ``loaded`` on the simulator, in ``workdir``; write the report.

    With ``faults``, the outbox's sends fail, time out and hit 429s at random, the bot is
    killed around sends and restarted from the database, and some delegates block the bot;
    the checks then also prove that nothing was lost and little was repeated.
    """
    result = Rehearsal()
    fake = FakeBotApi(bot_username=BOT_USERNAME)
    config = _rehearsal_config(loaded.config, fake, workdir)
    if faults is not None:
        # One delivery in flight at a time: an in-process kill then stops exactly what a dead
        # process would (tests/test_crash.py kills real processes with batches of 30).
        outbox = config.outbox.model_copy(update={"batch_size": 1})
        config = config.model_copy(update={"outbox": outbox})
    engine = create_engine(f"sqlite+aiosqlite:///{workdir / 'dien-tap.db'}")
    try:
        await upgrade_database(engine)
        clock = ManualClock(_start_time(config))
        services = await build_services(
            config, create_sessionmaker(engine), clock, files=FileStore(workdir / "tham-luan")
        )
        stage = await _set_up(config, catalog, services, fake, clock, result)
        if faults is not None:
            stage.faults, stage.rng = faults, random.Random(seed + 1)  # noqa: S311
            await _restart(stage, killed=False)
        try:
            await _play(stage, delegates, contacts, random.Random(seed))  # noqa: S311 (a script, not a secret)
            await _finish(stage, report)
        finally:
            await stage.app.shutdown()
            for sender in stage.outbox.senders.values():
                await sender.bot.shutdown()  # type: ignore[attr-defined]
    finally:
        await engine.dispose()
    violations = list(fake.violations)
    result.checks.append(
        (catalog.plain("rehearsal.check.api", count=len(violations)), not violations)
    )
    return result


# --- setting the stage ---------------------------------------------------------------------------


def _rehearsal_config(config: Config, fake: FakeBotApi, workdir: Path) -> Config:
    """The plan, pointed at the simulator and a throwaway database, with an office to play."""
    office = config.office.model_copy(
        update={
            "chat_id": config.office.chat_id or _OFFICE_CHAT,
            "admin_ids": config.office.admin_ids or [_ADMIN_ID],
        }
    )
    return config.model_copy(
        update={
            "office": office,
            "telegram": config.telegram.model_copy(
                update={"api_base_url": fake.base_url, "file_base_url": fake.base_file_url}
            ),
            "database": config.database.model_copy(update={"url": None}),
            "drafts": config.drafts.model_copy(update={"directory": str(workdir / "tham-luan")}),
        }
    )


def _start_time(config: Config) -> datetime:
    """The morning the invitations go out: a day before the first automatic message."""
    first = min(item.due_at for item in planned_messages(config))
    local = config.meeting.local(first - timedelta(days=1))
    return local.replace(hour=8, minute=0, second=0, microsecond=0)


async def _set_up(
    config: Config,
    catalog: Catalog,
    services: Services,
    fake: FakeBotApi,
    clock: ManualClock,
    result: Rehearsal,
) -> _Stage:
    chat_id = config.office.chat_id
    assert chat_id is not None
    office = fake.group(chat_id, f"Văn phòng ({SIMULATED})")
    admin = fake.user(config.office.admin_ids[0], f"Cán bộ Văn phòng ({SIMULATED})")
    app = build_application(
        services,
        catalog,
        fake.token,
        request=fake.make_request(),
        get_updates_request=fake.make_request(),
    )
    await app.initialize()
    if app.post_init is not None:
        await app.post_init(app)  # the command menus, as `hoinghi run` publishes them
    sender = TelegramSender.build(fake.token, config.telegram, request=fake.make_request())
    await sender.bot.initialize()
    time = VirtualTime()
    pacer = Pacer(Limits(), now=time.monotonic, sleep=time.sleep)
    outbox = build_outbox(services, catalog, {sender.channel: sender}, pacer=pacer)
    return _Stage(config, catalog, services, fake, app, outbox, clock, office, admin, result)


# --- the play ------------------------------------------------------------------------------------


Action = Callable[[], Awaitable[None]]


async def _play(stage: _Stage, delegates: Path, contacts: Path | None, rng: random.Random) -> None:
    services, catalog = stage.services, stage.catalog
    groups = [FileGroup(g.key, g.label) for g in stage.config.groups]
    people = parse_delegate_file(delegates, groups).rows
    if contacts is not None:
        people += parse_delegate_file(contacts, groups).rows
    await services.delegates.import_rows(people, actor="cli:rehearse")
    await services.tasks.sync()
    await services.drafts.sync()
    await sync_planned(
        services.ctx.sessions,
        stage.clock,
        services.ctx.meeting_id,
        planned_messages(stage.config),
    )
    stage.tokens = {link.code: link.token for link in await services.invitations.links()}
    names = {row.code: row.full_name for row in people}
    delegates_only = [row.code for row in people if row.role == "delegate"]
    stage.say(
        catalog.plain(
            "rehearsal.start", count=len(delegates_only), contacts=len(people) - len(delegates_only)
        )
    )

    events: list[tuple[datetime, Action]] = []
    start = stage.clock.now()
    # Speakers and task contacts always open their link: their parts of the play need them.
    needed = {code for theme in stage.config.themes for code in theme.speakers}
    plan = stage.plan = _answers(delegates_only, rng, needed)
    for index, (code, answer) in enumerate(plan.items()):
        if answer == "never":
            continue
        events.append((_office_hours(start, index), _opener(stage, code, names[code], answer)))
    contact_codes = [row.code for row in people if row.role == "contact"]
    for index, code in enumerate(contact_codes):
        events.append(
            (
                start + timedelta(hours=1, minutes=index),
                _opener(stage, code, names[code], "contact"),
            )
        )
    events += _task_events(stage)
    events += _draft_events(stage, names)
    events += _broadcast_events(stage)

    if stage.faults is not None:
        events += _blocking_events(stage, plan)
    times = sorted({at for at, _ in events} | {p.due_at for p in planned_messages(stage.config)})
    times = [at for at in times if start <= at <= stage.config.meeting.starts_at]
    for index, at in enumerate(times):
        stage.clock.set(at)
        for when, action in events:
            if when == at:
                await action()
        await _tick(stage)
        following = times[index + 1] if index + 1 < len(times) else at + timedelta(hours=1)
        await _catch_up(stage, until=following)
    stage.clock.set(stage.config.meeting.starts_at)
    await _tick(stage)
    await _catch_up(stage, until=stage.config.meeting.ends_at)


async def _catch_up(stage: _Stage, *, until: datetime) -> None:
    """Retries fall due seconds to minutes later: let the clock run to them (as the scheduler's
    tick every few seconds would), never past the next event."""
    if stage.faults is None:
        return
    while True:
        async with stage.services.ctx.sessions() as session:
            due = await session.scalar(
                select(func.min(Delivery.next_attempt_at)).where(
                    Delivery.status == DeliveryStatus.PENDING
                )
            )
        if due is None or due >= until:
            return
        stage.clock.set(max(due, stage.clock.now()))
        await _tick(stage)


def _blocking_events(stage: _Stage, plan: dict[str, str]) -> list[tuple[datetime, Action]]:
    """A few delegates who confirmed block the bot two days before the meeting."""
    assert stage.faults is not None
    at = stage.config.meeting.starts_at - timedelta(days=2, hours=4)
    codes = [code for code, answer in plan.items() if answer == "attend"][: stage.faults.blockers]

    async def act() -> None:
        for code in codes:
            user = stage.users.get(code)
            if user is not None:
                await stage.send(stage.fake.block(user.id))
                stage.say(stage.catalog.plain("rehearsal.blocked", code=code))

    return [(at, act)]


def _office_hours(start: datetime, index: int) -> datetime:
    """When the ``index``-th delegate opens their link: eight a day, 08:00 to 21:00 local."""
    day, slot = divmod(index, 8)
    return start + timedelta(days=day, hours=1 + slot * 1.5)


def _answers(codes: list[str], rng: random.Random, needed: set[str]) -> dict[str, str]:
    """Who does what: most attend, some send a substitute or decline, some never answer, a few
    never even open their link. Fixed by the seed, so a rehearsal can be repeated exactly."""
    choices = ["attend"] * 70 + ["substitute"] * 7 + ["decline"] * 10 + ["silent"] * 7
    plan = {}
    for code in codes:
        answer = rng.choice([*choices, *(["never"] * 6)])
        plan[code] = rng.choice(choices) if answer == "never" and code in needed else answer
    return plan


def _opener(stage: _Stage, code: str, name: str, answer: str) -> Action:
    async def act() -> None:
        user = stage.user(code, name)
        await stage.send(user.command(f"/start {stage.tokens[code]}"))
        catalog = stage.catalog
        if answer == "contact":
            stage.say(catalog.plain("rehearsal.contact_opens", code=code, name=name))
            return
        if answer == "attend":
            await stage.send(_tap_latest(user, catalog.plain("buttons.attend")))
        elif answer == "substitute":
            await stage.send(_tap_latest(user, catalog.plain("buttons.substitute")))
            await stage.send(user.text(f"Nguyễn Thị Dự Thay ({SIMULATED})"))
            await stage.send(user.text("Phó Chủ tịch"))
        elif answer == "decline":
            await stage.send(_tap_latest(user, catalog.plain("buttons.decline")))
            await stage.send(user.text("Trùng lịch công tác đã bố trí trước"))
        label = catalog.plain(f"rehearsal.answer.{answer}")
        stage.say(catalog.plain("rehearsal.opens", code=code, name=name, answer=label))

    return act


def _task_events(stage: _Stage) -> list[tuple[datetime, Action]]:
    """Contacts report on their tasks a day after the first reminder; one task stays open so the
    office sees an overdue report; one contact asks for help."""
    config, catalog = stage.config, stage.catalog
    events: list[tuple[datetime, Action]] = []
    for index, task in enumerate(config.tasks):
        deadline = config.meeting.resolve(task.deadline)
        first = min(
            (spec.resolve(deadline, config.meeting.zone) for spec in task.reminders),
            default=deadline,
        )
        at = first + timedelta(hours=2)
        contacts = [c for c in task.contacts if not c.startswith("group:")]
        if not contacts or index == 1:
            continue  # the second task is left undone: its owner never reports
        code = contacts[0]
        action = "help" if index == 2 else "done"

        async def act(code: str = code, key: str = task.key, action: str = action) -> None:
            user = stage.users.get(code)
            if user is None:
                return
            await stage.send(user.command("/nhiemvu"))
            label = catalog.plain("buttons.task_help" if action == "help" else "buttons.task_done")
            await stage.send(_tap_latest(user, label))
            if action == "help":
                await stage.send(user.text("Cần thêm kinh phí in ấn tài liệu"))
            stage.say(catalog.plain(f"rehearsal.task_{action}", code=code, key=key))

        events.append((at, act))
    return events


def _draft_events(stage: _Stage, names: dict[str, str]) -> list[tuple[datetime, Action]]:
    """Speakers send drafts before the deadline; the office comments on the first, the speaker
    answers and sends a second version, which the office approves; one is asked to revise; the
    last speaker types a draft; one sends nothing (the office's missing list shows it)."""
    config, catalog = stage.config, stage.catalog
    speakers = [(theme.key, code) for theme in config.themes for code in theme.speakers]
    if not speakers:
        return []
    deadline = min(config.draft_deadline(key) for key, _ in speakers)
    base = deadline - timedelta(days=4)
    events: list[tuple[datetime, Action]] = []
    senders = speakers[:-1]  # the last speaker never sends

    for index, (key, code) in enumerate(senders):
        at = base + timedelta(hours=index)

        async def upload(key: str = key, code: str = code, index: int = index) -> None:
            user = stage.users.get(code)
            if user is None:
                return
            if index == len(senders) - 1:  # typed as messages
                await stage.send(_tap_latest(user, catalog.plain("buttons.draft_compose", key=key)))
                await stage.send(user.text("Kính thưa các đồng chí, thay mặt Hội LHPN địa phương…"))
                await stage.send(user.text("…xin trân trọng cảm ơn."))
                await stage.send(_tap_latest(user, catalog.plain("buttons.draft_finish")))
            else:
                await stage.send(
                    user.document(f"tham-luan-{key}.docx", _docx(key, names[code], 1), DOCX)
                )
            stage.say(catalog.plain("rehearsal.draft_sent", code=code, key=key, number=1))

        events.append((at, upload))

    first_key, first_code = senders[0]

    async def comment() -> None:
        post = _latest_office_post(stage, "📝", contains=names[first_code])
        if post is None:
            return
        await stage.send(
            stage.office.reply(stage.admin, post, "Đề nghị đồng chí bổ sung số liệu năm 2023.")
        )
        stage.say(catalog.plain("rehearsal.office_comment", code=first_code))

    async def answer() -> None:
        user = stage.users.get(first_code)
        if user is None:
            return
        comment_message = next(
            (m for m in reversed(user.messages) if "Góp ý" in m.get("text", "")), None
        )
        if comment_message is not None:
            await stage.send(user.reply(comment_message, "Xin cảm ơn, tôi sẽ bổ sung ngay."))
        await stage.send(
            user.document(
                f"tham-luan-{first_key}.docx", _docx(first_key, names[first_code], 2), DOCX
            )
        )
        stage.say(catalog.plain("rehearsal.draft_sent", code=first_code, key=first_key, number=2))

    async def approve() -> None:
        post = _latest_office_post(
            stage, "📝", contains=catalog.plain("buttons.draft_final", number=2)
        )
        if post is not None:
            await stage.send(
                stage.admin.tap(catalog.plain("buttons.draft_final", number=2), message=post)
            )
            stage.say(catalog.plain("rehearsal.office_final", code=first_code))
        if len(senders) > 1:
            other = _latest_office_post(stage, "📝", contains=names[senders[1][1]])
            if other is not None:
                await stage.send(
                    stage.admin.tap(catalog.plain("buttons.draft_revise"), message=other)
                )
                stage.say(catalog.plain("rehearsal.office_revise", code=senders[1][1]))

    events += [
        (base + timedelta(hours=len(senders) + 1), comment),
        (base + timedelta(hours=len(senders) + 3), answer),
        (base + timedelta(days=1), approve),
    ]
    return events


def _broadcast_events(stage: _Stage) -> list[tuple[datetime, Action]]:
    catalog = stage.catalog
    at = stage.config.meeting.starts_at - timedelta(days=2, hours=-1)

    async def act() -> None:
        admin = stage.admin
        await stage.send(admin.command("/thongbao"))
        await stage.send(admin.text("Kính mời các đồng chí đến sớm 15 phút để ổn định tổ chức."))
        await stage.send(_tap_latest(admin, catalog.plain("audience.present")))
        await stage.send(_tap_latest(admin, catalog.plain("buttons.bc_now")))
        stage.say(catalog.plain("rehearsal.broadcast"))

    return [(at, act)]


async def _restart(stage: _Stage, *, killed: bool) -> None:
    """A new outbox, as a restarted process builds it: in-flight deliveries go back to pending."""
    sender = next(iter(stage.outbox.senders.values()))
    inner = sender.inner if isinstance(sender, _FaultySender) else sender
    assert isinstance(inner, TelegramSender) and stage.faults is not None
    process = _Process()
    faulty = _FaultySender(inner, stage.rng, stage.faults, stage.stats, process)
    time = VirtualTime()
    pacer = Pacer(Limits(), now=time.monotonic, sleep=time.sleep)
    outbox = build_outbox(
        stage.services,
        stage.catalog,
        {faulty.channel: faulty},
        pacer=pacer,
        outbox_class=_MortalOutbox,
    )
    assert isinstance(outbox, _MortalOutbox)
    outbox.process = process
    stage.outbox = outbox
    recovered = await stage.outbox.recover()
    if killed:
        stage.stats.kills += 1
        stage.say(stage.catalog.plain("rehearsal.killed", recovered=recovered))


async def _run_ticks(stage: _Stage) -> None:
    """Ticks until one completes without the process dying (a kill restarts the outbox)."""
    for _ in range(100):
        try:
            await stage.outbox.tick()
            await stage.outbox.tick()  # the reports the first tick queued
            return
        except _Killed:
            await _restart(stage, killed=True)
    raise RuntimeError("the outbox was killed 100 times in a row")


async def _tick(stage: _Stage) -> None:
    """One scheduler tick at the clock's time; what finished is told in the transcript."""
    before = stage.clock.now()
    await _run_ticks(stage)
    async with stage.services.ctx.sessions() as session:
        finished = list(
            await session.scalars(
                select(OutboundMessage).where(
                    OutboundMessage.finished_at == before,
                    OutboundMessage.kind.not_in([str(MessageKind.OFFICE_NOTE)]),
                )
            )
        )
        for message in finished:
            counts = Counter(
                {
                    DeliveryStatus(status): number
                    for status, number in await session.execute(
                        select(Delivery.status, func.count())
                        .where(Delivery.message_id == message.id)
                        .group_by(Delivery.status)
                    )
                }
            )
            what = stage.catalog.plain(f"kind.{message.kind}", id=message.id)
            if message.status == MessageStatus.SKIPPED:
                stage.say(stage.catalog.plain("rehearsal.skipped", what=what))
                continue
            stage.say(
                stage.catalog.plain(
                    "rehearsal.sent",
                    what=what,
                    sent=counts[DeliveryStatus.SENT],
                    not_linked=counts[DeliveryStatus.NOT_LINKED],
                )
            )


# --- the end -------------------------------------------------------------------------------------


async def _finish(stage: _Stage, report: Path) -> None:
    services, catalog, result = stage.services, stage.catalog, stage.result
    admin = stage.admin
    before = len(admin.messages)
    await stage.send(admin.command("/thongke"))
    result.summary = "\n".join(m.get("text", "") for m in admin.messages[before:])
    data = office_report_workbook(catalog, stage.config, await services.office_report.collect())
    written = _write(report, data)
    await _checks(stage, report, written)


def _write(path: Path, data: bytes) -> bool:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path.stat().st_size == len(data) > 0


async def _checks(stage: _Stage, report: Path, written: bool) -> None:
    services, catalog, fake = stage.services, stage.catalog, stage.fake
    counts = (await services.reports.counts()).overall
    check = stage.result.checks.append

    async def delivered(kind: MessageKind) -> int:
        async with services.ctx.sessions() as session:
            return int(
                await session.scalar(
                    select(func.count())
                    .select_from(Delivery)
                    .join(OutboundMessage, OutboundMessage.id == Delivery.message_id)
                    .where(OutboundMessage.kind == kind, Delivery.status == DeliveryStatus.SENT)
                )
                or 0
            )

    answered = counts.total - counts.by_status[RsvpStatus.NO_ANSWER]
    check(
        (
            catalog.plain("rehearsal.check.linked", count=counts.linked, total=counts.total),
            counts.linked > 0,
        )
    )
    check((catalog.plain("rehearsal.check.answered", count=answered), answered > 0))
    for kind in (
        MessageKind.RSVP_REMINDER,
        MessageKind.TASK_REMINDER,
        MessageKind.DRAFT_REMINDER,
        MessageKind.BROADCAST,
        MessageKind.DAY_BEFORE,
        MessageKind.MORNING_AGENDA,
    ):
        number = await delivered(kind)
        label = (
            catalog.plain("rehearsal.broadcast_label")
            if kind is MessageKind.BROADCAST
            else catalog.plain(f"kind.{kind.value}", id="")
        )
        check((catalog.plain("rehearsal.check.kind", what=label, count=number), number > 0))
    office_texts = [
        m.get("text") or m.get("caption") or "" for m in fake.messages_to(stage.office.id)
    ]
    overdue = sum(t.startswith("⏰ ") for t in office_texts)
    check(
        (
            catalog.plain("rehearsal.check.office", count=len(office_texts), overdue=overdue),
            overdue > 0,
        )
    )
    async with services.ctx.sessions() as session:
        final = int(
            await session.scalar(
                select(func.count())
                .select_from(SpeechAssignment)
                .where(SpeechAssignment.status == "final")
            )
            or 0
        )
    comments = (
        len(await services.drafts.thread((await services.drafts.board())[0].id))
        if await services.drafts.board()
        else 0
    )
    check(
        (
            catalog.plain("rehearsal.check.drafts", final=final, comments=comments),
            final > 0 and comments >= 2,
        )
    )
    check(
        (
            catalog.plain("rehearsal.check.report", path=report),
            written,
        )
    )
    if stage.faults is not None:
        await _fault_checks(stage)


# --- helpers -------------------------------------------------------------------------------------


def _tap_latest(user: FakeUser, label: str) -> JsonDict:
    """A tap on the newest message that carries the button ``label``."""
    for message in reversed(user.messages):
        rows = (message.get("reply_markup") or {}).get("inline_keyboard", [])
        if any(button.get("text") == label for row in rows for button in row):
            return user.tap(label, message=message)
    raise LookupError(f"no button {label!r} in the chat of a simulated person")


def _latest_office_post(stage: _Stage, prefix: str, contains: str | None = None) -> JsonDict | None:
    for message in reversed(stage.fake.messages_to(stage.office.id)):
        text = message.get("caption") or message.get("text") or ""
        markup = str(message.get("reply_markup") or "")
        if text.startswith(prefix) and (contains is None or contains in text or contains in markup):
            return message
    return None


def _docx(key: str, name: str, version: int) -> bytes:
    """A real Word document for a simulated speech draft."""
    document = Document()
    document.add_heading(f"Tham luận chủ đề {key} ({SIMULATED})", level=1)
    document.add_paragraph(f"{name} — bản {version}.")
    document.add_paragraph("Nội dung mô phỏng phục vụ diễn tập, không phải tham luận thật.")
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


async def _fault_checks(stage: _Stage) -> None:
    """Under faults: every delivery settled, none failed, repeats within the in-flight bound,
    every acknowledged answer stored, every blocked delegate reported to the office."""
    services, catalog, stats = stage.services, stage.catalog, stage.stats
    check = stage.result.checks.append
    async with services.ctx.sessions() as session:
        statuses = Counter(
            {
                DeliveryStatus(status): number
                for status, number in await session.execute(
                    select(Delivery.status, func.count()).group_by(Delivery.status)
                )
            }
        )
        recorded = int(await session.scalar(select(func.sum(Delivery.parts_sent))) or 0)
    unsettled = statuses[DeliveryStatus.PENDING] + statuses[DeliveryStatus.SENDING]
    duplicates = stats.delivered_parts - recorded
    bound = stats.kills * stage.outbox.batch_size
    stage.result.kills, stage.result.duplicates = stats.kills, duplicates
    injected = ", ".join(f"{name} {count}" for name, count in sorted(stats.injected.items()))
    check(
        (
            catalog.plain("rehearsal.check.kills", kills=stats.kills, injected=injected),
            stats.kills >= 20,
        )
    )
    check(
        (
            catalog.plain(
                "rehearsal.check.settled",
                unsettled=unsettled,
                failed=statuses[DeliveryStatus.FAILED],
            ),
            unsettled == 0 and statuses[DeliveryStatus.FAILED] == 0,
        )
    )
    check(
        (
            catalog.plain("rehearsal.check.duplicates", duplicates=duplicates, bound=bound),
            0 <= duplicates <= bound,
        )
    )
    wanted = {
        "attend": RsvpStatus.ATTENDING,
        "substitute": RsvpStatus.SUBSTITUTE,
        "decline": RsvpStatus.DECLINED,
    }
    stored = {
        view.code: view for group in await services.reports.unanswered() for view in group.delegates
    }
    lost = [code for code, answer in stage.plan.items() if answer in wanted and code in stored]
    check((catalog.plain("rehearsal.check.acknowledged", lost=len(lost)), not lost))
    office = "\n".join(m.get("text", "") for m in stage.fake.messages_to(stage.office.id))
    blockers = [code for code, answer in stage.plan.items() if answer == "attend"][
        : stage.faults.blockers if stage.faults else 0
    ]
    unreported = [code for code in blockers if f"{code} —" not in office]
    check(
        (
            catalog.plain(
                "rehearsal.check.blocked", count=len(blockers), unreported=len(unreported)
            ),
            not unreported,
        )
    )
