"""Telegram may deliver an update twice (a webhook retried, a poll repeated after a restart):
every update of a busy stretch of the plan, delivered twice, has exactly the effect of once."""

from __future__ import annotations

from collections import Counter
from typing import Any

from sqlalchemy import func, select

from bot.domain.rsvp import RsvpStatus
from storage.models import AuditEntry, DraftComment, DraftVersion, OutboundMessage, Rsvp
from tests.harness import OFFICE_CHAT, BotHarness
from tests.test_drafts import DOCX, docx
from tests.test_tasks import task_id, with_contacts


async def twice(harness: BotHarness, update: dict[str, Any]) -> None:
    """Deliver ``update``, then the very same update again."""
    await harness.send(update)
    await harness.send(update)


async def test_every_update_delivered_twice_has_the_effect_of_one(harness: BotHarness) -> None:
    await with_contacts(harness)
    await harness.services.drafts.sync()
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
    await twice(harness, sub.tap("👤 Cử người dự thay"))
    await twice(harness, sub.text("Lê Thị Hoa"))
    await twice(harness, sub.text("Phó Trưởng ban"))
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
