"""The end of a rehearsal: the office's last look (``/thongke``), the report, and the checks
that decide the exit code.

Every check says what it counted; under faults they also prove that nothing was lost and little
was repeated. The checks read the database and what the simulated people received, never the
bot's own word: what each step of the play must have left in the database is registered by the
play as it goes (:attr:`Stage.acknowledged`, :attr:`Stage.consistent`), with the predicates at
the end of this module.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from bot.domain.drafts import DraftStatus
from bot.domain.outbound import DeliveryStatus, MessageKind
from bot.domain.rsvp import RsvpStatus
from bot.domain.tasks import TaskStatus
from bot.domain.typed import one_line
from bot.services.report_file import office_report_workbook
from bot.texts import Catalog
from rehearsal.people import TRIES
from rehearsal.stage import Rehearsal, Stage
from rehearsal.telegram_api import CHAOS_KINDS, FakeBotApi
from rehearsal.zalo_api import TEXT_LIMIT as ZALO_TEXT_LIMIT
from rehearsal.zalo_api import FakeZaloApi
from schedules.outbox import NOTHING_TO_SEND
from storage.models import (
    AuditEntry,
    ChannelIdentity,
    Delegate,
    Delivery,
    DraftComment,
    DraftVersion,
    OutboundMessage,
    ReplyCount,
    Rsvp,
    SpeechAssignment,
    Task,
    TaskAssignment,
)


async def finish(stage: Stage, report: Path) -> None:
    """The office's last look (``/thongke``), the report written to ``report``, every check."""
    services, catalog, result = stage.services, stage.catalog, stage.result
    admin = stage.telegram.admin
    before = len(admin.messages)
    for _ in range(TRIES):  # the office asks again while the answer does not arrive
        before = len(admin.messages)
        if await stage.telegram.ask(admin.command("/thongke")):
            break
    result.summary = "\n".join(m.get("text", "") for m in admin.messages[before:])
    await _reception(stage)
    data = office_report_workbook(catalog, stage.config, await services.office_report.collect())
    written = _write(report, data)
    await _checks(stage, report, written)


async def _reception(stage: Stage) -> None:
    """The meeting morning at the reception desk: everyone who said they would come (the
    substitutes by the name they gave) and the first who declined but came after all are
    checked in at the office's desk; the count and the summary are kept for the checklist."""
    services = stage.services
    access, checkin = services.access, services.checkin
    desk = access.office_desk(access.local_operator(), DESK)
    async with services.ctx.sessions() as session:
        rows = (
            await session.execute(
                select(Delegate.code, Rsvp.status, Rsvp.substitute_name, Rsvp.substitute_position)
                .join(Rsvp, Rsvp.delegate_id == Delegate.id)
                .where(Delegate.meeting_id == services.ctx.meeting_id)
                .order_by(Delegate.code)
            )
        ).all()
    decliners = [code for code, status, _, _ in rows if status == RsvpStatus.DECLINED]
    for code, status, name, position in rows:
        if status == RsvpStatus.ATTENDING or code in decliners[:1]:
            await checkin.check_in(desk, code)
        elif status == RsvpStatus.SUBSTITUTE:
            await checkin.check_in(
                desk, code, substitute_name=name or "", substitute_position=position
            )
    stage.reception = (await checkin.count(), bool(decliners))


# The label of the rehearsal's one reception desk.
DESK = "Bàn đón tiếp 1"


def _write(path: Path, data: bytes) -> bool:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path.stat().st_size == len(data) > 0


def _not_played(stage: Stage) -> dict[str, str]:
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
    why["checkin"] = "" if answers & {"attend", "substitute"} else "no_present"
    # Contacts are not in the plan of answers: they always open their link.
    on_zalo = [code for code in stage.on_zalo if stage.plan.get(code) != "never"]
    why["zalo"] = "" if on_zalo else "no_zalo"
    return {part: reason for part, reason in why.items() if reason}


async def _checks(stage: Stage, report: Path, written: bool) -> None:
    services, catalog = stage.services, stage.catalog
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
            else catalog.plain(f"kind.{kind.value}", number="")
        )
        check((catalog.plain("rehearsal.check.kind", what=label, count=number), number > 0), kind)
    office_texts = [
        m.get("text") or m.get("caption") or "" for m in stage.telegram.office_messages()
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
    if stage.web is not None:
        check(await _web_check(stage), "web")
    if stage.zalo is not None:
        check(await _zalo_check(stage), "zalo")
    if stage.reception is not None:
        count, came_declined = stage.reception
        check(
            (
                catalog.plain(
                    "rehearsal.check.checkin",
                    arrived=count.arrived,
                    expected=count.expected,
                    substitutes=count.substitutes,
                    declined=count.declined_present,
                ),
                count.arrived == count.expected > 0
                and count.present == count.expected + int(came_declined)
                and count.declined_present == int(came_declined),
            ),
            "checkin",
        )
    check(
        (
            catalog.plain("rehearsal.check.report", path=report),
            written,
        )
    )
    if stage.faults is not None:
        await _fault_checks(stage)


async def _web_check(stage: Stage) -> tuple[str, bool]:
    """The delegates who answered on their personal page, and the draft sent from one: stored
    as the page's own account did it, and confirmed in their chat by the outbox."""
    web = stage.web
    assert web is not None
    async with stage.services.ctx.sessions() as session:
        answered = int(
            await session.scalar(
                select(func.count(func.distinct(AuditEntry.entity_id))).where(
                    AuditEntry.action == "rsvp.changed", AuditEntry.actor.like("web:%")
                )
            )
            or 0
        )
        drafts = int(
            await session.scalar(
                select(func.count())
                .select_from(DraftVersion)
                .where(DraftVersion.created_by.like("web:%"))
            )
            or 0
        )
        echoed = int(
            await session.scalar(
                select(func.count())
                .select_from(Delivery)
                .join(OutboundMessage, OutboundMessage.id == Delivery.message_id)
                .where(
                    OutboundMessage.kind == MessageKind.ECHO,
                    Delivery.status == DeliveryStatus.SENT,
                )
            )
            or 0
        )
    # Every step played on a page is stored and confirmed (the list may give the pages no
    # speaker, or fewer answers: what it gives them is what is checked).
    ok = (
        answered == len(web.answers) == len(stage.on_web)
        and drafts == len(web.drafts)
        and answered + drafts > 0
        and echoed == answered + drafts
    )
    label = stage.catalog.plain("rehearsal.check.web", answers=answered, drafts=drafts,
                                echoed=echoed)  # fmt: skip
    return label, ok


# What the outbox sends every delegate who should have it, whatever their channel.
_FOR_EVERYONE = (
    MessageKind.RSVP_REMINDER,
    MessageKind.TASK_REMINDER,
    MessageKind.DRAFT_REMINDER,
    MessageKind.BROADCAST,
    MessageKind.DAY_BEFORE,
    MessageKind.MORNING_AGENDA,
)


async def _zalo_check(stage: Stage) -> tuple[str, bool]:
    """The people on Zalo: linked by their typed code, answered by numbers and words; every
    reminder, notice and programme the outbox had for them sent on Zalo as it was on Telegram
    (none left unsent but to those who blocked the bot); what the platform accepted within its
    limits (no text over 2,000 characters, no file); what they received from the outbox is
    what the database records as sent, none lost, none repeated (but within the kills' bound
    under faults); the replies the bot counted against its monthly allowance are those the
    platform accepted; and a draft's comment from the office reached its speaker on Zalo."""
    zalo, catalog = stage.zalo, stage.catalog
    assert zalo is not None
    by_code = {user.id: code for code, user in zalo.users.items()}
    async with stage.services.ctx.sessions() as session:
        linked = {
            code: delegate_id
            for code, delegate_id in await session.execute(
                select(Delegate.code, Delegate.id)
                .join(ChannelIdentity, ChannelIdentity.delegate_id == Delegate.id)
                .where(ChannelIdentity.channel == zalo.sender.channel)
            )
        }
        answered = int(
            await session.scalar(
                select(func.count())
                .select_from(Rsvp)
                .where(Rsvp.delegate_id.in_(linked.values()), Rsvp.status != RsvpStatus.NO_ANSWER)
            )
            or 0
        )
        rows = (
            await session.execute(
                select(
                    Delivery.chat_address,
                    Delivery.status,
                    Delivery.maybe_sent_at,
                    Delivery.last_error,
                )
                .join(OutboundMessage, OutboundMessage.id == Delivery.message_id)
                .where(Delivery.channel == zalo.sender.channel)
                .where(OutboundMessage.kind.in_([kind.value for kind in _FOR_EVERYONE]))
            )
        ).all()
        recorded: Counter[str] = Counter()
        for address, parts in await session.execute(
            select(Delivery.chat_address, Delivery.parts_sent).where(
                Delivery.channel == zalo.sender.channel
            )
        ):
            recorded[str(address)] += int(parts or 0)
    blocked = {zalo.users[code].id for code in zalo.blocked}
    sent = sum(1 for _, status, _, _ in rows if status == DeliveryStatus.SENT)
    unsent = sum(
        1
        for address, status, maybe_sent_at, error in rows
        if status != DeliveryStatus.SENT
        and not (status == DeliveryStatus.BLOCKED and address in blocked)
        and not (status == DeliveryStatus.SKIPPED and error == NOTHING_TO_SEND)
        # Two sends with no answer: it may have arrived (the settled check wants her reported).
        and not (status == DeliveryStatus.FAILED and maybe_sent_at is not None)
    )
    received: Counter[str] = Counter()
    for code, user in zalo.users.items():
        received[user.id] = len(user.texts) - zalo.replies[code]
    lost = sum(max(0, recorded[a] - received[a]) for a in by_code)
    repeated = sum(max(0, received[a] - recorded[a]) for a in by_code)
    accepted = zalo.fake.sent()
    longest = max(
        (len(c.params.get("text") or c.params.get("caption") or "") for c in accepted), default=0
    )
    # Anything but a text: a photo or a sticker (a file upload is a violation, refused).
    files = sum(1 for call in accepted if call.method != "sendMessage")
    comment = zalo.comment is None or any(
        zalo.comment in text for user in zalo.users.values() for text in user.texts
    )
    # The bot's monthly figures count its replies as Zalo accepted them: every text the people
    # received in answer to their own messages, once each (a refused one retried too), in the
    # month it went (the plan's weeks run over two months: all of them summed).
    await stage.services.quotas.flush()
    async with stage.services.ctx.sessions() as session:
        counted = int(
            await session.scalar(
                select(func.coalesce(func.sum(ReplyCount.messages), 0)).where(
                    ReplyCount.channel == zalo.sender.channel
                )
            )
            or 0
        )
    replied = sum(zalo.replies.values())
    bound = stage.stats.kills * stage.outbox.batch_size * len(stage.senders)
    ok = (
        len(linked) > 0
        and counted == replied
        and unsent == 0
        and longest <= ZALO_TEXT_LIMIT
        and files == 0
        and not zalo.fake.violations
        and lost == 0
        and repeated <= (bound if stage.faults is not None else 0)
        and comment
        and zalo.answered_copies == 0
        and zalo.adapter.gave_up == 0
        and not zalo.adapter.missed
    )
    label = catalog.plain(
        "rehearsal.check.zalo",
        linked=len(linked),
        answered=answered,
        sent=sent,
        unsent=unsent,
        longest=longest,
        files=files,
        lost=lost,
        repeated=repeated,
    )
    label += catalog.plain("rehearsal.check.zalo_quota", counted=counted, accepted=replied)
    if zalo.comment is not None:
        label += catalog.plain(
            "rehearsal.check.zalo_comment",
            reached=catalog.plain("rehearsal.yes" if comment else "rehearsal.no"),
        )
    if zalo.bad_day is not None:
        label += catalog.plain(
            "rehearsal.check.zalo_faults",
            outbox=stage.stats.zalo_faults.total(),
            kinds=_kinds(stage.stats.zalo_faults),
            copies=zalo.copies,
            answered=zalo.answered_copies,
            blocked=len(blocked),
        )
        label += catalog.plain(
            "rehearsal.check.zalo_reply_faults",
            refused=zalo.bad_day.replies_injected.total() - zalo.bad_day.replies_unhit,
            retried=zalo.adapter.retried,
            lost=zalo.adapter.gave_up,
        )
    return label, ok


def _kinds(counts: Counter[str]) -> str:
    return ", ".join(f"{kind} {counts[kind]}" for kind in CHAOS_KINDS)


async def _fault_checks(stage: Stage) -> None:
    """Under faults: every delivery settled, none failed (but for a Zalo send that got no answer
    twice: it may have arrived, and the office's report must name her), repeats within the
    in-flight bound, every acknowledged answer stored and nothing stored that nobody did, every
    blocked delegate reported to the office.

    The bound on repeats: a kill can only repeat what was in flight when the process died, at
    most one batch (``batch_size`` parts; one here): a part Telegram accepted just before the
    kill, not yet written down, goes again after the restart. The chaos's timeouts fire before
    the call reaches the chat, so they repeat nothing (a real timeout may: that too is one part
    in flight), and the handlers' replies are no deliveries. A restart may follow the death of
    each channel's sending in one round (rehearsal.faults). So repeats ≤ kills × batch_size × the
    channels.
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
        # Failed after a second send with no answer (either channel): it may have arrived, and
        # the office is told so; the others' failures are failures for good.
        maybe = (
            await session.execute(
                select(Delegate.code, Delegate.full_name)
                .join(Delivery, Delivery.delegate_id == Delegate.id)
                .where(
                    Delivery.status == DeliveryStatus.FAILED, Delivery.maybe_sent_at.is_not(None)
                )
            )
        ).all()
    unsettled = statuses[DeliveryStatus.PENDING] + statuses[DeliveryStatus.SENDING]
    duplicates = stats.delivered_parts - recorded
    # Each channel has its own places in hand: a restart can follow one batch of each on the wire.
    bound = stats.kills * stage.outbox.batch_size * len(stage.senders)
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
    retried, gave_up = stage.telegram.retries()
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
    office = "\n".join(m.get("text", "") for m in stage.telegram.office_messages())
    failed = statuses[DeliveryStatus.FAILED] - len(maybe)
    # Named in a report as one who may have received it: her line up to the time it went.
    # (Or, where parts after that send never went, as one whose message is incomplete.)
    maybe_untold = [
        code
        for code, name in maybe
        if catalog.plain(
            "report.person_maybe_sent", code=code, name=name, time="\0", error=""
        ).split("\0")[0]
        not in office
        and catalog.plain(
            "report.person_maybe_partial",
            code=code,
            name=name,
            sent="\0",
            total="",
            part="",
            time="",
            error="",
        ).split("\0")[0]
        not in office
    ]
    check(
        (
            catalog.plain(
                "rehearsal.check.settled",
                unsettled=unsettled,
                failed=failed,
                maybe=len(maybe),
                untold=len(maybe_untold),
            ),
            unsettled == 0 and failed == 0 and not maybe_untold,
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
    blockers = stage.blockers
    unreported = [code for code in blockers if f"{code} —" not in office]
    check(
        (
            catalog.plain(
                "rehearsal.check.blocked", count=len(blockers), unreported=len(unreported)
            ),
            not unreported,
        )
    )


def spec_check(
    result: Rehearsal, catalog: Catalog, fake: FakeBotApi, zalo: FakeZaloApi | None = None
) -> None:
    """The last check: every call the bot made to the simulated Bot API (and to the simulated
    Zalo Bot API), from its start to its shutdown, was one the official method list allows."""
    violations = list(fake.violations)
    result.checks.append(
        (catalog.plain("rehearsal.check.api", count=len(violations)), not violations)
    )
    if zalo is not None:
        result.checks.append(
            (
                catalog.plain("rehearsal.check.zalo_api", count=len(zalo.violations)),
                not zalo.violations,
            )
        )


# --- what the database shows ---------------------------------------------------------------------


async def _scalar(stage: Stage, statement: Any) -> Any:
    async with stage.services.ctx.sessions() as session:
        return await session.scalar(statement)


async def rsvp_is(stage: Stage, code: str, *statuses: RsvpStatus) -> bool:
    """The delegate's stored answer is one of ``statuses``."""
    stored = await _scalar(
        stage,
        select(Rsvp.status)
        .join(Delegate, Delegate.id == Rsvp.delegate_id)
        .where(Delegate.code == code),
    )
    return stored in statuses


async def task_id_of(stage: Stage, key: str) -> int:
    """The id of the plan's task ``key``."""
    found = await _scalar(
        stage,
        select(Task.id).where(Task.meeting_id == stage.services.ctx.meeting_id, Task.key == key),
    )
    assert found is not None
    return int(found)


async def task_is(stage: Stage, code: str, task_id: int, *statuses: TaskStatus) -> bool:
    """The person's report on the task is one of ``statuses``."""
    return await _scalar(stage, _assignment_of(TaskAssignment.status, code, task_id)) in statuses


async def task_note_is(stage: Stage, code: str, task_id: int, note: str) -> bool:
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


async def has_version(stage: Stage, code: str, key: str, number: int) -> bool:
    """The speaker's draft on theme ``key`` has a version ``number`` (or a later one)."""
    latest = await _scalar(
        stage,
        _speech_of(func.max(DraftVersion.number), code, key).join(
            DraftVersion, DraftVersion.assignment_id == SpeechAssignment.id
        ),
    )
    return latest is not None and int(latest) >= number


async def draft_is(stage: Stage, code: str, key: str, status: DraftStatus) -> bool:
    """The speaker's draft on theme ``key`` stands at ``status``."""
    return bool(await _scalar(stage, _speech_of(SpeechAssignment.status, code, key)) == status)


async def has_comment(stage: Stage, body: str, *, from_office: bool) -> bool:
    """A comment with ``body`` is in a draft's thread, from the office or from the speaker."""
    count = await _scalar(
        stage,
        select(func.count())
        .select_from(DraftComment)
        .where(DraftComment.body == body, DraftComment.from_office == from_office),
    )
    return bool(count)
