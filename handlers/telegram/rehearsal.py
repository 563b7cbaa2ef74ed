"""``hoinghi rehearse``: the whole plan on one machine, without a Telegram token.

The real bot — python-telegram-bot, the handlers, the services, the outbox, SQLite — runs
against the simulated Bot API (:mod:`rehearsal.telegram_api`, checked against the official
method list) with simulated delegates, speakers, task contacts and office staff. Time is the
injected clock: the plan's timeline, from the invitations to the meeting morning, is walked
through event by event, so a month of preparation takes well under a minute and nothing sleeps.

Everything happens in a temporary folder (database, uploaded drafts); the real database and the
real Telegram API are never touched. Simulated people are marked "(mô phỏng)" in the
transcript and in their Telegram names.

With faults (``hoinghi rehearse --faults``) the simulated Bot API has a bad day
(:meth:`FakeBotApi.chaos`: 5xx, timeouts and 429 bursts on every call the bot makes, bulk sends
and direct replies alike), the bot process is killed around the outbox's sends and restarted
from the database, and some delegates block the bot; the checks then prove that nothing was
lost and little was repeated.
"""

from __future__ import annotations

import asyncio
import io
import random
import re
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

from docx import Document
from sqlalchemy import func, select

from bot.app import build_outbox
from bot.chat import Inbox
from bot.config import Config, LoadedConfig
from bot.delegate_file import DelegateRow, parse_delegate_file
from bot.delegate_file import Group as FileGroup
from bot.domain.clock import ManualClock
from bot.domain.drafts import DraftStatus
from bot.domain.outbound import (
    DeliveryStatus,
    MessageKind,
    MessageStatus,
    SendOutcome,
    SendResult,
    skip_reason,
)
from bot.domain.reminders import planned_messages
from bot.domain.rsvp import RsvpStatus
from bot.domain.tasks import TaskStatus, parse_task_action
from bot.domain.typed import one_line
from bot.services import Services, build_services
from bot.services.report_file import office_report_workbook
from bot.texts import Catalog
from handlers.telegram.app import build_application, telegram_link_maker
from handlers.telegram.channel import TelegramSender
from handlers.telegram.limiter import RetryingRateLimiter
from rehearsal.telegram_api import (
    CHAOS_KINDS,
    ApiCall,
    Chaos,
    FakeBotApi,
    FakeGroup,
    FakeUser,
    JsonDict,
    deliver,
)
from schedules.outbox import Outbox
from schedules.planner import sync_planned
from schedules.ratelimit import Limits, Pacer, VirtualTime
from storage.engine import create_engine, create_sessionmaker
from storage.files import FileStore
from storage.migrate import upgrade_database
from storage.models import (
    Delegate,
    Delivery,
    DraftComment,
    DraftVersion,
    OutboundMessage,
    Rsvp,
    SpeechAssignment,
    TaskAssignment,
)
from storage.queries import fold_code

SIMULATED = "mô phỏng"
BOT_USERNAME = "hoinghi_dien_tap_bot"
_OFFICE_CHAT = -1009999999999
_ADMIN_ID = 900_000_001
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


@dataclass(frozen=True)
class Faults:
    """What goes wrong in a rehearsal with faults; every roll comes from the seed.

    The first three are the simulated Bot API's (:class:`Chaos`): they hit every call the bot
    makes, the outbox's sends and the handlers' replies and toasts alike.
    """

    error_rate: float = 0.10  # a call answered 502 Bad Gateway
    timeout_rate: float = 0.03  # a call that times out (before reaching Telegram)
    burst_rate: float = 0.01  # a burst of 429s starts: the outbox pauses everything
    burst_length: int = 3  # calls answered 429 in one burst
    burst_retry_after: int = 1  # seconds; the bot's replies wait them in virtual time
    kill_rate: float = 0.05  # the bot process dies just before or just after an outbox send
    blockers: int = 3  # delegates who block the bot in the last days


# How often a simulated person repeats a tap or a command the bot does not seem to answer.
_TRIES = 3
# Something the database must show at the end of the rehearsal.
Check = Callable[[], Awaitable[bool]]


class _Killed(BaseException):
    """The simulated death of the bot process: nothing catches it but the rehearsal."""


@dataclass
class _FaultStats:
    kills: int = 0
    delivered_parts: int = 0  # parts Telegram accepted, counted as they went out
    outbox_faults: Counter[str] = field(default_factory=Counter)  # by kind, on outbox sends
    unacknowledged: int = 0  # steps whose answer from the bot never arrived


@dataclass
class _Process:
    """One run of the bot between two kills."""

    dead: bool = False


async def _never() -> None:
    """What a dead process does from now on: nothing, ever (asyncio.run cancels the wait)."""
    await asyncio.Event().wait()


class _MortalSender:
    """The outbox's Telegram sender in a process that can be killed just before or just after
    a send. The Bot API's own faults come from the simulator's chaos; this only notes which of
    them hit the outbox's sends (the rehearsal is sequential, so the attribution is exact)."""

    def __init__(
        self,
        inner: TelegramSender,
        rng: random.Random,
        faults: Faults,
        stats: _FaultStats,
        process: _Process,
        chaos: Chaos,
    ) -> None:
        self.inner = inner
        self.channel = inner.channel
        self.capabilities = inner.capabilities
        self.bot = inner.bot
        self._rng, self._faults, self._stats = rng, faults, stats
        self._process, self._chaos = process, chaos

    def prepare(self, outbound: Any) -> Any:
        return self.inner.prepare(outbound)

    async def send(self, address: str, part: Any) -> SendResult:
        if self._process.dead:
            await _never()  # the rest of a dead process's batch never runs again
        if self._rng.random() < self._faults.kill_rate / 2:
            self._die()
        before = self._chaos.injected.copy()
        sent = await self.inner.send(address, part)
        self._stats.outbox_faults.update(self._chaos.injected - before)
        if sent.outcome is SendOutcome.SENT:
            self._stats.delivered_parts += 1
        if self._rng.random() < self._faults.kill_rate / 2:
            self._die()  # after Telegram answered, before the outbox wrote it down
        return sent

    def _die(self) -> None:
        self._process.dead = True
        raise _Killed


@dataclass
class Rehearsal:
    """What the rehearsal did: the transcript and the checks that decide its exit code.

    A check is passed (True), failed (False), or not rehearsed (None): the lists give the plan
    nobody to play that part, and its label says so.
    """

    transcript: list[str] = field(default_factory=list)
    checks: list[tuple[str, bool | None]] = field(default_factory=list)
    summary: str = ""
    kills: int = 0
    duplicates: int = 0
    outbox_faults: Counter[str] = field(default_factory=Counter)  # injected on outbox sends
    reply_faults: Counter[str] = field(default_factory=Counter)  # on the handlers' own calls
    unacknowledged: int = 0  # steps whose answer from the bot never arrived

    @property
    def passed(self) -> bool:
        """Every step the lists let the plan play happened."""
        return any(ok for _, ok in self.checks) and all(ok is not False for _, ok in self.checks)

    @property
    def complete(self) -> bool:
        """Every step of the plan was played (the lists lacked nobody it needs) and happened."""
        return bool(self.checks) and all(ok for _, ok in self.checks)


@dataclass(frozen=True)
class _Cast:
    """Who on the lists plays the plan's parts, by the codes the lists write."""

    speakers: list[tuple[str, str]]  # (theme key, code) for each assignment to someone listed
    contacts: dict[str, list[str]]  # task key → the contacts the plan names by code, listed
    group_tasks: list[str]  # tasks given to a group with at least one listed delegate


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
    chaos: Chaos | None = None
    rng: random.Random = field(default_factory=random.Random)
    stats: _FaultStats = field(default_factory=_FaultStats)
    plan: dict[str, str] = field(default_factory=dict)
    cast: _Cast = field(default_factory=lambda: _Cast([], {}, []))
    # What the database must show: for every step the bot acknowledged (``acknowledged``), and
    # whether or not it did (``consistent``: nothing stored that the person did not do).
    acknowledged: list[Check] = field(default_factory=list)
    consistent: list[Check] = field(default_factory=list)
    # Messages the transcript has told about: a second tick at the same time (the meeting's
    # start is also the last planned time) finds them finished "now" again.
    told: set[int] = field(default_factory=set)

    def say(self, text: str) -> None:
        local = self.config.meeting.local(self.clock.now())
        self.result.transcript.append(f"[{local:%d/%m %H:%M}] {text}")

    async def send(self, update: JsonDict) -> None:
        await deliver(self.app, update)

    async def ask(self, update: JsonDict) -> bool:
        """Send ``update`` and say whether the bot's answer reached its person."""
        before = len(self.fake.calls)
        await self.send(update)
        return _answered(update, self.fake.calls[before:])

    def missed(self, who: str) -> None:
        """A step whose answer never arrived: told in the transcript, counted, not checked."""
        self.stats.unacknowledged += 1
        self.say(self.catalog.plain("rehearsal.unanswered", who=who))

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

    With ``faults``, every call the bot makes to the simulated Bot API (the outbox's sends and
    the handlers' replies) can fail, time out or hit a 429 burst, the bot is killed around the
    outbox's sends and restarted from the database, and some delegates block the bot; the
    checks then also prove that nothing was lost and little was repeated.
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
            stage.chaos = fake.chaos(
                random.Random(seed + 2),  # noqa: S311 (a script, not a secret)
                error_rate=faults.error_rate,
                timeout_rate=faults.timeout_rate,
                burst_rate=faults.burst_rate,
                burst_length=faults.burst_length,
                burst_retry_after=faults.burst_retry_after,
            )
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
    inbox = Inbox(services, catalog)
    app = build_application(
        inbox,
        services,
        catalog,
        fake.token,
        request=fake.make_request(),
        get_updates_request=fake.make_request(),
    )
    limiter = app.bot.rate_limiter
    if isinstance(limiter, RetryingRateLimiter):
        # The bot's retries of its replies wait in virtual time, as the outbox's pacer does.
        replies_time = VirtualTime()
        limiter.use_time(replies_time.monotonic, replies_time.sleep)
    await app.initialize()
    if app.post_init is not None:
        await app.post_init(app)  # the command menus, as `hoinghi run` publishes them
    inbox.links.append(telegram_link_maker(app.bot.username))
    sender = TelegramSender.build(fake.token, config.telegram, catalog, request=fake.make_request())
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
    stage.cast = _cast(stage, people)

    events: list[tuple[datetime, Action]] = []
    start = stage.clock.now()
    # Speakers and task contacts always open their link: their parts of the play need them.
    needed = {code for _, code in stage.cast.speakers}
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


def _cast(stage: _Stage, people: list[DelegateRow]) -> _Cast:
    """Who on the lists plays each part the plan gives a person; a part given to someone the
    lists lack is told in the transcript and left out of the play (an office rehearses its own
    plan with its own list, which may not have the example's speakers or contacts)."""
    config, catalog = stage.config, stage.catalog
    listed = {fold_code(row.code): row.code for row in people}
    groups = {row.group_key for row in people if row.role == "delegate"}
    labels = {group.key: group.label for group in config.groups}
    speakers: list[tuple[str, str]] = []
    unlisted_speakers: dict[str, list[str]] = {}
    for theme in config.themes:
        for code in theme.speakers:
            if (found := listed.get(fold_code(code))) is not None:
                speakers.append((theme.key, found))
            else:
                unlisted_speakers.setdefault(code, []).append(theme.key)
    contacts: dict[str, list[str]] = {}
    group_tasks: list[str] = []
    unlisted_contacts: dict[str, list[str]] = {}
    empty_groups: list[tuple[str, str]] = []
    for task in config.tasks:
        contacts[task.key] = []
        for contact in task.contacts:
            kind, _, key = contact.partition(":")
            if kind == "group" and key:
                if key in groups:
                    group_tasks.append(task.key)
                else:
                    empty_groups.append((task.key, labels.get(key, key)))
            elif (found := listed.get(fold_code(contact))) is not None:
                contacts[task.key].append(found)
            else:
                unlisted_contacts.setdefault(contact, []).append(task.key)
    for code, themes in unlisted_speakers.items():
        stage.say(catalog.plain("rehearsal.gap.speaker", code=code, themes=", ".join(themes)))
    for code, tasks in unlisted_contacts.items():
        stage.say(catalog.plain("rehearsal.gap.contact", code=code, tasks=", ".join(tasks)))
    for task_key, label in empty_groups:
        stage.say(catalog.plain("rehearsal.gap.task_group", task=task_key, group=label))
    for group in config.groups:
        if group.key not in groups:
            stage.say(catalog.plain("rehearsal.gap.group", group=group.label))
    return _Cast(speakers, contacts, group_tasks)


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


_WANTED = {
    "attend": RsvpStatus.ATTENDING,
    "substitute": RsvpStatus.SUBSTITUTE,
    "decline": RsvpStatus.DECLINED,
}


def _opener(stage: _Stage, code: str, name: str, answer: str) -> Action:
    async def act() -> None:
        user = stage.user(code, name)
        catalog = stage.catalog
        attend = catalog.plain("buttons.attend")

        def card() -> bool:  # a contact's answer is the task board; a delegate's, the card
            return answer == "contact" or _latest_with(user, attend) is not None

        opened = await _insist(
            stage, lambda: user.command(f"/start {stage.tokens[code]}"), until=card
        )
        if not opened:
            stage.missed(code)
            return
        if answer == "contact":
            stage.say(catalog.plain("rehearsal.contact_opens", code=code, name=name))
            return
        wanted = _WANTED.get(answer)
        # Whatever the bot managed to answer, only this answer (or none) may be stored.
        allowed = (RsvpStatus.NO_ANSWER,) if wanted is None else (wanted, RsvpStatus.NO_ANSWER)
        stage.consistent.append(partial(_rsvp_is, stage, code, *allowed))
        answered = True
        if answer == "attend":
            answered = bool(await _tap(stage, user, attend))
        elif answer == "substitute":
            answered = bool(await _tap(stage, user, catalog.plain("buttons.substitute")))
            if answered:
                await stage.ask(user.text(f"Nguyễn Thị Dự Thay ({SIMULATED})"))
                answered = await stage.ask(user.text("Phó Chủ tịch"))
        elif answer == "decline":
            answered = bool(await _tap(stage, user, catalog.plain("buttons.decline")))
            if answered:
                answered = await stage.ask(user.text("Trùng lịch công tác đã bố trí trước"))
        if wanted is not None and answered:
            stage.acknowledged.append(partial(_rsvp_is, stage, code, wanted))
        elif not answered:
            stage.missed(code)
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
        contacts = stage.cast.contacts.get(task.key, [])
        if not contacts or index == 1:
            continue  # the second task is left undone: its owner never reports
        code = contacts[0]
        action = "help" if index == 2 else "done"

        async def act(code: str = code, key: str = task.key, action: str = action) -> None:
            user = stage.users.get(code)
            if user is None:
                return
            label = catalog.plain("buttons.task_help" if action == "help" else "buttons.task_done")
            status = TaskStatus.NEED_HELP if action == "help" else TaskStatus.DONE
            await _insist(
                stage,
                lambda: user.command("/nhiemvu"),
                until=lambda: bool(_latest_with(user, label)),
            )
            tapped = await _tap(stage, user, label)
            parsed = parse_task_action(tapped)
            if parsed is None:
                stage.missed(code)
                return
            task_id = parsed[1]
            stage.consistent.append(
                partial(_task_is, stage, code, task_id, status, TaskStatus.TODO)
            )
            stage.acknowledged.append(partial(_task_is, stage, code, task_id, status))
            if action == "help":
                need = "Cần thêm kinh phí in ấn tài liệu"
                if await stage.ask(user.text(need)):
                    stage.acknowledged.append(partial(_task_note_is, stage, code, task_id, need))
                else:
                    stage.missed(code)
            stage.say(catalog.plain(f"rehearsal.task_{action}", code=code, key=key))

        events.append((at, act))
    return events


def _draft_events(stage: _Stage, names: dict[str, str]) -> list[tuple[datetime, Action]]:
    """Speakers send drafts before the deadline; the office comments on the first, the speaker
    answers and sends a second version, which the office approves; one is asked to revise; the
    last speaker types a draft; one sends nothing (the office's missing list shows it)."""
    config, catalog = stage.config, stage.catalog
    speakers = stage.cast.speakers
    if not speakers:
        return []
    deadline = min(config.draft_deadline(key) for key, _ in speakers)
    base = deadline - timedelta(days=4)
    events: list[tuple[datetime, Action]] = []
    senders = speakers[:-1]  # the last speaker never sends
    office = catalog.plain("rehearsal.office_person")

    for index, (key, code) in enumerate(senders):
        at = base + timedelta(hours=index)

        async def upload(key: str = key, code: str = code, index: int = index) -> None:
            user = stage.users.get(code)
            if user is None:
                return
            if index == len(senders) - 1:  # typed as messages
                stored = bool(
                    await _tap(stage, user, catalog.plain("buttons.draft_compose", key=key))
                )
                if stored:
                    await stage.ask(
                        user.text("Kính thưa các đồng chí, thay mặt Hội LHPN địa phương…")
                    )
                    await stage.ask(user.text("…xin trân trọng cảm ơn."))
                    stored = bool(await _tap(stage, user, catalog.plain("buttons.draft_finish")))
            else:
                stored = await stage.ask(
                    user.document(f"tham-luan-{key}.docx", _docx(key, names[code], 1), DOCX)
                )
            if stored:
                stage.acknowledged.append(partial(_has_version, stage, code, key, 1))
            else:
                stage.missed(code)
            stage.say(catalog.plain("rehearsal.draft_sent", code=code, key=key, number=1))

        events.append((at, upload))

    if not senders:
        return events  # one speaker on the list, who sends nothing: the office's list shows it
    first_key, first_code = senders[0]

    async def comment() -> None:
        post = _latest_office_post(stage, "📝", contains=names[first_code])
        if post is None:
            return
        text = "Đề nghị đồng chí bổ sung số liệu năm 2023."
        if await stage.ask(stage.office.reply(stage.admin, post, text)):
            stage.acknowledged.append(partial(_has_comment, stage, text, from_office=True))
        else:
            stage.missed(office)
        stage.say(catalog.plain("rehearsal.office_comment", code=first_code))

    async def answer() -> None:
        user = stage.users.get(first_code)
        if user is None:
            return
        comment_message = next(
            (m for m in reversed(user.messages) if "Góp ý" in m.get("text", "")), None
        )
        if comment_message is not None:
            text = "Xin cảm ơn, tôi sẽ bổ sung ngay."
            if await stage.ask(user.reply(comment_message, text)):
                stage.acknowledged.append(partial(_has_comment, stage, text, from_office=False))
            else:
                stage.missed(first_code)
        second = user.document(
            f"tham-luan-{first_key}.docx", _docx(first_key, names[first_code], 2), DOCX
        )
        if await stage.ask(second):
            stage.acknowledged.append(partial(_has_version, stage, first_code, first_key, 2))
        else:
            stage.missed(first_code)
        stage.say(catalog.plain("rehearsal.draft_sent", code=first_code, key=first_key, number=2))

    async def approve() -> None:
        final = catalog.plain("buttons.draft_final", number=2)
        post = _latest_office_post(stage, "📝", contains=final)
        if post is not None:
            if await _insist(stage, lambda: stage.admin.tap(final, message=post)):
                stage.acknowledged.append(
                    partial(_draft_is, stage, first_code, first_key, DraftStatus.FINAL)
                )
            else:
                stage.missed(office)
            stage.say(catalog.plain("rehearsal.office_final", code=first_code))
        if len(senders) > 1:
            other_key, other_code = senders[1]
            other = _latest_office_post(stage, "📝", contains=names[other_code])
            if other is not None:
                revise = catalog.plain("buttons.draft_revise")
                if await _insist(stage, lambda: stage.admin.tap(revise, message=other)):
                    stage.acknowledged.append(
                        partial(_draft_is, stage, other_code, other_key, DraftStatus.REVISION)
                    )
                else:
                    stage.missed(office)
                stage.say(catalog.plain("rehearsal.office_revise", code=other_code))

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
        text = "Kính mời các đồng chí đến sớm 15 phút để ổn định tổ chức."
        for _ in range(_TRIES):
            # A step whose answer did not arrive leaves the next step's buttons missing: the
            # office starts again (/thongbao drops the unfinished notice).
            if not (
                await _insist(stage, lambda: admin.command("/thongbao"))
                and await stage.ask(admin.text(text))
                and await _tap(stage, admin, catalog.plain("audience.present"))
            ):
                continue
            # Not started again after this: the notice may be queued already.
            if not await _tap(stage, admin, catalog.plain("buttons.bc_now")):
                stage.missed(catalog.plain("rehearsal.office_person"))
            stage.say(catalog.plain("rehearsal.broadcast"))
            return
        stage.missed(catalog.plain("rehearsal.office_person"))

    return [(at, act)]


async def _restart(stage: _Stage, *, killed: bool) -> None:
    """A new outbox, as a restarted process builds it: in-flight deliveries go back to pending."""
    sender = next(iter(stage.outbox.senders.values()))
    inner = sender.inner if isinstance(sender, _MortalSender) else sender
    assert isinstance(inner, TelegramSender)
    assert stage.faults is not None and stage.chaos is not None
    process = _Process()
    faulty = _MortalSender(inner, stage.rng, stage.faults, stage.stats, process, stage.chaos)
    time = VirtualTime()
    pacer = Pacer(Limits(), now=time.monotonic, sleep=time.sleep)
    stage.outbox = build_outbox(
        stage.services, stage.catalog, {faulty.channel: faulty}, pacer=pacer
    )
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
                    OutboundMessage.id.not_in(stage.told),
                )
            )
        )
        for message in finished:
            stage.told.add(message.id)
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
                reason = skip_reason(message.params)
                stage.say(stage.catalog.plain(f"rehearsal.not_sent.{reason.value}", what=what))
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
    for _ in range(_TRIES):  # the office asks again while the answer does not arrive
        before = len(admin.messages)
        if await stage.ask(admin.command("/thongke")):
            break
    result.summary = "\n".join(m.get("text", "") for m in admin.messages[before:])
    data = office_report_workbook(catalog, stage.config, await services.office_report.collect())
    written = _write(report, data)
    await _checks(stage, report, written)


def _write(path: Path, data: bytes) -> bool:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path.stat().st_size == len(data) > 0


def _not_played(stage: _Stage) -> dict[str, str]:
    """The checks whose part of the play nobody on the lists played, and why (a catalog key of
    ``rehearsal.why``): the check is then told as not rehearsed instead of failed."""
    config, cast = stage.config, stage.cast
    answers = set(stage.plan.values())
    contacts = any(cast.contacts.values()) or bool(cast.group_tasks)
    # The play reports tasks done only for the first, fourth and later tasks with a contact.
    left_undone = [
        task
        for index, task in enumerate(config.tasks)
        if index in (1, 2) or not cast.contacts.get(task.key)
    ]
    why = {
        "linked": "no_openers" if not (answers - {"never"}) and not contacts else "",
        "answered": "" if answers & {"attend", "substitute", "decline"} else "no_answers",
        MessageKind.RSVP_REMINDER: "" if "silent" in answers else "no_silent",
        MessageKind.TASK_REMINDER: "" if contacts else "no_contacts",
        MessageKind.DRAFT_REMINDER: "" if cast.speakers else "no_speakers",
        "office": "" if left_undone and config.reminders.task_escalation else "no_overdue",
        "drafts": ""
        if len(cast.speakers) > 1
        else "one_speaker"
        if cast.speakers
        else "no_speakers",
    }
    for kind in (MessageKind.BROADCAST, MessageKind.DAY_BEFORE, MessageKind.MORNING_AGENDA):
        why[kind] = "" if answers & {"attend", "substitute"} else "no_present"
    return {part: reason for part, reason in why.items() if reason}


async def _checks(stage: _Stage, report: Path, written: bool) -> None:
    services, catalog, fake = stage.services, stage.catalog, stage.fake
    counts = (await services.reports.counts()).overall
    not_played = _not_played(stage)

    def check(item: tuple[str, bool], part: str | None = None) -> None:
        label, ok = item
        if part in not_played and not ok:
            why = catalog.plain(f"rehearsal.why.{not_played[part]}")
            stage.result.checks.append(
                (catalog.plain("rehearsal.check.not_rehearsed", check=label, why=why), None)
            )
        else:
            stage.result.checks.append((label, ok))

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
        ),
        "linked",
    )
    check((catalog.plain("rehearsal.check.answered", count=answered), answered > 0), "answered")
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
        check((catalog.plain("rehearsal.check.kind", what=label, count=number), number > 0), kind)
    office_texts = [
        m.get("text") or m.get("caption") or "" for m in fake.messages_to(stage.office.id)
    ]
    # A copy sent again after a kill is still the report it repeats.
    repeat = re.sub(r"<[^>]+>", "", catalog.plain("report.repeat")) + "\n"
    overdue = sum(t.removeprefix(repeat).startswith("⏰ ") for t in office_texts)
    check(
        (
            catalog.plain("rehearsal.check.office", count=len(office_texts), overdue=overdue),
            overdue > 0,
        ),
        "office",
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
        ),
        "drafts",
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


def _latest_with(user: FakeUser, label: str) -> JsonDict | None:
    """The newest message in ``user``'s chat that carries the button ``label``."""
    for message in reversed(user.messages):
        rows = (message.get("reply_markup") or {}).get("inline_keyboard", [])
        if any(button.get("text") == label for row in rows for button in row):
            return message
    return None


async def _tap(stage: _Stage, user: FakeUser, label: str) -> str | None:
    """Tap the button ``label`` on the newest message that carries it, again while the bot's
    answer does not arrive (as a person would); the tapped button's data once answered, None
    if there is no such button or no answer came."""
    for _ in range(_TRIES):
        message = _latest_with(user, label)
        if message is None:
            return None
        update = user.tap(label, message=message)
        if await stage.ask(update):
            return str(update["callback_query"]["data"])
    return None


async def _insist(
    stage: _Stage, make: Callable[[], JsonDict], *, until: Callable[[], bool] | None = None
) -> bool:
    """Send what ``make`` builds (a command, a tap); send it again while the bot's answer does
    not arrive, or ``until`` does not hold, as a person would: whether it finally did."""
    for _ in range(_TRIES):
        if await stage.ask(make()) and (until is None or until()):
            return True
    return False


def _answered(update: JsonDict, calls: Sequence[ApiCall]) -> bool:
    """Whether the bot's answer to ``update`` reached its person: a message in the chat it came
    from, or a toast with text on the tap. The calls are those made while it was handled (the
    rehearsal is sequential); a call that failed, however often retried, answered nothing."""
    query = update.get("callback_query") or {}
    message = update.get("message") or query.get("message") or {}
    chat = message.get("chat", {}).get("id")
    for call in calls:
        if call.error is not None or call.error_code is not None:
            continue
        if call.method == "answerCallbackQuery":
            if call.params.get("callback_query_id") == query.get("id") and call.params.get("text"):
                return True
        elif _is_message(call) and call.params.get("chat_id") == chat:
            return True
    return False


def _is_message(call: ApiCall) -> bool:
    return call.method.startswith("send") and call.method != "sendChatAction"


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


def _kinds(counts: Counter[str]) -> str:
    return ", ".join(f"{kind} {counts[kind]}" for kind in CHAOS_KINDS)


async def _fault_checks(stage: _Stage) -> None:
    """Under faults: every delivery settled, none failed, repeats within the in-flight bound,
    every acknowledged answer stored and nothing stored that nobody did, every blocked delegate
    reported to the office.

    The bound on repeats: a kill can only repeat what was in flight when the process died, at
    most one batch (``batch_size`` parts; one here): a part Telegram accepted just before the
    kill, not yet written down, goes again after the restart. The chaos's timeouts fire before
    the call reaches the chat, so they repeat nothing (a real timeout may: that too is one part
    in flight), and the handlers' replies are no deliveries. So repeats ≤ kills × batch_size.
    """
    services, catalog, stats = stage.services, stage.catalog, stage.stats
    assert stage.chaos is not None
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
    outbox_faults = stats.outbox_faults
    reply_faults = stage.chaos.injected - outbox_faults
    result = stage.result
    result.kills, result.duplicates = stats.kills, duplicates
    result.outbox_faults, result.reply_faults = outbox_faults, reply_faults
    result.unacknowledged = stats.unacknowledged
    check(
        (
            catalog.plain(
                "rehearsal.check.kills", kills=stats.kills, injected=_kinds(stage.chaos.injected)
            ),
            stats.kills >= 20,
        )
    )
    limiter = stage.app.bot.rate_limiter
    retried = sum(limiter.retried.values()) if isinstance(limiter, RetryingRateLimiter) else 0
    gave_up = sum(limiter.gave_up.values()) if isinstance(limiter, RetryingRateLimiter) else 0
    check(
        (
            catalog.plain(
                "rehearsal.check.faults",
                outbox=outbox_faults.total(),
                outbox_kinds=_kinds(outbox_faults),
                replies=reply_faults.total(),
                reply_kinds=_kinds(reply_faults),
                retried=retried,
                gave_up=gave_up,
            ),
            outbox_faults.total() > 0 and reply_faults.total() > 0,
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
    lost = [holds for holds in stage.acknowledged if not await holds()]
    check((catalog.plain("rehearsal.check.acknowledged", lost=len(lost)), not lost))
    wrong = [holds for holds in stage.consistent if not await holds()]
    check(
        (
            catalog.plain(
                "rehearsal.check.unacknowledged",
                acknowledged=len(stage.acknowledged),
                unacknowledged=stats.unacknowledged,
                wrong=len(wrong),
            ),
            not wrong,
        )
    )
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


# --- what the database shows ---------------------------------------------------------------------


async def _scalar(stage: _Stage, statement: Any) -> Any:
    async with stage.services.ctx.sessions() as session:
        return await session.scalar(statement)


async def _rsvp_is(stage: _Stage, code: str, *statuses: RsvpStatus) -> bool:
    """The delegate's stored answer is one of ``statuses``."""
    stored = await _scalar(
        stage,
        select(Rsvp.status)
        .join(Delegate, Delegate.id == Rsvp.delegate_id)
        .where(Delegate.code == code),
    )
    return stored in statuses


async def _task_is(stage: _Stage, code: str, task_id: int, *statuses: TaskStatus) -> bool:
    """The person's report on the task is one of ``statuses``."""
    return await _scalar(stage, _assignment_of(TaskAssignment.status, code, task_id)) in statuses


async def _task_note_is(stage: _Stage, code: str, task_id: int, note: str) -> bool:
    """The person's note on the task is ``note`` (as typed, on one line)."""
    stored = await _scalar(stage, _assignment_of(TaskAssignment.note, code, task_id))
    return bool(stored == one_line(note))


def _assignment_of(column: Any, code: str, task_id: int) -> Any:
    return (
        select(column)
        .select_from(TaskAssignment)
        .join(Delegate, Delegate.id == TaskAssignment.person_id)
        .where(Delegate.code == code, TaskAssignment.task_id == task_id)
    )


def _speech_of(column: Any, code: str, key: str) -> Any:
    return (
        select(column)
        .select_from(SpeechAssignment)
        .join(Delegate, Delegate.id == SpeechAssignment.person_id)
        .where(Delegate.code == code, SpeechAssignment.theme_key == key)
    )


async def _has_version(stage: _Stage, code: str, key: str, number: int) -> bool:
    """The speaker's draft on theme ``key`` has a version ``number`` (or a later one)."""
    latest = await _scalar(
        stage,
        _speech_of(func.max(DraftVersion.number), code, key).join(
            DraftVersion, DraftVersion.assignment_id == SpeechAssignment.id
        ),
    )
    return latest is not None and int(latest) >= number


async def _draft_is(stage: _Stage, code: str, key: str, status: DraftStatus) -> bool:
    """The speaker's draft on theme ``key`` stands at ``status``."""
    return bool(await _scalar(stage, _speech_of(SpeechAssignment.status, code, key)) == status)


async def _has_comment(stage: _Stage, body: str, *, from_office: bool) -> bool:
    """A comment with ``body`` is in a draft's thread, from the office or from the speaker."""
    count = await _scalar(
        stage,
        select(func.count())
        .select_from(DraftComment)
        .where(DraftComment.body == body, DraftComment.from_office == from_office),
    )
    return bool(count)
