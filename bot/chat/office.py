"""Office commands: counts, who has not answered, the report file, and a person's link."""

from __future__ import annotations

import asyncio
import html
from collections.abc import Callable, Sequence

from bot.chat import replies
from bot.chat.turn import Turn
from bot.domain.ids import parse_id
from bot.domain.inbound import Action, Command
from bot.domain.outbound import Answer, Button, FilePart, Outbound
from bot.domain.tokens import format_link_code
from bot.services.access import OfficeActor
from bot.services.checkin import day_over, days_said
from bot.services.invitations import OfficeStep
from bot.services.report_file import REPORT_DOWNLOAD, office_report_workbook
from bot.texts import Html
from bot.texts.formatting import short_moment
from bot.texts.plain import menu_text
from bot.texts.presenters import channel_label, sent_via

# The dashboard's list of the unanswered (Đại biểu, filtered), under /office/.
UNANSWERED_LIST = "delegates?answer=no_answer"

XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
UNANSWERED_ACTION = "un:"
# /caplai's choices: ``ri:<live link's id>:<code>`` re-issues, ``ri:keep:<code>`` does not.
REISSUE_ACTION = "ri:"
# The shortest line a person can take in the list (code, name, position, unit, separators):
# no page can hold more people than its characters over this.
MIN_LINE = 12

# Makes a person's link from their token, one per channel that links by a personal link.
LinkMaker = Callable[[str], str]


async def counts(turn: Turn, office: OfficeActor) -> Answer:
    """``/thongke``: answers by status and group against the capacity; from the meeting's
    first day on (its days, and the days after, when the office reports), first who is in the
    hall, as the overview leads with it (the answers alone read as if «Dự kiến có mặt» were the
    hall) — where there is a reception desk (a web page) or anyone was checked in: else its
    zeros would read as if nobody had come."""
    result = await turn.services.reports.counts()
    lines = []
    meeting, now = turn.config.meeting, turn.services.ctx.clock.now()
    if meeting.day_begun(now):
        hall = await turn.services.checkin.count()
        if turn.config.web is not None or hall.in_hall:
            # After the end, as the overview says it: the day's result, not a hall filling up.
            ended = (
                short_moment(turn.catalog, meeting.local(meeting.ends_at))
                if meeting.ended(now)
                else None
            )
            web = turn.config.web is not None
            over = day_over(turn.config, now)  # the evening of a day, another day to come
            said = replies.hall_line(turn.catalog, hall, ended, web=web, day_over=over)
            if (days := days_said(turn.catalog, hall)) is not None:  # several days: each apart
                # Under the hall's figures, the blank line that parts them from «📊» after it.
                days = html.escape(days, quote=False)
                said = Html(f"{said.removesuffix(chr(10))}\n{days}\n")
            lines.append(said)
    lines += replies.counts(turn.catalog, turn.config, result)
    lines += replies.quota_lines(turn.catalog, await turn.services.quotas.usage())
    return Answer.say("\n".join(lines))


async def unanswered(turn: Turn, office: OfficeActor) -> Answer:
    """``/chuatraloi``: who has not answered, by group, in protocol order — the first page."""
    return await _unanswered_page(turn, after=None)


async def on_action(turn: Turn, action: Action) -> Answer:
    """The next page of ``/chuatraloi`` (``un:<code>``: the people after that delegate)."""
    if await turn.office() is None:
        return Answer(toast=turn.toast("office.refused", alert=True))
    return await _unanswered_page(turn, after=action.data.partition(":")[2] or None)


async def _unanswered_page(turn: Turn, after: str | None) -> Answer:
    """One message of the list, as many people as the channel's message holds, and a choice
    to see the next ones; the report workbook holds the whole list."""
    catalog = turn.catalog
    capabilities = turn.channel.capabilities
    label = catalog.plain("buttons.next_page")
    budget = capabilities.max_text
    if not capabilities.buttons:  # the choice is typed: its menu goes under the text
        budget -= len(menu_text(catalog, ((Button(label, UNANSWERED_ACTION),),))) + 2
    reports = turn.services.reports
    page = await reports.unanswered(limit=budget // MIN_LINE, after=after)
    if after is not None and not page.groups:
        # Everyone after that person has answered since: the list starts again.
        page = await reports.unanswered(limit=budget // MIN_LINE)
    # A chat without files points to the dashboard's list, which a phone opens (after signing
    # in); the others to the report workbook /baocao sends.
    web = turn.config.web
    full_list = None
    if not capabilities.files_out and web is not None:
        full_list = web.office_url(UNANSWERED_LIST)
    shown = replies.unanswered(catalog, page, budget, full_list)
    rows: tuple[tuple[Button, ...], ...] = ()
    if shown.last_code is not None:
        rows = ((Button(label, f"{UNANSWERED_ACTION}{shown.last_code}"),),)
    return Answer.say("\n".join(shown.lines), rows)


async def report(turn: Turn, office: OfficeActor) -> Answer:
    """``/baocao``: the report workbook, sent to the staff member privately (never into a
    group, where everyone would see the delegates' answers)."""
    catalog, config = turn.catalog, turn.config
    services = turn.services
    now = config.meeting.local(services.ctx.clock.now())
    name = catalog.plain("report_file.name", code=config.meeting.code, stamp=f"{now:%Y%m%d-%H%M}")
    caption = catalog.html("report_file.caption", time=short_moment(catalog, now))
    if not turn.channel.capabilities.files_out:
        # A chat that carries no file (Zalo) links to the dashboard's download, which makes
        # the same workbook when opened (signing in first, as a draft's link does); the
        # workbook is not built here for nobody.
        if config.web is None:
            return turn.say("report_file.no_web")
        link = config.web.office_url(REPORT_DOWNLOAD)
        part = FilePart(name, b"", XLSX_MIME, caption, download_url=link)
    else:
        report = await services.office_report.collect()
        # Built in a thread: at 10,000 delegates the workbook takes seconds of CPU, during which
        # the event loop goes on answering the other chats, the pages and the outbox.
        content = await asyncio.to_thread(office_report_workbook, catalog, config, report)
        part = FilePart(name, content, XLSX_MIME, caption)
    # A person who never opened a private chat with the bot (or blocked it) cannot receive
    # anything there.
    sent = turn.private(
        Outbound((part,)), if_unreachable=Outbound.text(catalog.html("report_file.open_private"))
    )
    if not turn.in_group:
        return Answer((sent,))
    return Answer((sent,)).then(turn.say("report_file.sent_private"))


async def reissue(turn: Turn, command: Command, office: OfficeActor) -> Answer:
    """``/caplai <code>``: asks first, as the dashboard does, saying what stops working (the
    link and code handed out, the invitation marked sent, the page she opened) and what stays
    (the chats the bot writes to); the choice re-issues (:func:`on_reissue`)."""
    if turn.in_group:
        return turn.say("office.private_only")
    if len(command.args) != 1:
        return turn.say("office.reissue_usage")
    code = command.args[0]
    card = await turn.services.dashboard.card(code)
    if card is None:
        return turn.say("office.unknown_person", code=code)
    catalog, config = turn.catalog, turn.config
    person = card.person
    lines = [catalog.html("reissue.confirm", name=person.full_name, code=person.code)]
    if card.sent is not None:
        lines.append(
            catalog.html(
                "reissue.sent",
                via=sent_via(catalog, card.sent.via),
                time=short_moment(catalog, config.meeting.local(card.sent.at)),
            )
        )
    if card.opened is not None:
        at = config.meeting.local(card.opened.linked_at)
        lines.append(catalog.html("reissue.opened", time=short_moment(catalog, at)))
    lines.append(catalog.html("reissue.undo"))
    if chats := card.chats_kept(turn.services.ctx.chats):
        names = ", ".join(channel_label(catalog, channel) for channel in chats)
        lines.append(catalog.html("reissue.chats_chat", channels=names, code=person.code))
    # The link seen when asked: a second choice, or a colleague quicker, makes no second one.
    sure = f"{REISSUE_ACTION}{card.invitation_id}:{person.code}"
    rows = (
        (Button(catalog.plain("buttons.reissue_sure"), sure),),
        (Button(catalog.plain("buttons.reissue_keep"), f"{REISSUE_ACTION}keep:{person.code}"),),
    )
    return Answer.say("\n\n".join(lines), rows)


async def on_reissue(turn: Turn, action: Action, links: Sequence[LinkMaker]) -> Answer:
    """The choice under ``/caplai``'s question: a new personal link and code, the old ones
    stopping at once (shown in the private chat only: the link is a secret), unless another
    was made since the question; or nothing, and said so."""
    office = await turn.office()
    if office is None:
        return Answer(toast=turn.toast("office.refused", alert=True))
    if turn.in_group:
        return turn.say("office.private_only")
    replacing, _, code = action.data.removeprefix(REISSUE_ACTION).partition(":")
    if replacing == "keep":
        kept = await turn.services.dashboard.card(code)
        if kept is None:
            return turn.say("office.unknown_person", code=code)
        return turn.say("reissue.kept", name=kept.person.full_name, code=kept.person.code)
    seen = parse_id(replacing)  # the live link's id when asked (0: none was live)
    if seen is None:
        return Answer(toast=turn.toast("hint.stale_button", alert=True))
    result = await turn.services.invitations.reissue(office, code, replacing=seen)
    if result.step is OfficeStep.UNKNOWN_PERSON or result.delegate is None:
        return turn.say("office.unknown_person", code=code)
    if result.step is OfficeStep.ALREADY_REISSUED:
        return turn.say("reissue.already", name=result.delegate.full_name, code=code)
    assert result.token is not None and result.link_code is not None
    return turn.say(
        "office.reissued",
        name=result.delegate.full_name,
        code=result.delegate.code,
        link="\n".join(make(result.token) for make in links),
        link_code=format_link_code(result.link_code),
    )


async def unlink(turn: Turn, command: Command, office: OfficeActor) -> Answer:
    """``/golienket <code>``: forget the chat accounts linked to a person (a lost phone)."""
    if len(command.args) != 1:
        return turn.say("office.unlink_usage")
    code = command.args[0]
    result = await turn.services.invitations.unlink(office, code)
    if result.step is OfficeStep.UNKNOWN_PERSON or result.delegate is None:
        return turn.say("office.unknown_person", code=code)
    key = "office.unlinked" if result.step is OfficeStep.UNLINKED else "office.was_not_linked"
    return turn.say(key, name=result.delegate.full_name, code=result.delegate.code)
