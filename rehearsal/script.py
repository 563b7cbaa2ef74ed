"""The plan played: the simulated people and the office do what the plan asks of them, in
plan time, and the outbox ticks as the scheduler would tick it.

Everyone on the lists opens their personal link (a few never do) and answers the invitation:
most attend, some send a substitute or decline with a reason, some never answer. Task contacts
report on their tasks (one asks for help, one task is left overdue), speakers send their drafts
(as a document or typed) and the office comments on, approves or returns them, the office sends
a notice. Between the steps the clock jumps to the next one; each tick's finished messages are
told in the transcript. Under faults some delegates block the bot, and a kill of the process
restarts the outbox from the database.

What each step must have left in the database is registered as it is played, for the checks
(:mod:`rehearsal.checks`).
"""

from __future__ import annotations

import io
import random
from collections import Counter
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path

from docx import Document
from sqlalchemy import func, select

from bot.app import build_outbox
from bot.delegate_file import Group as FileGroup
from bot.delegate_file import parse_delegate_file
from bot.domain.drafts import DraftStatus
from bot.domain.outbound import (
    DeliveryStatus,
    MessageKind,
    MessageStatus,
    skip_reason,
)
from bot.domain.ports import ChannelSender
from bot.domain.reminders import planned_messages
from bot.domain.rsvp import RsvpStatus
from bot.domain.tasks import TaskStatus, parse_task_action
from bot.domain.tokens import format_link_code
from bot.texts import Catalog
from bot.texts.plain import to_text
from rehearsal.checks import (
    draft_is,
    has_comment,
    has_version,
    rsvp_is,
    task_id_of,
    task_is,
    task_note_is,
)
from rehearsal.faults import Killed, MortalSender, Process
from rehearsal.people import SIMULATED, TRIES, answers, cast_of
from rehearsal.stage import Action, Stage
from rehearsal.telegram import latest_with
from rehearsal.telegram_api import FakeUser
from schedules.planner import sync_planned
from storage.models import Delivery, OutboundMessage

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


async def play(stage: Stage, delegates: Path, contacts: Path | None, rng: random.Random) -> None:
    """Play the plan with the people of ``delegates`` (and ``contacts``), from the invitations
    to the meeting's end; who answers what is rolled from ``rng``."""
    services, catalog = stage.services, stage.catalog
    groups = [FileGroup(g.key, g.label) for g in stage.config.groups]
    max_rows = stage.config.imports.max_rows
    people = parse_delegate_file(delegates, groups, max_rows=max_rows).rows
    if contacts is not None:
        people += parse_delegate_file(contacts, groups, max_rows=max_rows).rows
    await services.delegates.import_rows(people, actor="cli:rehearse")
    await services.tasks.sync()
    await services.drafts.sync()
    await sync_planned(
        services.ctx.sessions,
        stage.clock,
        services.ctx.meeting_id,
        planned_messages(stage.config),
    )
    links = await services.invitations.links()
    stage.tokens = {link.code: link.token for link in links}
    if stage.on_imported is not None:
        await stage.on_imported()
    if stage.zalo is not None:  # the personal code printed beside each invitation's QR
        stage.zalo.codes = {link.code: format_link_code(link.link_code) for link in links}
    names = {row.code: row.full_name for row in people}
    delegates_only = [row.code for row in people if row.role == "delegate"]
    stage.say(
        catalog.plain(
            "rehearsal.start", count=len(delegates_only), contacts=len(people) - len(delegates_only)
        )
    )
    stage.cast = cast_of(stage.config, catalog, people, stage.say)

    events: list[tuple[datetime, Action]] = []
    start = stage.clock.now()
    # Speakers and task contacts always open their link: their parts of the play need them.
    needed = {code for _, code in stage.cast.speakers}
    plan = stage.plan = answers(delegates_only, rng, needed)
    if stage.web is not None:
        stage.web.tokens = stage.tokens
        stage.on_web = _web_players(plan, needed)
    if stage.zalo is not None:
        stage.on_zalo = _zalo_players(stage, plan, needed)
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


async def _catch_up(stage: Stage, *, until: datetime) -> None:
    """Retries fall due seconds to minutes later: let the clock run to them (as the scheduler's
    tick every few seconds would), never past the next event."""
    if stage.faults is None:
        return
    waited: datetime | None = None
    while True:
        now = stage.clock.now()
        # Once a tick left the first one due unsent (it waits behind a retry to the same chat,
        # due a little later), the clock runs on to the next one due after now.
        after = now if waited is not None and waited <= now else None
        async with stage.services.ctx.sessions() as session:
            due = await session.scalar(
                select(func.min(Delivery.next_attempt_at)).where(
                    Delivery.status == DeliveryStatus.PENDING,
                    *([Delivery.next_attempt_at > after] if after is not None else []),
                )
            )
        if due is None or due >= until:
            return
        waited = due
        stage.clock.set(max(due, now))
        await _tick(stage)


def _blocking_events(stage: Stage, plan: dict[str, str]) -> list[tuple[datetime, Action]]:
    """A few delegates who confirmed block the bot two days before the meeting."""
    assert stage.faults is not None
    tg = stage.telegram
    at = stage.config.meeting.starts_at - timedelta(days=2, hours=4)
    # One of them on Zalo, where blocking tells the bot nothing until its next send fails.
    attending = [code for code, answer in plan.items() if answer == "attend"]
    on_zalo = [code for code in attending if code in stage.on_zalo][:1]
    others = [code for code in attending if code not in stage.on_zalo]
    codes = stage.blockers = (others[: stage.faults.blockers - len(on_zalo)] + on_zalo)[
        : stage.faults.blockers
    ]

    async def act() -> None:
        for code in codes:
            user = tg.users.get(code)
            if stage.zalo is not None and code in stage.zalo.users:
                stage.zalo.users[code].block()  # Zalo tells the bot nothing: its next send fails
                stage.zalo.blocked.add(code)
                stage.say(stage.catalog.plain("rehearsal.blocked_zalo", code=code))
            elif user is not None:
                await tg.send(tg.fake.block(user.id))
                stage.say(stage.catalog.plain("rehearsal.blocked", code=code))

    return [(at, act)]


def _web_players(plan: dict[str, str], needed: set[str]) -> set[str]:
    """Who answers on their personal page instead of in the chat: the last delegate (in the
    list's order) of each answer, and none the play needs in the chat (speakers)."""
    chosen: dict[str, str] = {}
    for code, answer in plan.items():
        if answer in _WANTED and code not in needed:
            chosen[answer] = code
    return set(chosen.values())


def _zalo_players(stage: Stage, plan: dict[str, str], needed: set[str]) -> set[str]:
    """Who links and acts on Zalo instead of Telegram: a third of the delegates (every third in
    the list's order, topped up from the end of the list where that one is on the web, a
    speaker who sends Word files or one who never opens the link); the speaker who types a
    draft; and the first task's first contact, who reports on it."""
    free = [
        code
        for code, answer in plan.items()
        if answer != "never" and code not in needed and code not in stage.on_web
    ]
    third = [code for index, code in enumerate(plan) if index % 3 == 2 and code in free]
    rest = [code for code in reversed(free) if code not in third]
    players = set(third + rest[: max(0, len(plan) // 3 - len(third))])
    if (typed := _typed_speaker(stage)) is not None:
        players.add(typed)
    tasks = stage.config.tasks
    if tasks and (contacts := stage.cast.contacts.get(tasks[0].key)):
        players.add(contacts[0])
    return players


def _typed_speaker(stage: Stage) -> str | None:
    """The speaker who types a draft as messages (the last who sends one), when the first is
    another (the first answers the office's comment with a second file)."""
    senders = stage.cast.speakers[:-1]
    return senders[-1][1] if len(senders) > 1 else None


def _office_hours(start: datetime, index: int) -> datetime:
    """When the ``index``-th delegate opens their link: eight a day, 08:00 to 21:00 local."""
    day, slot = divmod(index, 8)
    return start + timedelta(days=day, hours=1 + slot * 1.5)


# What a delegate on the web fills in, for each answer (the same words as in the chat).
_WEB_FORMS = {
    "attend": {"choice": "attend"},
    "decline": {"choice": "decline", "reason": "Trùng lịch công tác đã bố trí trước"},
    "substitute": {
        "choice": "substitute",
        "name": f"Nguyễn Thị Dự Thay ({SIMULATED})",
        "position": "Phó Chủ tịch",
        "unit": "",
    },
}

_WANTED = {
    "attend": RsvpStatus.ATTENDING,
    "substitute": RsvpStatus.SUBSTITUTE,
    "decline": RsvpStatus.DECLINED,
}


def _opener(stage: Stage, code: str, name: str, answer: str) -> Action:
    tg = stage.telegram

    async def act() -> None:
        if code in stage.on_zalo:
            await _zalo_opener(stage, code, name, answer)
            return
        user = tg.user(code, name)
        catalog = stage.catalog
        attend = catalog.plain("buttons.attend")

        def card() -> bool:  # a contact's answer is the task board; a delegate's, the card
            return answer == "contact" or latest_with(user, attend) is not None

        opened = await tg.insist(lambda: user.command(f"/start {stage.tokens[code]}"), until=card)
        if not opened:
            stage.missed(code)
            return
        if answer == "contact":
            stage.say(catalog.plain("rehearsal.contact_opens", code=code, name=name))
            return
        wanted = _WANTED.get(answer)
        # Whatever the bot managed to answer, only this answer (or none) may be stored.
        allowed = (RsvpStatus.NO_ANSWER,) if wanted is None else (wanted, RsvpStatus.NO_ANSWER)
        stage.consistent.append(partial(rsvp_is, stage, code, *allowed))
        answered = True
        if code in stage.on_web and stage.web is not None:
            # Opened in the chat, answered on the page: the chat gets the confirmation.
            answered = await stage.web.submit(code, "rsvp", f"form-{answer}", _WEB_FORMS[answer])
            if answered:
                stage.web.answers.append(code)
        elif answer == "attend":
            answered = bool(await tg.tap(user, attend))
        elif answer == "substitute":
            answered = bool(await tg.tap(user, catalog.plain("buttons.substitute")))
            if answered:
                await tg.ask(user.text(f"Nguyễn Thị Dự Thay ({SIMULATED})"))
                answered = await tg.ask(user.text("Phó Chủ tịch"))
            # From the delegate's own unit (the first button, «Cùng đơn vị: …»), no phone.
            same_unit = _first_button(user) if answered else None
            answered = bool(same_unit and await tg.tap(user, same_unit))
            if answered:
                answered = bool(await tg.tap(user, catalog.plain("buttons.skip_phone")))
        elif answer == "decline":
            answered = bool(await tg.tap(user, catalog.plain("buttons.decline")))
            if answered:
                answered = await tg.ask(user.text("Trùng lịch công tác đã bố trí trước"))
        if wanted is not None and answered:
            stage.acknowledged.append(partial(rsvp_is, stage, code, wanted))
        elif not answered:
            stage.missed(code)
        label = catalog.plain(f"rehearsal.answer.{answer}")
        opens = "rehearsal.opens_web" if code in stage.on_web else "rehearsal.opens"
        stage.say(catalog.plain(opens, code=code, name=name, answer=label))

    return act


def _first_button(user: FakeUser) -> str | None:
    """The first button's label on the newest message of ``user``'s chat that has buttons."""
    for message in reversed(user.messages):
        rows = (message.get("reply_markup") or {}).get("inline_keyboard", [])
        if rows and rows[0]:
            return str(rows[0][0].get("text", ""))
    return None


# The button a Zalo menu numbers, and the words a person may type instead.
_ZALO_WORDS = {
    "attend": ("buttons.attend", "tham du"),
    "substitute": ("buttons.substitute", "Cử người dự thay"),
}


def _linked_words(catalog: Catalog, said: str) -> bool:
    """Whether ``said`` tells the person her account is linked: to her invitation, or (a task
    contact, office staff: no invitation) under her name."""
    if said == catalog.plain("start.linked"):
        return True
    heads = (to_text(catalog.html(key, name="\0")).split("\0")[0] for key in _CONTACT_LINKED)
    return any(said.startswith(head) for head in heads)


_CONTACT_LINKED = ("start.linked_contact", "start.linked_office")


async def _zalo_opener(stage: Stage, code: str, name: str, answer: str) -> None:
    """A person on Zalo types their personal code to link, then answers the invitation by the
    menu's numbers or by keywords, typing a decline's reason or a substitute's name."""
    zalo, catalog = stage.zalo, stage.catalog
    assert zalo is not None
    zalo.user(code, name)
    said = await zalo.type(code, zalo.codes[code])
    if not said or not _linked_words(catalog, said[0]):
        stage.missed(code)
        return
    if answer == "contact":
        stage.say(catalog.plain("rehearsal.contact_opens_zalo", code=code, name=name))
        return
    wanted = _WANTED.get(answer)
    allowed = (RsvpStatus.NO_ANSWER,) if wanted is None else (wanted, RsvpStatus.NO_ANSWER)
    stage.consistent.append(partial(rsvp_is, stage, code, *allowed))
    by_number = len(zalo.users) % 2 == 0  # every other person types the number, else words
    reply: list[str] | None = None
    if answer in ("attend", "substitute"):
        label, words = _ZALO_WORDS[answer]
        if by_number:
            reply = await zalo.choose(code, catalog.plain(label))
        else:
            reply = await zalo.type(code, words)
        if reply and answer == "substitute":
            await zalo.type(code, f"Nguyễn Thị Dự Thay ({SIMULATED})")
            reply = await zalo.type(code, "Phó Chủ tịch")
            if reply:  # from the delegate's own unit (the menu's first choice), no phone
                reply = await zalo.type(code, "1")
            if reply:
                reply = await zalo.choose(code, catalog.plain("buttons.skip_phone"))
    elif answer == "decline":  # by the words, without diacritics, as many type them
        reply = await zalo.type(code, "khong tham du")
        if reply:
            reply = await zalo.type(code, "Trùng lịch công tác đã bố trí trước")
    answered = answer == "silent" or bool(reply)
    if wanted is not None and answered:
        stage.acknowledged.append(partial(rsvp_is, stage, code, wanted))
    elif not answered:
        stage.missed(code)
    label = catalog.plain(f"rehearsal.answer.{answer}")
    stage.say(catalog.plain("rehearsal.opens_zalo", code=code, name=name, answer=label))


def _task_events(stage: Stage) -> list[tuple[datetime, Action]]:
    """Contacts report on their tasks a day after the first reminder; one task stays open so the
    office sees an overdue report; one contact asks for help."""
    config, catalog, tg = stage.config, stage.catalog, stage.telegram
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
            if code in stage.on_zalo:
                await _zalo_task_report(stage, code, key)
                return
            user = tg.users.get(code)
            if user is None:
                return
            label = catalog.plain("buttons.task_help" if action == "help" else "buttons.task_done")
            status = TaskStatus.NEED_HELP if action == "help" else TaskStatus.DONE
            await tg.insist(
                lambda: user.command("/nhiemvu"),
                until=lambda: bool(latest_with(user, label)),
            )
            tapped = await tg.tap(user, label)
            parsed = parse_task_action(tapped)
            if parsed is None:
                stage.missed(code)
                return
            task_id = parsed[1]
            stage.consistent.append(partial(task_is, stage, code, task_id, status, TaskStatus.TODO))
            stage.acknowledged.append(partial(task_is, stage, code, task_id, status))
            if action == "help":
                need = "Cần thêm kinh phí in ấn tài liệu"
                if await tg.ask(user.text(need)):
                    stage.acknowledged.append(partial(task_note_is, stage, code, task_id, need))
                else:
                    stage.missed(code)
            stage.say(catalog.plain(f"rehearsal.task_{action}", code=code, key=key))

        events.append((at, act))
    return events


async def _zalo_task_report(stage: Stage, code: str, key: str) -> None:
    """A task contact on Zalo asks for their tasks and reports one done by its number."""
    zalo, catalog = stage.zalo, stage.catalog
    assert zalo is not None
    if code not in zalo.users:
        return
    await zalo.type(code, "/nhiemvu")
    task_id = await task_id_of(stage, key)
    stage.consistent.append(
        partial(task_is, stage, code, task_id, TaskStatus.DONE, TaskStatus.TODO)
    )
    if await zalo.choose(code, catalog.plain("buttons.task_done")):
        stage.acknowledged.append(partial(task_is, stage, code, task_id, TaskStatus.DONE))
    else:
        stage.missed(code)
    stage.say(catalog.plain("rehearsal.task_done_zalo", code=code, key=key))


async def _zalo_draft(stage: Stage, code: str, key: str) -> bool:
    """A speaker on Zalo types a draft: the menu's choice to compose, two messages, and the
    choice to send it; whether the bot confirmed it."""
    zalo, catalog = stage.zalo, stage.catalog
    assert zalo is not None
    await zalo.type(code, "/thamluan")
    if not await zalo.choose(code, catalog.plain("buttons.draft_compose", key=key)):
        return False
    await zalo.type(code, "Kính thưa các đồng chí, thay mặt địa phương tôi xin báo cáo…")
    await zalo.type(code, "…xin trân trọng cảm ơn.")
    return bool(await zalo.choose(code, catalog.plain("buttons.draft_finish")))


def _draft_events(stage: Stage, names: dict[str, str]) -> list[tuple[datetime, Action]]:
    """Speakers send drafts before the deadline; the office comments on the first, the speaker
    answers and sends a second version, which the office approves; one is asked to revise; the
    last speaker types a draft; one sends nothing (the office's missing list shows it)."""
    config, catalog, tg = stage.config, stage.catalog, stage.telegram
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
            user = tg.users.get(code)
            if code in stage.on_zalo:
                if stage.zalo is None or code not in stage.zalo.users:
                    return
                stored = await _zalo_draft(stage, code, key)
            elif user is None:
                return
            elif index == 2 and index < len(senders) - 1 and stage.web is not None:
                # From the personal page: the same file, the same checks and receipt.
                stored = await _web_upload(stage, code, key, _docx(key, names[code], 1))
            elif index == len(senders) - 1:  # typed as messages
                stored = bool(await tg.tap(user, catalog.plain("buttons.draft_compose", key=key)))
                if stored:
                    await tg.ask(user.text("Kính thưa các đồng chí, thay mặt Hội LHPN địa phương…"))
                    await tg.ask(user.text("…xin trân trọng cảm ơn."))
                    stored = bool(await tg.tap(user, catalog.plain("buttons.draft_finish")))
            else:
                stored = await tg.ask(
                    user.document(f"tham-luan-{key}.docx", _docx(key, names[code], 1), DOCX)
                )
            if stored:
                stage.acknowledged.append(partial(has_version, stage, code, key, 1))
            else:
                stage.missed(code)
            stage.say(catalog.plain("rehearsal.draft_sent", code=code, key=key, number=1))

        events.append((at, upload))

    if not senders:
        return events  # one speaker on the list, who sends nothing: the office's list shows it
    first_key, first_code = senders[0]

    async def comment() -> None:
        post = tg.latest_office_post("📝", contains=names[first_code])
        if post is None:
            return
        text = "Đề nghị đồng chí bổ sung số liệu năm 2023."
        if await tg.ask(tg.office.reply(tg.admin, post, text)):
            stage.acknowledged.append(partial(has_comment, stage, text, from_office=True))
        else:
            stage.missed(office)
        stage.say(catalog.plain("rehearsal.office_comment", code=first_code))

    async def answer() -> None:
        user = tg.users.get(first_code)
        if user is None:
            return
        comment_message = next(
            (m for m in reversed(user.messages) if "Góp ý" in m.get("text", "")), None
        )
        if comment_message is not None:
            text = "Xin cảm ơn, tôi sẽ bổ sung ngay."
            if await tg.ask(user.reply(comment_message, text)):
                stage.acknowledged.append(partial(has_comment, stage, text, from_office=False))
            else:
                stage.missed(first_code)
        second = user.document(
            f"tham-luan-{first_key}.docx", _docx(first_key, names[first_code], 2), DOCX
        )
        if await tg.ask(second):
            stage.acknowledged.append(partial(has_version, stage, first_code, first_key, 2))
        else:
            stage.missed(first_code)
        stage.say(catalog.plain("rehearsal.draft_sent", code=first_code, key=first_key, number=2))

    async def approve() -> None:
        final = catalog.plain("buttons.draft_final", number=2)
        post = tg.latest_office_post("📝", contains=final)
        if post is not None:
            if await tg.insist(lambda: tg.admin.tap(final, message=post)):
                stage.acknowledged.append(
                    partial(draft_is, stage, first_code, first_key, DraftStatus.FINAL)
                )
            else:
                stage.missed(office)
            stage.say(catalog.plain("rehearsal.office_final", code=first_code))
        if len(senders) > 1:
            other_key, other_code = senders[1]
            other = tg.latest_office_post("📝", contains=names[other_code])
            if other is not None:
                revise = catalog.plain("buttons.draft_revise")
                if await tg.insist(lambda: tg.admin.tap(revise, message=other)):
                    stage.acknowledged.append(
                        partial(draft_is, stage, other_code, other_key, DraftStatus.REVISION)
                    )
                else:
                    stage.missed(office)
                stage.say(catalog.plain("rehearsal.office_revise", code=other_code))

    typed = _typed_speaker(stage)
    if typed is not None and typed in stage.on_zalo:

        async def comment_on_zalo(code: str = typed) -> None:
            # The office comments in its Telegram group; the speaker reads it on Zalo.
            post = tg.latest_office_post("📝", contains=names[code])
            if post is None or stage.zalo is None:
                return
            text = "Đề nghị đồng chí nêu thêm kết quả nổi bật của địa phương."
            stage.zalo.comment = text
            if await tg.ask(tg.office.reply(tg.admin, post, text)):
                stage.acknowledged.append(partial(has_comment, stage, text, from_office=True))
            else:
                stage.missed(office)
            stage.say(catalog.plain("rehearsal.office_comment", code=code))

        events.append((base + timedelta(hours=len(senders) + 2), comment_on_zalo))
    events += [
        (base + timedelta(hours=len(senders) + 1), comment),
        (base + timedelta(hours=len(senders) + 3), answer),
        (base + timedelta(days=1), approve),
    ]
    return events


async def _web_upload(stage: Stage, code: str, key: str, content: bytes) -> bool:
    """A speaker sends a draft from their personal page."""
    assert stage.web is not None
    line = next((line for line in await stage.services.drafts.board() if line.code == code), None)
    if line is None or line.theme_key != key:
        return False
    sent = await stage.web.submit(
        code,
        f"draft/{line.id}/file",
        f"draft-{line.id}-upload",
        {},
        files={"file": (f"tham-luan-{key}.docx", content, DOCX)},
    )
    if sent:
        stage.web.drafts.append(code)
    return sent


def _broadcast_events(stage: Stage) -> list[tuple[datetime, Action]]:
    catalog, tg = stage.catalog, stage.telegram
    at = stage.config.meeting.starts_at - timedelta(days=2, hours=-1)

    async def act() -> None:
        admin = tg.admin
        text = "Kính mời các đồng chí đến sớm 15 phút để ổn định tổ chức."
        for _ in range(TRIES):
            # A step whose answer did not arrive leaves the next step's buttons missing: the
            # office starts again (/thongbao drops the unfinished notice).
            if not (
                await tg.insist(lambda: admin.command("/thongbao"))
                and await tg.ask(admin.text(text))
                and await tg.tap(admin, catalog.plain("audience.present"))
            ):
                continue
            # Not started again after this: the notice may be queued already.
            if not await tg.tap(admin, catalog.plain("buttons.bc_now")):
                stage.missed(catalog.plain("rehearsal.office_person"))
            stage.say(catalog.plain("rehearsal.broadcast"))
            return
        stage.missed(catalog.plain("rehearsal.office_person"))

    return [(at, act)]


async def restart(stage: Stage, *, killed: bool) -> None:
    """A new outbox, as a restarted process builds it, over the channels' senders, each
    wrapped to die at its own dice's roll: in-flight deliveries go back to pending."""
    assert stage.faults is not None and stage.chaos is not None
    senders: dict[str, ChannelSender] = {
        sender.channel: MortalSender(
            sender,
            stage.dice[sender.channel],
            stage.faults,
            stage.stats,
            Process(),
            *stage.injected(sender.channel),
        )
        for sender in stage.senders
    }
    stage.outbox = build_outbox(stage.services, stage.catalog, senders, pacer=stage.pacers())
    recovered = await stage.outbox.recover()
    if killed:
        stage.stats.kills += 1
        stage.say(stage.catalog.plain("rehearsal.killed", recovered=recovered))


async def _run_ticks(stage: Stage) -> None:
    """Ticks until one completes without the process dying (a kill restarts the outbox)."""
    for _ in range(100):
        try:
            await stage.outbox.tick()
            await stage.outbox.tick()  # the reports the first tick queued
            return
        except Killed:
            await restart(stage, killed=True)
    raise RuntimeError("the outbox was killed 100 times in a row")


async def _tick(stage: Stage) -> None:
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
            what = stage.catalog.plain(f"kind.{message.kind}", number=message.number)
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


def _docx(key: str, name: str, version: int) -> bytes:
    """A real Word document for a simulated speech draft."""
    document = Document()
    document.add_heading(f"Tham luận chủ đề {key} ({SIMULATED})", level=1)
    document.add_paragraph(f"{name} — bản {version}.")
    document.add_paragraph("Nội dung mô phỏng phục vụ diễn tập, không phải tham luận thật.")
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()
