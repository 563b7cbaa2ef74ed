"""Who may do what, decided by the core alone: the matrix of tests/test_permissions.py played
through :meth:`bot.chat.Inbox.handle` on the test text channel (no buttons, no files, string
ids), with no Telegram running at all. A new channel adapter inherits every cell of it.

Roles: office staff (NV07, granted the office role as ``hoinghi staff add`` does and linked on
the text channel: a person on the list, not a Telegram id of ``[office] admin_ids``); a linked
delegate (DB031, speaker on theme 1.1 and, as a district chair, assignee of task VI.2); a task
contact (NV03, task VI.1.1); an account linked to no one. The text channel has no groups, so
the group roles of the Telegram matrix have no column here. Choices are sent as forged
:class:`Action` events (a channel without buttons makes them from typed numbers): the core must
judge by who sent one, never by what its data names.
"""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import select

from bot.app import build_outbox
from bot.chat import Inbox
from bot.domain.channels import Capabilities, ChannelInfo, Chat, ChatAccount
from bot.domain.drafts import DraftStatus
from bot.domain.inbound import Action, Command, Event, Text
from bot.domain.outbound import (
    Answer,
    Audience,
    DeliveryStatus,
    FilePart,
    MessageStatus,
    Outbound,
    Part,
    SendOutcome,
    SendResult,
    SharedFilePart,
    TextPart,
    Toast,
)
from bot.domain.tasks import TaskAction, TaskStatus, task_action
from bot.services import Services
from bot.services.access import OfficeActor
from bot.services.drafts import HeldUpload
from bot.services.report_file import REPORT_DOWNLOAD
from bot.texts import Catalog, load_catalog
from bot.texts.plain import to_text
from bot.texts.presenters import typed_time_params
from schedules.ratelimit import Limits, Pacer, VirtualTime
from storage.models import ChannelIdentity, Delegate, Delivery, OutboundMessage, Rsvp, Task
from tests.channels.text_channel import CAPABILITIES, NAME, TextChannel, TextPerson
from tests.plan_support import contacts_and_staff
from tests.samples import docx
from tests.test_permissions import (
    ACTIONS,
    ALLOWED,
    LINK,
    LN,
    MATRIX,
    NA,
    NO,
    NOT_LINKED,
    OK,
    REFUSED,
    TYPED_ASIDE_TEXT,
    snapshot,
)

CHANNEL = ChannelInfo(NAME, CAPABILITIES)
STAFF, OTHER_STAFF = "NV07", "NV08"  # office staff by role; NV08 writes the "other" notices

OFFICE, DELEGATE, CONTACT, UNLINKED = "office", "delegate", "contact", "unlinked"
ROLES = (OFFICE, DELEGATE, CONTACT, UNLINKED)  # the Telegram matrix's first four columns

# fmt: off
# Where the core's office staff differ from Telegram's bootstrap admin, who is linked to no one:
# staff here are people on the list, linked, and task contacts (they invite no one).
LINKED_STAFF: dict[str, tuple[str | None, ...]] = {
    "/trangthai":               (OK, OK, OK, LN),  # their card: a contact's is the task board
    "rsvp:attend":              (NA, OK, NA, LN),  # a contact has no invitation to answer
    "task:done:<other task>":   (NO, NO, NO, LN),  # linked, but not an assignee: refused
    "dr:compose:<other draft>": (NO, NO, NO, LN),  # linked, but not the speaker: refused
    "task:cancel:<other task>": (NO, NO, NO, LN),  # linked, but not an assignee: refused
    # No reply threads here: the office comments through these choices (Telegram: a reply).
    "dr:comment:<version>":     (OK, NO, NO, NO),
    "dr:nocomment:<version>":   (OK, NO, NA, NO),
}
# fmt: on
# Not on a text channel: /id tells Telegram's chat ids (the Telegram adapter answers it), and
# a file waiting for its theme (dr:pick of one's own) comes only through a channel with files.
NOT_HERE = ("/id", "dr:pick:<own draft>:<own file>")
CORE_MATRIX = {
    action: LINKED_STAFF.get(action, outcomes[: len(ROLES)])
    for action, outcomes in MATRIX.items()
    if action not in NOT_HERE
}
CASES = [
    (role, action, outcome)
    for action, outcomes in CORE_MATRIX.items()
    for role, outcome in zip(ROLES, outcomes, strict=True)
    if outcome is not None
]


# --- the world and the scene ---------------------------------------------------------------------


@dataclass
class World:
    """The example plan with its contacts, NV07 and NV08 holding the office role, the text
    channel's inbox, and the people linked on it so far."""

    services: Services
    channel: TextChannel
    tokens: dict[str, str]
    linked: dict[str, TextPerson] = field(default_factory=dict)
    _events: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    @property
    def inbox(self) -> Inbox:
        return self.channel.inbox

    @property
    def catalog(self) -> Catalog:
        return self.channel.catalog

    def account(self, person: TextPerson) -> ChatAccount:
        """The account the text channel names ``person`` by."""
        return ChatAccount(NAME, person.id, person.id, person.name)

    async def link(self, code: str) -> TextPerson:
        """``code`` opens their invitation by typing its command (once)."""
        if code not in self.linked:
            person = self.linked[code] = self.channel.person(code)
            await person.type(f"/start {self.tokens[code]}")
        return self.linked[code]

    async def handle(self, person: TextPerson, data: str) -> Answer:
        """A command, or a choice with forged ``data``, from ``person``: the core's answer."""
        base = {
            "account": self.account(person),
            "chat": Chat(person.id),
            "event_id": f"act-{next(self._events)}",
        }
        event: Event
        if data.startswith("/"):
            name, *args = data[1:].split()
            event = Command(**base, name=name, args=tuple(args))
        else:
            event = Action(**base, data=data)
        return await self.inbox.handle(event, CHANNEL)

    async def type(self, person: TextPerson, text: str) -> Answer:
        """Typed text from ``person``: the core's answer."""
        event = Text(
            account=self.account(person),
            chat=Chat(person.id),
            event_id=f"text-{next(self._events)}",
            text=text,
        )
        return await self.inbox.handle(event, CHANNEL)

    async def office(self, code: str) -> OfficeActor:
        """Staff member ``code``, linked, as the office actor the core issues."""
        access = self.services.access
        actor = access.office(await access.caller(self.account(await self.link(code))))
        assert actor is not None
        return actor


def text_link(token: str) -> str:
    """How a person links on the text channel: by typing the command with their token."""
    return f"/start {token}"


@pytest.fixture
async def world(imported: Services) -> World:
    services = imported
    await contacts_and_staff(services, STAFF, OTHER_STAFF)
    catalog = load_catalog("vi")
    channel = TextChannel(Inbox(services, catalog, links=[text_link]), catalog)
    tokens = {link.code: link.token for link in await services.invitations.links()}
    return World(services, channel, tokens)


@dataclass
class Scene:
    """One role about to do one action, and the records the action names."""

    world: World
    role: str
    person: TextPerson
    ids: dict[str, int]

    @property
    def services(self) -> Services:
        return self.world.services

    def say(self, key: str, /, **params: object) -> str:
        """A catalog text as the text channel shows it."""
        contact = self.services.config.office.contact
        return to_text(self.world.catalog.html(key, **({"contact": contact} | params)))


@dataclass(frozen=True)
class Said:
    """The core's answer, read: the toast, each message's text (without its choices), the
    files, and whether each message goes to the person's own chat."""

    answer: Answer
    toast: Toast | None
    texts: list[str]
    files: list[FilePart | SharedFilePart]

    @classmethod
    def of(cls, answer: Answer) -> Said:
        parts: list[Part] = [part for reply in answer.replies for part in reply.outbound.parts]
        texts = [to_text(part.html) for part in parts if isinstance(part, TextPart)]
        files = [part for part in parts if isinstance(part, FilePart | SharedFilePart)]
        return cls(answer, answer.toast, texts, files)

    @property
    def all(self) -> list[str]:
        """Everything the person reads: the toast, then the messages."""
        return ([self.toast.text] if self.toast else []) + self.texts


async def enter(world: World, role: str) -> Scene:
    """The actor ready, and the ids of the plan's tasks and speeches."""
    tasks = {line.key: line.id for line in await world.services.tasks.office_board()}
    drafts = {line.code: line.id for line in await world.services.drafts.board()}
    ids = {"vi11": tasks["VI.1.1"], "a11": drafts["DB031"], "a12": drafts["DB036"]}
    ids |= {"other_task": tasks["VI.1.1"], "other_draft": drafts["DB036"]}
    ids |= {"own_task": tasks["VI.2"], "own_draft": drafts["DB031"]}  # DB031's
    if role == CONTACT:
        ids |= {"own_task": tasks["VI.1.1"], "other_task": tasks["VI.2"]}
    code = {OFFICE: STAFF, DELEGATE: "DB031", CONTACT: "NV03"}.get(role)
    person = await world.link(code) if code else world.channel.person("Người lạ")
    return Scene(world, role, person, ids)


# --- records the actions name --------------------------------------------------------------------

Prepare = Callable[[Scene], Awaitable[None]]


async def with_other_delegate(scene: Scene) -> None:
    """DB001, another delegate, is linked; forged data names their row."""
    await scene.world.link("DB001")
    async with scene.services.ctx.sessions() as session:
        db001 = await session.scalar(select(Delegate.id).where(Delegate.code == "DB001"))
    assert db001 is not None
    scene.ids["db001"] = db001


async def with_evidence(scene: Scene) -> None:
    """NV03 chose to send VI.1.1's deliverable, and a file came (as a channel with files
    hands it over: the text channel takes none)."""
    world = scene.world
    owner = await world.link("NV03")
    await world.handle(owner, task_action(TaskAction.FILE, scene.ids["vi11"]))
    await scene.services.tasks.submit_file(
        world.account(owner), name="bao-cao-so-ket.docx", file_ref="f-nv03", content=docx("báo")
    )
    [line] = [t for t in await scene.services.tasks.office_board() if t.key == "VI.1.1"]
    scene.ids["evidence"] = line.files[0].id


async def with_version(scene: Scene) -> None:
    """DB036 typed version 1 of theme 1.2 and sent it."""
    world = scene.world
    speaker = await world.link("DB036")
    await world.handle(speaker, f"dr:compose:{scene.ids['a12']}")
    await world.type(speaker, "Kính thưa các đồng chí, quận Đống Đa báo cáo.")
    await world.handle(speaker, f"dr:finish:{scene.ids['a12']}")
    line = next(x for x in await scene.services.drafts.board() if x.code == "DB036")
    assert line.latest is not None
    scene.ids["version"] = line.latest.id


async def _typing(world: World, person: TextPerson, assignment: int) -> None:
    await world.handle(person, f"dr:compose:{assignment}")
    await world.type(person, "Kính thưa các đồng chí,")


async def with_own_typing(scene: Scene) -> None:
    """The delegate is typing a draft of theme 1.1 and has sent one piece."""
    await _typing(scene.world, scene.person, scene.ids["a11"])


async def with_other_typing(scene: Scene) -> None:
    """DB036 is typing a draft of theme 1.2 and has sent one piece."""
    await _typing(scene.world, await scene.world.link("DB036"), scene.ids["a12"])


async def with_own_reply(scene: Scene) -> None:
    """The delegate chose to answer the office on theme 1.1."""
    await scene.world.handle(scene.person, f"dr:reply:{scene.ids['a11']}")


async def with_other_reply(scene: Scene) -> None:
    """DB036 chose to answer the office on theme 1.2."""
    await scene.world.handle(await scene.world.link("DB036"), f"dr:reply:{scene.ids['a12']}")


async def with_other_file(scene: Scene) -> None:
    """DB036 also speaks on 2.2 and has a file waiting for its theme."""
    services, speaker = scene.services, await scene.world.link("DB036")
    await services.drafts.assign(services.access.local_operator(), "DB036", "2.2")
    held = HeldUpload(NAME, "f-db036", "bai.docx", 2048, token=424242)
    await services.drafts.hold(scene.world.account(speaker), held)
    scene.ids["other_token"] = held.token


async def _notice(scene: Scene, code: str, *, audience: str | None) -> int:
    """A notice draft of staff member ``code`` with its text, and its audience if given."""
    broadcasts, actor = scene.services.broadcasts, await scene.world.office(code)
    draft = await broadcasts.start(actor)
    assert draft.message_id is not None
    await broadcasts.accept_text(actor, "Kính mời các đồng chí dự họp trù bị.")
    if audience is not None:
        await broadcasts.choose_audience(actor, draft.message_id, audience)
    return draft.message_id


async def with_draft_at_audience(scene: Scene) -> None:
    """NV07 of the office wrote a notice; it waits for the audience."""
    scene.ids["draft"] = await _notice(scene, STAFF, audience=None)


async def with_draft_at_preview(scene: Scene) -> None:
    """NV07's notice is at its preview, waiting for "send now" or "schedule"."""
    scene.ids["draft"] = await _notice(scene, STAFF, audience=Audience.LINKED)


async def with_draft_typed_aside(scene: Scene) -> None:
    """NV07's notice waits for its time, and a text that is no time was typed there."""
    broadcasts, actor = scene.services.broadcasts, await scene.world.office(STAFF)
    scene.ids["draft"] = await _notice(scene, STAFF, audience=Audience.LINKED)
    await broadcasts.ask_time(actor, scene.ids["draft"])
    aside = await broadcasts.accept_text(actor, TYPED_ASIDE_TEXT)
    assert aside is not None and aside.step.value == "not_a_time"


async def with_live_link(scene: Scene) -> None:
    """``/caplai DB001`` asked: its choice names DB001's live link as it was then."""
    card = await scene.services.dashboard.card("DB001")
    assert card is not None and card.invitation_id
    scene.ids["link"] = card.invitation_id


async def with_other_admin_draft(scene: Scene) -> None:
    """NV08's notice is at its preview."""
    scene.ids["other_notice"] = await _notice(scene, OTHER_STAFF, audience=Audience.LINKED)


async def with_other_admin_scheduled(scene: Scene) -> None:
    """NV08 scheduled a notice for tomorrow."""
    actor = await scene.world.office(OTHER_STAFF)
    message_id = await _notice(scene, OTHER_STAFF, audience=Audience.LINKED)
    await scene.services.broadcasts.ask_time(actor, message_id)
    result = await scene.services.broadcasts.accept_text(actor, "08:00 19/5")
    assert result is not None and result.step.value == "scheduled"
    scene.ids["scheduled"] = message_id


@dataclass
class FailingFirst:
    """The text channel as the outbox's sender, refusing the first message it is given."""

    inner: TextChannel
    channel: str = NAME
    capabilities: Capabilities = CAPABILITIES
    failed: bool = False

    def prepare(self, outbound: Outbound) -> Sequence[Part]:
        return self.inner.prepare(outbound)

    async def send(self, address: str, part: Part) -> SendResult:
        if not self.failed:
            self.failed = True
            return SendResult(SendOutcome.FAILED, error="chat is being migrated")
        return await self.inner.send(address, part)


async def with_other_admin_failed_notice(scene: Scene) -> None:
    """NV08's notice went out and failed to reach one person."""
    world, services = scene.world, scene.services
    await world.link("DB001")
    message_id = await _notice(scene, OTHER_STAFF, audience=Audience.LINKED)
    await services.broadcasts.send_now(await world.office(OTHER_STAFF), message_id)
    sender = FailingFirst(world.channel)
    time = VirtualTime()
    pacer = Pacer(Limits(), now=time.monotonic, sleep=time.sleep)
    outbox = build_outbox(services, world.catalog, {NAME: sender}, pacer=pacer)
    await outbox.tick()
    await outbox.tick()  # the report to NV08
    assert DeliveryStatus.FAILED in await _deliveries(services, message_id)
    scene.ids["sent"] = message_id


# --- reading state -------------------------------------------------------------------------------


async def _row(services: Services, model: Any, row_id: int) -> Any:
    async with services.ctx.sessions() as session:
        row = await session.get(model, row_id)
    assert row is not None
    return row


async def _pending(scene: Scene) -> str | None:
    async with scene.services.ctx.sessions() as session:
        return await session.scalar(
            select(ChannelIdentity.pending_input).where(
                ChannelIdentity.channel == NAME, ChannelIdentity.external_id == scene.person.id
            )
        )


async def _deliveries(services: Services, message_id: int) -> list[str]:
    async with services.ctx.sessions() as session:
        return list(
            await session.scalars(select(Delivery.status).where(Delivery.message_id == message_id))
        )


async def _assignment_status(services: Services, task_id: int, code: str) -> str:
    line = next(t for t in await services.tasks.office_board() if t.id == task_id)
    return next(a.status for a in line.assignments if a.code == code)


# --- what "allowed" means for each action --------------------------------------------------------

Check = Callable[[Scene, Said], Awaitable[None]]
TASK_BOARD = "📋 Nhiệm vụ chuẩn bị hội nghị"


async def counts_shown(scene: Scene, said: Said) -> None:
    [answer] = said.all
    assert answer.startswith("📊 Thống kê xác nhận tham dự\n")
    assert "Tổng số đại biểu: 80" in answer


async def unanswered_shown(scene: Scene, said: Said) -> None:
    assert said.all[0].startswith("⏳ Đại biểu chưa trả lời: 80")


async def next_unanswered_shown(scene: Scene, said: Said) -> None:
    assert said.all[0].startswith("⏳ Đại biểu chưa trả lời: 80 (tiếp theo, từ người thứ 11)")


async def report_sent_privately(scene: Scene, said: Said) -> None:
    [reply] = said.answer.replies
    [part] = said.files
    assert reply.private and isinstance(part, FilePart) and part.filename.endswith(".xlsx")
    # The text channel carries no file (as Zalo): the dashboard's download, privately too.
    web = scene.services.config.web
    assert web is not None and part.download_url == web.office_url(REPORT_DOWNLOAD)
    assert part.content == b""
    assert to_text(part.caption_html) == scene.say("report_file.caption", time="09:00, 18/5")


async def notice_started(scene: Scene, said: Said) -> None:
    assert said.all == [scene.say("broadcast.ask_text", limit="3.500")]
    async with scene.services.ctx.sessions() as session:
        [draft] = await session.scalars(select(OutboundMessage))
    assert (draft.status, draft.created_by) == (MessageStatus.DRAFT, f"text:{scene.person.id}")


async def notices_listed(scene: Scene, said: Said) -> None:
    assert said.all == [scene.say("broadcast.list_empty")]


async def task_board_shown(scene: Scene, said: Said) -> None:
    shown = "\n".join(said.all)
    if scene.role == OFFICE:
        assert shown.startswith(TASK_BOARD)
        assert all(key in shown for key in ("VI.1.1", "VI.1.2", "VI.1.3", "VI.1.4", "VI.2"))
    else:  # one's own tasks only
        own, other = ("VI.2", "VI.1.1") if scene.role == DELEGATE else ("VI.1.1", "VI.2")
        assert own in shown and other not in shown


async def draft_board_shown(scene: Scene, said: Said) -> None:
    shown = "\n".join(said.all)
    if scene.role == OFFICE:
        assert shown.startswith("📝 Tham luận — hạn gửi 17:00")
        assert "Đã gửi 0/10" in shown
    elif scene.role == DELEGATE:  # their own theme, with the choice to type it
        assert "Chủ đề 1.1" in shown and "Chủ đề 1.2" not in shown
        assert "Tham luận được phân công" in shown
    else:  # a contact speaks on nothing
        assert said.all == [scene.say("draft_mine.none")]


async def speaker_assigned(scene: Scene, said: Said) -> None:
    [answer] = said.all
    assert answer.startswith("Đã phân công đồng chí Trần Thị Hồng Vân")
    assert "DB032" in [line.code for line in await scene.services.drafts.board()]


async def reissue_asked(scene: Scene, said: Said) -> None:
    """``/caplai`` asks first, saying what stops working; nothing is re-issued yet."""
    [answer] = said.all
    assert answer.startswith(
        "Cấp lại đường liên kết và mã cá nhân của đồng chí Phạm Thị Thanh Mai (DB001)? Ngay khi"
    )
    links = {link.code: link.token for link in await scene.services.invitations.links()}
    assert links["DB001"] == scene.world.tokens["DB001"]


async def account_unlinked(scene: Scene, said: Said) -> None:
    assert said.all == [scene.say("office.unlinked", name="Phạm Thị Thanh Mai", code="DB001")]
    owner = scene.world.account(scene.world.linked["DB001"])
    assert await scene.services.invitations.whoami(owner) is None


async def welcomed(scene: Scene, said: Said) -> None:
    if scene.role == UNLINKED:
        # No link payload on the text channel: the unlinked are told to send their code.
        config = scene.services.config
        welcome = scene.say(
            "start.welcome_code",
            office=config.office.name,
            title=config.meeting.title,
            contact=config.office.contact,
        )
        assert said.all == [welcome]
        return
    shown = "\n".join(said.all[1:])
    if scene.role == DELEGATE:  # the invitation card
        assert said.all[0] == scene.say("start.already_linked")
        assert "Thứ Ba, ngày 28/5/2024" in shown
    elif scene.role == CONTACT:  # her name (she has no invitation), then her own tasks
        assert said.all[0] == scene.say("start.already_linked_contact", name="Lê Thị Thanh Nga")
        assert "VI.1.1" in shown
    else:  # her name and office role; her own tasks (NV07 has none), not the office's board
        assert said.all == [scene.say("start.already_linked_office", name="Ngô Đức Thịnh")]


async def card_shown(scene: Scene, said: Said) -> None:
    shown = "\n".join(said.all)
    if scene.role == DELEGATE:
        assert "Thứ Ba, ngày 28/5/2024, từ 08:00 đến 11:30" in shown
    else:  # a contact has tasks, not an invitation; office staff see every task
        assert "VI.1.1" in shown and "28/5/2024, từ 08:00" not in shown
        assert shown.startswith(TASK_BOARD) is (scene.role == OFFICE)


async def calendar_sent(scene: Scene, said: Said) -> None:
    [part] = said.files
    assert isinstance(part, FilePart) and part.filename.endswith(".ics")
    assert b"BEGIN:VCALENDAR" in part.content
    assert to_text(part.caption_html) == scene.say("meeting_pack.ics_caption")


async def helped(scene: Scene, said: Said) -> None:
    [answer] = said.all
    assert answer.startswith("Hướng dẫn sử dụng\n/start")
    assert ("Lệnh dành cho Văn phòng" in answer) is (scene.role == OFFICE)


async def attended(scene: Scene, said: Said) -> None:
    assert said.toast == Toast(scene.say("rsvp.toast_recorded"))
    assert said.texts[0].startswith("✅ Đã ghi nhận: đồng chí tham dự hội nghị.")
    async with scene.services.ctx.sessions() as session:
        answered = list(await session.scalars(select(Rsvp).where(Rsvp.status != "no_answer")))
    assert [r.status for r in answered] == ["attending"]  # nobody else's answer moved


def reported(status: TaskStatus, reply_key: str) -> Check:
    async def check(scene: Scene, said: Said) -> None:
        key = "VI.2" if scene.role == DELEGATE else "VI.1.1"
        params: dict[str, object] = {"key": key, "limit": 500}
        if reply_key == "task.recorded":  # "done" is recorded at once
            params["status"] = scene.say(f"task_status.{status.value}")
        assert said.all[0].startswith(scene.say(reply_key, **params))
        code = {DELEGATE: "DB031", CONTACT: "NV03"}[scene.role]
        assert await _assignment_status(scene.services, scene.ids["own_task"], code) == status

    return check


async def file_asked(scene: Scene, said: Said) -> None:
    # The core's text channel takes no files: a link, or a file on the person's page.
    assert said.all[0].startswith(scene.say("task.ask_file_no_files", key="VI.1.1", url=""))
    assert await _pending(scene) == "task_file"


async def task_closed(scene: Scene, said: Said) -> None:
    assert said.all[0].startswith(scene.say("task.closed", key="VI.1.1"))
    task = await _row(scene.services, Task, scene.ids["vi11"])
    assert task.closed_at is not None and task.closed_by == f"text:{scene.person.id}"


async def evidence_sent(scene: Scene, said: Said) -> None:
    [part] = said.files  # sent again by the channel's own reference to it
    assert isinstance(part, SharedFilePart) and (part.channel, part.file_ref) == (NAME, "f-nv03")
    assert to_text(part.caption_html) == scene.say("task.file_caption", name="bao-cao-so-ket.docx")


async def composing(scene: Scene, said: Said) -> None:
    assert said.all == [scene.say("draft.composing", key="1.1")]
    assert await _pending(scene) == "draft_text"


async def finished(scene: Scene, said: Said) -> None:
    assert said.all[0].startswith("✅ Đã nhận bản 1 lúc 09:00, 18/5")
    line = next(x for x in await scene.services.drafts.board() if x.code == "DB031")
    assert (line.versions, line.status) == (1, DraftStatus.SUBMITTED)


async def typing_cancelled(scene: Scene, said: Said) -> None:
    assert said.all == [scene.say("draft.cancelled", key="1.1")]
    line = next(x for x in await scene.services.drafts.board() if x.code == "DB031")
    assert line.versions == 0 and await _pending(scene) is None


async def reply_cancelled(scene: Scene, said: Said) -> None:
    assert said.all == [scene.say("draft.cancelled", key="1.1")]
    assert await _pending(scene) is None


async def reply_asked(scene: Scene, said: Said) -> None:
    assert said.all == [scene.say("draft.ask_reply", key="1.1")]
    assert await _pending(scene) == "draft_reply"


def verdict(status: DraftStatus, key: str) -> Check:
    async def check(scene: Scene, said: Said) -> None:
        line = next(x for x in await scene.services.drafts.board() if x.code == "DB036")
        assert line.status is status
        # by the staff member's name on the list (Telegram's bootstrap admin has none)
        by = "Ngô Đức Thịnh"
        assert said.all == [scene.say(key, by=by, key="1.2", name=line.full_name, number=1)]

    return check


def verdict_asked(final: bool) -> Check:
    """A verdict typed on a channel without buttons: the draft named, asked once more."""

    async def check(scene: Scene, said: Said) -> None:
        line = next(x for x in await scene.services.drafts.board() if x.code == "DB036")
        assert line.status is DraftStatus.SUBMITTED  # nothing decided yet
        key = "draft_office.confirm_final" if final else "draft_office.confirm_revision"
        named = {"key": "1.2", "name": line.full_name, "number": 1}
        assert said.all == [scene.say(key, organization=line.organization, **named)]

    return check


async def verdict_kept(scene: Scene, said: Said) -> None:
    line = next(x for x in await scene.services.drafts.board() if x.code == "DB036")
    assert line.status is DraftStatus.SUBMITTED
    assert said.all == [scene.say("draft_office.kept", key="1.2", name=line.full_name, number=1)]


async def comment_asked(scene: Scene, said: Said) -> None:
    line = next(x for x in await scene.services.drafts.board() if x.code == "DB036")
    named = {"key": "1.2", "name": line.full_name, "number": 1}
    assert said.all[0] == scene.say("draft.ask_comment", **named)
    assert await _pending(scene) is not None


async def comment_dropped(scene: Scene, said: Said) -> None:
    assert said.all[0] == scene.say("draft.cancelled", key="1.2")
    assert await _pending(scene) is None


async def with_office_commenting(scene: Scene) -> None:
    """The office chose «Góp ý» under DB036's version: its comment is awaited."""
    world = scene.world
    office = scene.person if scene.role == OFFICE else await world.link(STAFF)
    await world.handle(office, f"dr:comment:{scene.ids['version']}")


async def task_input_cancelled(scene: Scene, said: Said) -> None:
    assert said.all[0] == scene.say("task.cancelled", key="VI.1.1")
    assert await _pending(scene) is None


async def with_note_asked(scene: Scene) -> None:
    """The contact chose «Đang thực hiện» on her task: her note is awaited."""
    await scene.world.handle(scene.person, f"task:progress:{scene.ids['own_task']}")
    assert await _pending(scene) == "task_note"


async def version_sent(scene: Scene, said: Said) -> None:
    [part] = said.files
    assert isinstance(part, FilePart) and "quận Đống Đa báo cáo" in part.content.decode()
    assert to_text(part.caption_html).startswith("1.2 — Vũ Thị Mỹ Hạnh — ")


async def audience_chosen(scene: Scene, said: Said) -> None:
    assert said.all[0].startswith("Xem trước — đại biểu sẽ nhận được:\n\n📢 Thông báo")
    draft = await _row(scene.services, OutboundMessage, scene.ids["draft"])
    assert (draft.draft_step, draft.audience) == ("confirm", Audience.LINKED)


async def groups_offered(scene: Scene, said: Said) -> None:
    assert said.all == [scene.say("broadcast.choose_group")]


async def queued(scene: Scene, said: Said) -> None:
    draft = await _row(scene.services, OutboundMessage, scene.ids["draft"])
    assert said.all[0].startswith(f"📤 Đã xếp thông báo số {draft.number} vào hàng")
    assert draft.status == MessageStatus.SCHEDULED and draft.due_at is not None


async def time_asked(scene: Scene, said: Said) -> None:
    services = scene.services
    late, examples = typed_time_params(services.config, services.ctx.clock.now())
    assert said.all == [scene.say(f"broadcast.ask_time{late}", zone="Asia/Ho_Chi_Minh", **examples)]
    assert (await _row(scene.services, OutboundMessage, scene.ids["draft"])).draft_step == "time"


async def draft_dropped(scene: Scene, said: Said) -> None:
    draft_id = scene.ids["draft"]
    assert said.all == [scene.say("broadcast.dropped")]
    assert (await _row(scene.services, OutboundMessage, draft_id)).status == "cancelled"


async def typed_taken(scene: Scene, said: Said) -> None:
    """The text typed aside became a new notice, its audience asked; the other dropped."""
    assert said.all == [scene.say("broadcast.ask_audience")]
    assert (await _row(scene.services, OutboundMessage, scene.ids["draft"])).status == "cancelled"
    async with scene.services.ctx.sessions() as session:
        bodies = await session.scalars(
            select(OutboundMessage.body).where(OutboundMessage.draft_step == "audience")
        )
        assert list(bodies) == [TYPED_ASIDE_TEXT]


async def draft_resumed(scene: Scene, said: Said) -> None:
    """The unfinished notice goes on where it was left: its audience asked again."""
    assert said.all == [scene.say("broadcast.ask_audience")]
    draft = await _row(scene.services, OutboundMessage, scene.ids["draft"])
    assert (draft.status, draft.draft_step) == ("draft", "audience")


async def draft_replaced(scene: Scene, said: Said) -> None:
    """A new notice in place of the unfinished one, which is dropped: its text asked."""
    assert said.all == [scene.say("broadcast.ask_text", limit="3.500")]
    assert (await _row(scene.services, OutboundMessage, scene.ids["draft"])).status == "cancelled"
    async with scene.services.ctx.sessions() as session:
        steps = await session.scalars(
            select(OutboundMessage.draft_step).where(OutboundMessage.status == "draft")
        )
        assert list(steps) == ["text"]


async def reissued(scene: Scene, said: Said) -> None:
    """A new link and code for DB001, in the staff member's own chat; the old link stops."""
    [answer] = said.all
    assert answer.startswith("Đã cấp đường liên kết mới cho đồng chí Phạm Thị Thanh Mai (DB001)")
    links = {link.code: link.token for link in await scene.services.invitations.links()}
    assert links["DB001"] != scene.world.tokens["DB001"]


async def scheduled_cancelled(scene: Scene, said: Said) -> None:
    message_id = scene.ids["scheduled"]
    row = await _row(scene.services, OutboundMessage, message_id)
    assert said.all == [scene.say("broadcast.cancelled", number=row.number)]
    assert row.status == "cancelled"


async def resent(scene: Scene, said: Said) -> None:
    message_id = scene.ids["sent"]
    number = (await _row(scene.services, OutboundMessage, message_id)).number
    assert said.all == [scene.say("broadcast.resent", number=number, count=1)]
    assert DeliveryStatus.FAILED not in await _deliveries(scene.services, message_id)
    assert (await _row(scene.services, OutboundMessage, message_id)).status == "queued"


# --- the actions: what each needs first and how it looks when allowed ----------------------------
# What a role sends (the command, or the forged choice's data), whether it is the office's,
# and what refuses it are the Telegram matrix's own (tests/test_permissions.py, ACTIONS).


@dataclass(frozen=True)
class Core:
    """How an action of the matrix is prepared and checked on the core."""

    allowed: Check | None  # None: allowed to nobody in the matrix
    prepare: tuple[Prepare, ...] = ()

    @classmethod
    def of(cls, allowed: Check | None, *prepare: Prepare) -> Core:
        """What "allowed" looks like, and what the action needs first."""
        return cls(allowed, prepare)


CORE: dict[str, Core] = {
    "/thongke": Core.of(counts_shown),
    "/chuatraloi": Core.of(unanswered_shown),
    "un:DB010": Core.of(next_unanswered_shown),
    "/baocao": Core.of(report_sent_privately),
    "/thongbao": Core.of(notice_started),
    "/lichthongbao": Core.of(notices_listed),
    "/nhiemvu": Core.of(task_board_shown),
    "/thamluan": Core.of(draft_board_shown),
    "/phancong DB032 1.1": Core.of(speaker_assigned),
    "/caplai DB001": Core.of(reissue_asked),
    "/golienket DB001": Core.of(account_unlinked, with_other_delegate),
    "ri:<live link>:DB001": Core.of(reissued, with_live_link),
    "/start": Core.of(welcomed),
    "/trangthai": Core.of(card_shown),
    "/lich": Core.of(calendar_sent),
    "/help": Core.of(helped),
    "rsvp:attend": Core.of(attended),
    "rsvp:attend:<another delegate's id>": Core.of(None, with_other_delegate),
    "task:done:<own task>": Core.of(reported(TaskStatus.DONE, "task.recorded")),
    "task:done:<other task>": Core.of(None),
    "task:progress:<own task>": Core.of(reported(TaskStatus.IN_PROGRESS, "task.ask_note")),
    "task:progress:<other task>": Core.of(None),
    "task:help:<own task>": Core.of(reported(TaskStatus.NEED_HELP, "task.ask_help")),
    "task:help:<other task>": Core.of(None),
    "task:file:<own task>": Core.of(file_asked),
    "task:file:<other task>": Core.of(None),
    "task:cancel:<own task>": Core.of(task_input_cancelled, with_note_asked),
    "task:cancel:<other task>": Core.of(None),
    "task:close:<VI.1.1>": Core.of(task_closed),
    "task:getfile:<evidence>": Core.of(evidence_sent, with_evidence),
    "dr:compose:<own draft>": Core.of(composing),
    "dr:compose:<other draft>": Core.of(None),
    "dr:finish:<own draft>": Core.of(finished, with_own_typing),
    "dr:finish:<other draft>": Core.of(None, with_other_typing),
    "dr:cancel:<own draft>": Core.of(typing_cancelled, with_own_typing),
    "dr:cancel:<other draft>": Core.of(None, with_other_typing),
    "dr:noreply:<own draft>": Core.of(reply_cancelled, with_own_reply),
    "dr:noreply:<other draft>": Core.of(None, with_other_reply),
    "dr:reply:<own draft>": Core.of(reply_asked),
    "dr:reply:<other draft>": Core.of(None),
    "dr:pick:<other draft>:<other's file>": Core.of(None, with_other_file),
    "dr:final:<version>": Core.of(verdict_asked(final=True), with_version),
    "dr:revise:<version>": Core.of(verdict_asked(final=False), with_version),
    "dr:getfile:<version>": Core.of(version_sent, with_version),
    "dr:comment:<version>": Core.of(comment_asked, with_version),
    "dr:nocomment:<version>": Core.of(comment_dropped, with_version, with_office_commenting),
    "dr:finalok:<version>": Core.of(
        verdict(DraftStatus.FINAL, "draft_office.verdict_final"), with_version
    ),
    "dr:reviseok:<version>": Core.of(
        verdict(DraftStatus.REVISION, "draft_office.verdict_revision_typed"), with_version
    ),
    "dr:keep:<version>": Core.of(verdict_kept, with_version),
    "bc:aud:<draft>:linked": Core.of(audience_chosen, with_draft_at_audience),
    "bc:groups:<draft>": Core.of(groups_offered, with_draft_at_audience),
    "bc:now:<draft>": Core.of(queued, with_draft_at_preview),
    "bc:later:<draft>": Core.of(time_asked, with_draft_at_preview),
    "bc:cancel": Core.of(draft_dropped, with_draft_at_audience),
    "bc:typed:<draft>": Core.of(typed_taken, with_draft_typed_aside),
    "bc:keep:<draft>": Core.of(draft_resumed, with_draft_at_audience),
    "bc:new:<draft>": Core.of(draft_replaced, with_draft_at_audience),
    "bc:aud:<other admin's draft>:linked": Core.of(None, with_other_admin_draft),
    "bc:now:<other admin's draft>": Core.of(None, with_other_admin_draft),
    "bc:later:<other admin's draft>": Core.of(None, with_other_admin_draft),
    "bc:cancel:<other admin's scheduled>": Core.of(scheduled_cancelled, with_other_admin_scheduled),
    "bc:resend:<other admin's notice>": Core.of(resent, with_other_admin_failed_notice),
}


def refusal_text(scene: Scene, action: str) -> str:
    """The refusal this role gets for this action."""
    spec = ACTIONS[action]
    key = "office.refused" if spec.office and scene.role != OFFICE else spec.refusal
    params: dict[str, object] = {}
    if key == "broadcast.gone":
        params = {"id": "", "limit": 3500, "count": 0}
    return scene.say(key, **params)


def test_every_action_of_the_matrix_is_played_on_the_core_or_said_why_not() -> None:
    assert set(CORE) == set(MATRIX) - set(NOT_HERE)
    assert set(NOT_HERE) <= set(MATRIX) and set(LINKED_STAFF) <= set(CORE)


@pytest.mark.parametrize(
    ("role", "action", "outcome"),
    CASES,
    ids=[f"{role}-{action}-{outcome}" for role, action, outcome in CASES],
)
async def test_who_may_do_what_in_the_core(
    world: World, role: str, action: str, outcome: str
) -> None:
    core = CORE[action]
    scene = await enter(world, role)
    for prepare in core.prepare:
        await prepare(scene)
    data = ACTIONS[action].data.format(**scene.ids)
    if outcome == ALLOWED:
        assert core.allowed is not None
        await core.allowed(scene, Said.of(await world.handle(scene.person, data)))
        return
    await world.inbox.flush()
    before = await snapshot(world.services)
    said = Said.of(await world.handle(scene.person, data))
    await world.inbox.flush()
    if outcome == REFUSED:
        assert said.all == [refusal_text(scene, action)]
        assert said.toast is None or said.toast.alert  # a refusal as a toast is an alert
    else:
        assert outcome == LINK
        assert said.all in [[scene.say(key)] for key in NOT_LINKED]
    assert said.files == []
    assert await snapshot(world.services) == before  # no answer, task, draft, notice moved
