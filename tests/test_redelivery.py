"""Telegram may deliver an update twice (a webhook retried, a poll repeated after a restart),
right away or after later updates of the same chat: every copy has exactly the effect of none.

The bot remembers the updates it handled (handlers/telegram/dedupe.py) and skips a copy; the
services are idempotent on their own as well, for a copy that comes after a crash between an
update's effect and the record of its id (the "record lost" runs below)."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import delete, event, func, select

from bot.domain.channels import ChatAccount
from bot.domain.drafts import DraftStatus
from bot.domain.rsvp import RsvpStatus
from bot.domain.tasks import TaskAction, TaskStatus, task_action
from bot.services.handled_events import HandledEvents
from bot.services.rsvp import RsvpChoice, RsvpStep
from handlers.telegram.app import Webhook, serve
from handlers.telegram.dedupe import handled_updates
from handlers.telegram.events import CHANNEL
from storage.models import (
    AuditEntry,
    ChannelIdentity,
    Delegate,
    DraftComment,
    DraftVersion,
    HandledEvent,
    OutboundMessage,
    Rsvp,
    TaskAssignment,
)
from tests.fakes.telegram_api import FakeUser
from tests.harness import OFFICE_CHAT, BotHarness, name_substitute
from tests.plan_support import rsvp_of
from tests.tasks_support import audit_count, task_id, with_contacts
from tests.test_drafts import DOCX, docx, office_posts, press
from tests.test_drafts import speaker as assigned_speaker
from tests.test_drafts import status_of as draft_status_of
from tests.test_telegram_flows import buttons
from tests.test_webhook import SECRET, free_port

Twice = Callable[[BotHarness, dict[str, Any]], Awaitable[None]]


async def forget_handled(harness: BotHarness, update: dict[str, Any]) -> None:
    """Lose the record of ``update``, as a crash right after its effect and a restart would."""
    async with harness.services.ctx.sessions() as session, session.begin():
        await session.execute(
            delete(HandledEvent).where(HandledEvent.event_id == str(update["update_id"]))
        )
    handled_updates(harness.app.bot_data).reload()


@pytest.fixture(params=[False, True], ids=["recorded", "record-lost"])
def twice(harness: BotHarness, request: pytest.FixtureRequest) -> Twice:
    """Deliver an update, then the very same update again (its record lost, or not)."""

    async def deliver_twice(harness: BotHarness, update: dict[str, Any]) -> None:
        await harness.send(update)
        if request.param:
            await forget_handled(harness, update)
        await harness.send(update)

    return deliver_twice


async def test_every_update_delivered_twice_has_the_effect_of_one(
    harness: BotHarness, twice: Twice
) -> None:
    await with_contacts(harness)
    attend = await harness.open_invitation("DB001")
    decline = await harness.open_invitation("DB002")
    sub = await harness.open_invitation("DB003")
    speaker = await harness.open_invitation("DB031")
    owner = await harness.open_invitation("NV03")
    admin = harness.admin()
    office = harness.fake.group(OFFICE_CHAT, "Văn phòng")

    await twice(harness, attend.tap("✅ Tham dự"))
    await twice(harness, decline.tap("❌ Không tham dự"))
    await twice(harness, decline.text("Trùng lịch công tác"))
    await name_substitute(
        harness, sub, "Lê Thị Hoa", "Phó Trưởng ban", own_unit="Thành ủy Hà Nội",
        phone="0912 345 678", deliver=lambda update: twice(harness, update),
    )  # fmt: skip
    await twice(harness, owner.tap_data(f"task:progress:{await task_id(harness, 'VI.1.1')}"))
    await twice(harness, owner.text("Đã xong phần khảo sát"))
    await twice(harness, speaker.document("bai.docx", docx("v1"), DOCX))
    await harness.tick()
    post = next(
        m for m in harness.fake.messages_to(OFFICE_CHAT) if m.get("caption", "").startswith("📝")
    )
    await twice(harness, office.reply(admin, post, "Đề nghị bổ sung số liệu."))
    await twice(harness, admin.tap("✅ Chốt bản 1", message=post))
    await harness.tick()

    async with harness.services.ctx.sessions() as session:
        answers = dict((await session.execute(select(Rsvp.delegate_id, Rsvp.status))).all())
        actions = Counter(await session.scalars(select(AuditEntry.action)))
        versions = await session.scalar(select(func.count()).select_from(DraftVersion))
        comments = await session.scalar(select(func.count()).select_from(DraftComment))
        verdicts = await session.scalar(
            select(func.count()).where(OutboundMessage.kind == "draft_verdict")
        )
    assert Counter(answers.values())[RsvpStatus.ATTENDING] == 1
    assert Counter(answers.values())[RsvpStatus.DECLINED] == 1
    assert Counter(answers.values())[RsvpStatus.SUBSTITUTE] == 1
    # attend; decline, then its reason; the substitute once complete
    assert actions["rsvp.changed"] == 4
    # in progress, then the note
    assert actions["task.status"] == 2
    assert (versions, comments, verdicts) == (1, 1, 1)
    assert (actions["draft.version"], actions["draft.comment"], actions["draft.verdict"]) == (
        1,
        1,
        1,
    )
    # Nothing failed on the way (a second insert refused by a unique key would be a crash), and
    # the office heard each confirmation once.
    office_said = [m.get("text", "") for m in harness.fake.messages_to(OFFICE_CHAT)]
    assert not any(text.startswith("⚠️ Bot gặp lỗi") for text in office_said)
    assert sum(text.startswith("Đã chuyển góp ý tới") for text in office_said) == 1
    assert (
        sum(
            text.startswith("✅ Văn phòng đã chốt") or "đã chốt tham luận" in text
            for text in office_said
        )
        == 1
    )
    # The speaker heard the comment and the verdict once each.
    said = [m.get("text", "") for m in speaker.messages]
    assert sum("Góp ý của Văn phòng" in text for text in said) == 1
    assert sum(text.startswith("✅ Văn phòng đã chốt") for text in said) == 1


# --- late copies ---------------------------------------------------------------------------------
# Telegram may also deliver an update again after later updates of the same chat (a webhook
# retry of a request that timed out while the next one went through; getUpdates repeated after a
# restart). The copy keeps its update_id, and that is all that tells it from a person tapping an
# old button again: the state must stay what the later updates made it, and the person hears
# nothing more.


async def pending_of(harness: BotHarness, user: FakeUser) -> str | None:
    """What the bot is waiting for ``user`` to type, if anything."""
    async with harness.services.ctx.sessions() as session:
        return await session.scalar(
            select(ChannelIdentity.pending_input).where(ChannelIdentity.external_id == str(user.id))
        )


async def test_a_late_copy_of_the_attend_tap_does_not_undo_a_later_decline(
    harness: BotHarness,
) -> None:
    user = await harness.open_invitation("DB002")
    attend = press(user, "✅ Tham dự")
    await harness.send(attend)
    await harness.send(press(user, "❌ Không tham dự"))
    await harness.send(user.text("Trùng lịch công tác"))
    said = user.messages

    await harness.send(attend)  # the first tap, delivered again after the later answer

    rsvp = await rsvp_of(harness.services, "DB002")
    assert (rsvp.status, rsvp.reason) == (RsvpStatus.DECLINED, "Trùng lịch công tác")
    assert await audit_count(harness, "rsvp.changed") == 3  # attend, decline, its reason
    assert user.messages == said  # no new message, no edited card


async def test_a_late_copy_of_the_substitute_tap_does_not_ask_for_the_name_again(
    harness: BotHarness,
) -> None:
    user = await harness.open_invitation("DB003")
    substitute = press(user, "👤 Cử người dự thay")
    await harness.send(substitute)
    await harness.send(user.text("Lê Thị Hoa"))
    await harness.send(user.text("Phó Trưởng ban"))
    await harness.send(user.tap("Cùng đơn vị: Thành ủy Hà Nội"))
    await harness.send(user.tap("Bỏ qua"))
    said = user.messages

    await harness.send(substitute)

    assert user.messages == said
    assert await pending_of(harness, user) is None
    await harness.send(user.text("Xin cảm ơn"))  # so this is not taken as a substitute's name
    rsvp = await rsvp_of(harness.services, "DB003")
    assert (rsvp.status, rsvp.substitute_name, rsvp.substitute_position) == (
        RsvpStatus.SUBSTITUTE,
        "Lê Thị Hoa",
        "Phó Trưởng ban",
    )
    assert await audit_count(harness, "rsvp.changed") == 1


async def test_a_late_copy_of_a_typed_reason_is_not_taken_as_the_next_answer(
    harness: BotHarness,
) -> None:
    """Typed text was already safe (message ids only grow within a chat); it stays so."""
    user = await harness.open_invitation("DB004")
    await harness.send(press(user, "❌ Không tham dự"))
    reason = user.text("Trùng lịch công tác")
    await harness.send(reason)
    await harness.send(press(user, "👤 Cử người dự thay"))
    said = user.messages

    await harness.send(reason)  # arrives while the bot waits for a substitute's name

    assert user.messages == said
    assert await pending_of(harness, user) == "substitute_name"
    rsvp = await rsvp_of(harness.services, "DB004")
    assert (rsvp.status, rsvp.reason, rsvp.substitute_name) == (
        RsvpStatus.DECLINED,
        "Trùng lịch công tác",
        None,
    )


async def test_a_late_copy_of_a_task_button_does_not_undo_a_later_report(
    harness: BotHarness,
) -> None:
    await with_contacts(harness)
    owner = await harness.open_invitation("NV03")
    task = await task_id(harness, "VI.1.1")
    progress = owner.tap_data(task_action(TaskAction.PROGRESS, task))
    await harness.send(progress)
    await harness.send(owner.text("Đã xong phần khảo sát"))
    await harness.send(owner.tap_data(task_action(TaskAction.DONE, task)))
    said = owner.messages

    await harness.send(progress)

    async with harness.services.ctx.sessions() as session:
        [(status, note)] = (
            await session.execute(
                select(TaskAssignment.status, TaskAssignment.note).where(
                    TaskAssignment.task_id == task
                )
            )
        ).all()
    assert (status, note) == (TaskStatus.DONE, None)
    assert await audit_count(harness, "task.status") == 3  # in progress, its note, done
    assert await pending_of(harness, owner) is None
    assert owner.messages == said


async def test_a_late_copy_of_a_verdict_button_does_not_undo_a_later_verdict(
    harness: BotHarness,
) -> None:
    user = await assigned_speaker(harness)
    await harness.send(user.document("bai.docx", docx("v1"), DOCX))
    await harness.tick()
    [post] = office_posts(harness)
    admin = harness.admin()
    revise = admin.tap("✏️ Cần chỉnh sửa", message=post)
    await harness.send(revise)
    await harness.send(admin.tap("✅ Chốt bản 1", message=post))
    await harness.tick()
    speaker_heard, office_saw = user.messages, office_posts(harness)

    await harness.send(revise)
    await harness.tick()

    assert await draft_status_of(harness, "DB031") is DraftStatus.FINAL
    async with harness.services.ctx.sessions() as session:
        verdicts = list(
            await session.scalars(
                select(AuditEntry.after)
                .where(AuditEntry.action == "draft.verdict")
                .order_by(AuditEntry.id)  # in the order given: no table keeps its rows in order
            )
        )
        queued = await session.scalar(
            select(func.count()).where(OutboundMessage.kind == "draft_verdict")
        )
    assert verdicts == [{"status": "revision", "version": 1}, {"status": "final", "version": 1}]
    assert queued == 2
    assert (user.messages, office_posts(harness)) == (speaker_heard, office_saw)


async def test_a_new_tap_on_an_old_button_is_a_change_of_mind_and_counts(
    harness: BotHarness,
) -> None:
    """What only the update_id tells apart from a late copy: the same button tapped again."""
    user = await harness.open_invitation("DB002")
    card = next(m for m in user.messages if "✅ Tham dự" in buttons(m))
    await harness.send(user.tap("✅ Tham dự", message=card))
    await harness.send(press(user, "❌ Không tham dự"))
    await harness.send(user.text("Trùng lịch công tác"))

    await harness.send(user.tap("✅ Tham dự", message=card))  # a new update, the same button

    rsvp = await rsvp_of(harness.services, "DB002")
    assert (rsvp.status, rsvp.reason) == (RsvpStatus.ATTENDING, None)
    assert await audit_count(harness, "rsvp.changed") == 4


# --- what is remembered, and for how long ---------------------------------------------------------


async def handled_ids(harness: BotHarness) -> list[int]:
    """The update ids stored as handled, oldest first (once the records made are stored)."""
    await handled_updates(harness.app.bot_data).flush()
    async with harness.services.ctx.sessions() as session:
        return sorted(
            int(event_id) for event_id in await session.scalars(select(HandledEvent.event_id))
        )


async def test_an_update_whose_handler_failed_is_not_recorded_and_its_copy_does_it(
    harness: BotHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = await harness.open_invitation("DB001")
    rsvp = harness.services.rsvp
    choose = rsvp.choose
    failures = [RuntimeError("the database went away")]

    async def choose_failing_once(*args: Any, **kwargs: Any) -> Any:
        if failures:
            raise failures.pop()
        return await choose(*args, **kwargs)

    monkeypatch.setattr(rsvp, "choose", choose_failing_once)
    attend = press(user, "✅ Tham dự")
    await harness.send(attend)
    assert user.last_text().startswith("Xin lỗi")  # the error handler still answered
    assert (await rsvp_of(harness.services, "DB001")).status == RsvpStatus.NO_ANSWER
    assert attend["update_id"] not in await handled_ids(harness)

    await harness.send(attend)  # Telegram's retry: this time it works

    assert (await rsvp_of(harness.services, "DB001")).status == RsvpStatus.ATTENDING
    assert attend["update_id"] in await handled_ids(harness)


async def test_every_handled_update_is_recorded_once_even_one_no_handler_took(
    harness: BotHarness,
) -> None:
    user = await harness.open_invitation("DB001")
    hello = user.text("Xin chào")
    await harness.send(hello)
    updates = [
        press(user, "✅ Tham dự"),
        user.edited(hello["message"], "Xin chào!"),  # edits are ignored: no handler takes it
        user.command("/trangthai"),
    ]
    for update in updates:
        await harness.send(update)
        await harness.send(update)
    ids = await handled_ids(harness)
    assert ids == [ids[0], hello["update_id"], *(update["update_id"] for update in updates)]
    assert len(set(ids)) == 5


async def test_handled_updates_are_forgotten_after_two_days(harness: BotHarness) -> None:
    user = await harness.open_invitation("DB001")  # recorded now
    [start] = await handled_ids(harness)
    harness.clock.advance(timedelta(hours=47))
    late = user.command("/trangthai")
    await harness.send(late)
    assert await handled_ids(harness) == [start, late["update_id"]]
    harness.clock.advance(timedelta(hours=2))  # the /start is 49 hours old now
    await harness.send(user.command("/trangthai"))
    assert await handled_ids(harness) == [late["update_id"], late["update_id"] + 1]
    handled = handled_updates(harness.app.bot_data)
    assert not await handled.seen(str(harness.app.bot.id), str(start))  # forgotten in memory too
    assert await handled.seen(str(harness.app.bot.id), str(late["update_id"]))


async def test_the_same_update_id_from_another_bot_is_another_update(
    harness: BotHarness,
) -> None:
    handled = HandledEvents(harness.services.ctx, channel=CHANNEL)
    await handled.record(str(111), str(42))
    await handled.record(str(111), str(42))  # a second record of one id is no error
    await handled.flush()
    for memory in ("kept", "read again from the table"):
        assert await handled.seen(str(111), str(42)), memory
        assert not await handled.seen(str(222), str(42)), memory
        assert not await handled.seen(str(111), str(43)), memory
        handled.reload()
    async with harness.services.ctx.sessions() as session:
        rows = (await session.execute(select(HandledEvent.bot_id, HandledEvent.event_id))).all()
    assert sorted(rows) == [("111", "42")]


async def test_an_update_handled_by_another_process_is_recognised_when_the_database_is_shared(
    harness: BotHarness,
) -> None:
    first = HandledEvents(harness.services.ctx, channel=CHANNEL)  # one `hoinghi run`
    second = HandledEvents(harness.services.ctx, channel=CHANNEL)  # another, already running
    first.shared = second.shared = True  # as on PostgreSQL
    assert not await second.seen(str(111), str(42))  # its memory is loaded, without 42
    await first.record(str(111), str(42))
    await first.flush()
    assert await second.seen(str(111), str(42))  # the copy reached the other process
    assert not await second.seen(str(111), str(43))
    alone = HandledEvents(harness.services.ctx, channel=CHANNEL)
    assert not await alone.seen(str(111), str(44))
    await first.record(str(111), str(44))
    await first.flush()
    alone.shared = False  # SQLite: one process, its memory is the whole truth
    assert not await alone.seen(str(111), str(44))
    postgresql = harness.services.ctx.sessions.kw["bind"].dialect.name == "postgresql"
    assert HandledEvents(harness.services.ctx, channel=CHANNEL).shared is postgresql


@contextmanager
def counting_commits(harness: BotHarness) -> Iterator[Counter[str]]:
    """Counts the database's commits (``["commit"]``) while the block runs."""
    commits: Counter[str] = Counter()

    def count(*_: Any) -> None:
        commits["commit"] += 1

    engine = harness.services.ctx.sessions.kw["bind"]
    event.listen(engine.sync_engine, "commit", count)
    try:
        yield commits
    finally:
        event.remove(engine.sync_engine, "commit", count)


async def test_records_of_updates_finishing_together_share_one_transaction(
    harness: BotHarness,
) -> None:
    handled = HandledEvents(harness.services.ctx, channel=CHANNEL)
    await handled.seen(str(111), str(1))  # the table is read once, before the rush
    with counting_commits(harness) as commits:
        await asyncio.gather(
            *(handled.record(str(111), str(update_id)) for update_id in range(1, 51))
        )
        await handled.flush()
    assert commits["commit"] == 1  # fifty records, one transaction
    handled.reload()
    assert [await handled.seen(str(111), str(update_id)) for update_id in (1, 50, 51)] == [
        True,
        True,
        False,
    ]


async def test_a_record_and_a_tap_submitted_together_share_one_commit(
    harness: BotHarness,
) -> None:
    user = await harness.open_invitation("DB001")
    account = ChatAccount("telegram", str(user.id), str(user.id))
    await handled_updates(harness.app.bot_data).flush()  # the /start update's own record
    handled = HandledEvents(harness.services.ctx, channel=CHANNEL)
    await handled.seen(str(111), str(1))
    with counting_commits(harness) as commits:
        await handled.record(str(111), str(7))  # not waited for: it rides in the next transaction
        result = await harness.services.rsvp.choose(account, RsvpChoice.ATTEND)
        await handled.flush()
    assert commits["commit"] == 1 and result.step is RsvpStep.RECORDED
    handled.reload()
    assert await handled.seen(str(111), str(7))


async def test_the_privacy_purge_empties_the_handled_updates(harness: BotHarness) -> None:
    await harness.open_invitation("DB001")
    assert await handled_ids(harness) != []
    await harness.services.privacy.purge(drafts=False, force=True)
    assert await handled_ids(harness) == []


async def test_a_webhook_retry_after_later_updates_changes_nothing(harness: BotHarness) -> None:
    """The copy comes through the bot's own webhook server and update queue, as in production."""
    user = await harness.open_invitation("DB002")
    attend = press(user, "✅ Tham dự")
    port = free_port()
    hook = Webhook("127.0.0.1", port, "https://hoinghi.example.vn/tg/hook", SECRET)
    stop = asyncio.Event()
    await harness.app.shutdown()  # serve() initialises the application itself
    running = asyncio.create_task(serve(harness.app, stop, webhook=hook))
    try:
        # The server listens before the webhook is set.
        await harness.fake.wait_until(lambda: bool(harness.fake.calls_to("setWebhook")))
        async with httpx.AsyncClient() as client:

            async def post(update: dict[str, Any]) -> None:
                response = await client.post(
                    f"http://127.0.0.1:{port}/tg/hook",
                    json=update,
                    headers={"X-Telegram-Bot-Api-Secret-Token": SECRET},
                )
                assert response.status_code == 200

            await post(attend)
            await post(attend)  # retried at once
            await post(press(user, "❌ Không tham dự"))
            await post(user.text("Trùng lịch công tác"))
            await harness.fake.wait_until(lambda: "(lý do: Trùng lịch" in user.last_text())
            said = len(user.messages)
            await post(attend)  # retried after the later updates
            # One chat's updates are handled in turn: once /trangthai is answered, the copy
            # before it has been dealt with.
            await post(user.command("/trangthai"))
            await harness.fake.wait_until(lambda: len(user.messages) > said)
    finally:
        stop.set()
        await running
        await harness.app.initialize()  # the fixture shuts it down again
    rsvp = await rsvp_of(harness.services, "DB002")
    assert (rsvp.status, rsvp.reason) == (RsvpStatus.DECLINED, "Trùng lịch công tác")
    assert await audit_count(harness, "rsvp.changed") == 3
    assert user.last_text().startswith("Kính gửi đồng chí")  # the card, and nothing before it
    assert len(user.messages) == said + 1


# --- found by the plan delivered twice ----------------------------------------------------------


async def test_a_repeated_attend_tap_while_typing_a_draft_lets_the_typing_go_on(
    harness: BotHarness,
) -> None:
    """A tap that changes nothing must not end another flow's question: here the typing of a
    draft (found when a copy came days late, as a person's own second tap can)."""
    user = await assigned_speaker(harness)
    await harness.send(press(user, "✅ Tham dự"))
    await harness.send(press(user, "✍️ Soạn tham luận 1.1 bằng tin nhắn"))
    await harness.send(press(user, "✅ Tham dự"))  # again, on the invitation card

    await harness.send(user.text("Một đoạn."))

    assert user.last_text().startswith("Đã nhận đoạn 1 (tổng 9 ký tự)")
    assert await pending_of(harness, user) == "draft_text"
    assert await audit_count(harness, "rsvp.changed") == 1


async def test_a_repeated_attend_tap_while_writing_a_task_note_lets_the_note_come(
    harness: BotHarness,
) -> None:
    await with_contacts(harness)
    chair = await harness.open_invitation("DB031")  # a district chair: task VI.2 is hers too
    await harness.send(press(chair, "✅ Tham dự"))
    task = await task_id(harness, "VI.2")
    await harness.send(chair.tap_data(task_action(TaskAction.PROGRESS, task)))
    await harness.send(press(chair, "✅ Tham dự"))  # again, on the invitation card

    await harness.send(chair.text("Đã mời lãnh đạo cấp ủy"))

    async with harness.services.ctx.sessions() as session:
        note = await session.scalar(
            select(TaskAssignment.note)
            .join(Delegate, Delegate.id == TaskAssignment.person_id)
            .where(TaskAssignment.task_id == task, Delegate.code == "DB031")
        )
    assert note == "Đã mời lãnh đạo cấp ủy"
    assert await pending_of(harness, chair) is None
    assert await audit_count(harness, "rsvp.changed") == 1
