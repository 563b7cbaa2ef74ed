"""Pieces of text the core and every channel adapter compose messages from."""

from __future__ import annotations

import functools
import html
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime, time

from bot.config import Config
from bot.delegate_file import FIGURES, RowProblem
from bot.domain.channels import ChannelInfo, LinkedChat
from bot.domain.checkin import CheckedIn
from bot.domain.contact import Contact
from bot.domain.drafts import DraftAction, DraftLine, DraftStatus, draft_action
from bot.domain.outbound import Button, SkipReason
from bot.domain.rsvp import DayChoice, RsvpChoice, RsvpStatus, day_action, rsvp_action
from bot.domain.tasks import TaskAction, TaskLine, TaskStatus, task_action
from bot.domain.timespec import typed_time_examples
from bot.texts import Catalog, Html
from bot.texts.formatting import (
    clock,
    day_list,
    day_month,
    file_size,
    long_date,
    meeting_time,
    moment,
    short_moment,
)


def not_running(
    catalog: Catalog, section: str, channels: Sequence[str], token_envs: Mapping[str, str]
) -> str:
    """Why chats that do not run here (``channels``, their names joined) reach nobody: the
    text of ``section``, naming the environment variable each one's token is set in when
    start-up told them all (``token_envs``, by channel) — her card on the dashboard and the
    workbook's «Ghi chú liên lạc» alike."""
    names = ", ".join(channel_label(catalog, channel) for channel in channels)
    envs = [token_envs[channel] for channel in channels if channel in token_envs]
    if envs and len(envs) == len(channels):
        return catalog.plain(f"{section}.not_running_env", channel=names, env=", ".join(envs))
    return catalog.plain(f"{section}.not_running", channel=names)


def status_label(catalog: Catalog, status: RsvpStatus) -> str:
    """The name of an answer."""
    return catalog.plain(f"status.{status.value}")


def answer_label(catalog: Catalog, status: RsvpStatus, days: Sequence[date] | None) -> str:
    """The name of an answer with the days «tham dự» names at a meeting of several days
    («Tham dự ngày 18/12»); :func:`status_label` for every other."""
    if status is RsvpStatus.ATTENDING and days:
        return catalog.plain("status.attending_days", days=day_list(catalog, days))
    return status_label(catalog, status)


def expected_by_day(catalog: Catalog, by_day: Sequence[tuple[date, int]]) -> str:
    """«Dự kiến tham dự theo ngày: ngày 17/12: 70 · ngày 18/12: 75» (a meeting of several
    days; a delegate who answered for some days only counts on those)."""
    days = " · ".join(
        catalog.plain("office.counts_day", day=day_month(catalog, day), count=catalog.number(n))
        for day, n in by_day
    )
    return catalog.plain("office.counts_by_day", days=days)


def agenda(
    catalog: Catalog, config: Config, *, presenters: bool = False, day: int | None = None
) -> Html:
    """The programme, one line per item (with who presents, for the full agenda); written day
    by day (:meth:`Config.agenda_by_day`), each day under its date, or ``day``'s alone."""
    by_day = config.agenda_by_day()
    lines = []
    for number, items in config.agenda_days():
        if by_day and day is not None and number != day:
            continue
        if by_day:
            date = agenda_day_label(catalog, config, number)
            lines.append(catalog.html("card.agenda_day", date=date))
        for item in items:
            line = catalog.html(
                "card.agenda_item", start=clock(item.start), end=clock(item.end), title=item.title
            )
            if presenters and item.presenter:
                line = Html(line + catalog.html("card.agenda_presenter", presenter=item.presenter))
            lines.append(line)
    return Html("\n".join(lines))


def agenda_day_label(catalog: Catalog, config: Config, day: int) -> str:
    """The heading of the programme's ``day`` (1 = the first): «Thứ Năm, ngày 17/12/2026»."""
    return long_date(catalog, _midday(config, day))


def _midday(config: Config, day: int) -> datetime:
    """Noon of the meeting's ``day``, in its zone: a moment that day to name it by."""
    meeting = config.meeting
    return datetime.combine(meeting.day_date(day), time(12), tzinfo=meeting.zone)


def deadline_text(catalog: Catalog, config: Config) -> str:
    """The RSVP deadline in local time.

    Every confirmation of an answer says it, and writing it out (the clock, the weekday, the
    date, three catalog look-ups) took 14 µs of a tap's CPU: it is written once for each
    catalog and wall-clock time (:func:`_wall_moment`), which is all it depends on, so a
    deadline or a time zone changed in the plan is said anew."""
    local = config.meeting.local(config.meeting.rsvp_deadline_at)
    return _wall_moment(catalog, local.replace(tzinfo=None))


def plain_when_where(catalog: Catalog, config: Config) -> str:
    """When and where the meeting is, in plain text and without the map (:func:`when_where`
    is the chats' form), as the printed slips, the day's papers and the invitation's message
    say it."""
    meeting = config.meeting
    starts, ends = meeting.local(meeting.starts_at), meeting.local(meeting.ends_at)
    key, when = meeting_time(catalog, "slips.when_where", starts, ends)
    return catalog.plain(key, **when, venue=meeting.venue.name, address=meeting.venue.address)


@functools.lru_cache(maxsize=32)
def _wall_moment(catalog: Catalog, wall: datetime) -> str:
    """:func:`moment` of a local time given without its zone: two times of one instant in
    different zones are equal datetimes, two wall-clock times are not."""
    return moment(catalog, wall)


def when_where(catalog: Catalog, config: Config) -> Html:
    """Date, time, hall, and address with a map link."""
    meeting = config.meeting
    key, when = meeting_time(
        catalog, "card.when_where", meeting.local(meeting.starts_at), meeting.local(meeting.ends_at)
    )
    return catalog.html(
        key,
        **when,
        venue=meeting.venue.name,
        address=meeting.venue.address,
        map_url=meeting.venue.map_url,
    )


def invitation_opening(
    catalog: Catalog, config: Config, name: str, position: str, organization: str
) -> list[Html]:
    """The invitation card's first parts, whoever sends it (a chat's card, the invitation the
    outbox takes to an account carried from an earlier meeting): to whom, to what, when and
    where, the programme."""
    meeting = config.meeting
    return [
        catalog.html("card.greeting", name=name, position=position, organization=organization),
        catalog.html(
            "card.invitation",
            organizer=meeting.organizer,
            title=meeting.title,
            plan=meeting.plan_number,
        ),
        when_where(catalog, config),
        catalog.html("card.agenda", agenda=agenda(catalog, config)),
    ]


def moved_notice(catalog: Catalog, config: Config) -> str:
    """A notice that the meeting moved to the plan's date, for the office to edit, preview and
    send as any notice: the bot never announces a move by itself."""
    meeting = config.meeting
    return catalog.plain(
        "dash.notices.moved_text",
        title=meeting.title,
        when=moment(catalog, meeting.local(meeting.starts_at)),
        venue=meeting.venue.name,
        address=meeting.venue.address,
    )


def checked_in_text(catalog: Catalog, config: Config, came: CheckedIn, now: datetime) -> str:
    """«Đồng chí đã điểm danh lúc 11:52 (Bàn 1).», or «Đồng chí <substitute> đã điểm danh dự
    thay lúc 11:52.»: said in place of «show this code» once she (or her substitute) is in;
    the day too when it was not today (a meeting of several days)."""
    meeting = config.meeting
    at = meeting.local(came.at)
    time = clock(at) if at.date() == meeting.local(now).date() else short_moment(catalog, at)
    if came.substitute_name:
        return catalog.plain("checked_in.substitute", name=came.substitute_name, time=time)
    return catalog.plain("checked_in.self", time=time, desk=came.desk)


def withdrawn_notice(catalog: Catalog, config: Config) -> Html:
    """The invitation is no longer in effect: said politely, with the office's contact, and no
    choices offered. The same words in chat, on the personal page and in the bot's message."""
    return catalog.html(
        "withdrawn.notice", title=config.meeting.title, contact=config.office.contact
    )


def meeting_details(catalog: Catalog, config: Config, *, day: int | None = None) -> Html:
    """Title, date and time, hall, address with a map link, and the full programme (``day``'s
    alone, for a programme written day by day)."""
    programme = agenda(catalog, config, presenters=True, day=day)
    return Html(
        "\n\n".join(
            [
                catalog.html("details.title", title=config.meeting.title),
                when_where(catalog, config),
                catalog.html("card.agenda", agenda=programme),
            ]
        )
    )


def broadcast_html(catalog: Catalog, office: str, body: str) -> Html:
    """An office broadcast as delegates see it: the office's words, escaped, under a header."""
    return catalog.html("broadcast.text", office=office, body=notice_body(body))


def notice_body(body: str) -> Html:
    """A notice's words as the chat and the personal page both show them: what the office
    typed, escaped (its line breaks kept), never read as markup."""
    return Html(html.escape(body, quote=False))


# An address typed in a notice: up to a space, a quote or an angle bracket; what ends a sentence
# around it (a full stop, a closing bracket or quote) is the sentence's, not the address's.
_URL = re.compile(r"https?://[^\s<>\"']+", re.IGNORECASE)
_URL_TAIL = ".,;:!?)]}»”’…"


def notice_body_linked(body: str) -> Html:
    """A notice's words for the personal page: as :func:`notice_body`, each http(s) address a
    link (Telegram and Zalo make them clickable; a page shows plain text otherwise). Each piece
    is escaped on its own, so an ``&`` in an address is ``&amp;`` in its href and its text."""
    out: list[str] = []
    start = 0
    for match in _URL.finditer(body):
        url = match.group(0)
        while url and url[-1] in _URL_TAIL and not (url[-1] == ")" and "(" in url):
            url = url[:-1]
        if url.endswith("://"):
            continue  # nothing but the scheme
        out.append(html.escape(body[start : match.start()], quote=False))
        out.append(
            f'<a href="{html.escape(url, quote=True)}" rel="noopener noreferrer">'
            f"{html.escape(url, quote=False)}</a>"
        )
        start = match.start() + len(url)
    out.append(html.escape(body[start:], quote=False))
    return Html("".join(out))


def audience_label(catalog: Catalog, config: Config, audience: str) -> str:
    """Who an audience is, in words."""
    kind, _, key = audience.partition(":")
    if kind == "group":
        group = config.group(key)
        return catalog.plain("audience.group", label=group.label if group else key)
    return catalog.plain(f"audience.{kind}", key=key)


def skipped_reason(
    catalog: Catalog, config: Config, reason: SkipReason, due_at: datetime | None
) -> str:
    """Why a notice went to nobody, in words, with the time it was due where that is the why:
    the same words in chat (``/thongbao``'s list) and on the dashboard's notice page."""
    due = moment(catalog, config.meeting.local(due_at)) if due_at is not None else ""
    return catalog.plain(f"broadcast.skipped.{reason.value}", due=due)


def on_pages(catalog: Catalog, config: Config, off_chat: int) -> str:
    """The sentence after «queued» or «scheduled» that says where those of a notice's audience
    on no chat read it (their personal page), led by a space; empty where the plan has no pages
    or everyone is on a chat. The same in chat and on the dashboard."""
    if config.web is None or off_chat <= 0:
        return ""
    return " " + catalog.plain("broadcast.on_pages", count=catalog.number(off_chat))


def pages_only(config: Config, reachable: int, off_chat: int) -> bool:
    """Whether a notice reaches its audience on their personal pages alone (nobody of it on a
    chat: a pages-only installation, or no one linked yet): then what the office reads leads
    with those who will see it there, not with a send «tới 0 người»."""
    return config.web is not None and reachable == 0 and off_chat > 0


def ran_out_words(
    catalog: Catalog, key: str, count: int, first: Sequence[tuple[str, str]]
) -> tuple[str, dict[str, object]]:
    """Who a message's copies ran out for (the bot was stopped past its window), for the office
    to phone: the text ``key`` naming them all, or ``key_more`` naming the ``first`` few
    (code, full name, in protocol order, as a notice's preview names those it cannot reach),
    counting the rest and saying where the whole list is (the report workbook's sheet). The
    key and its parameters, for :meth:`Catalog.html` or :meth:`Catalog.plain`."""
    names = ", ".join(f"{code} {name}" for code, name in first)
    more = count - len(first)
    said = catalog.number(count)  # «1.234», as every figure the office reads
    if more <= 0:
        return key, {"count": said, "names": names}
    sheet = catalog.plain("report_sheet.ran_out.title")
    return f"{key}_more", {
        "count": said,
        "names": names,
        "more": catalog.number(more),
        "sheet": sheet,
    }


def signed_out_wording(
    sessions: int | None = None, links: int = 0, *, ran_out: bool = False
) -> tuple[str, str]:
    """Which words the page after a sign-out says (``dash.message.<key>.<line>``): this
    browser's session alone (``sessions`` None; ``ran_out``: it had run out, nothing was left
    to end), or every one (``sessions`` ended) — without a count when it was this browser's
    alone — and the unspent sign-in links cancelled with them."""
    if sessions is None:
        return "signed_out", "text_ran_out" if ran_out else "text"
    line = "text_one" if sessions <= 1 else "text"
    return "signed_out_everywhere", f"{line}_links" if links else line


def task_buttons(catalog: Catalog, task_id: int) -> tuple[tuple[Button, ...], ...]:
    """Đã hoàn thành / Đang thực hiện / Cần hỗ trợ / Gửi sản phẩm for one task."""
    return tuple(
        (Button(catalog.plain(f"buttons.task_{action.value}"), task_action(action, task_id)),)
        for action in (TaskAction.DONE, TaskAction.PROGRESS, TaskAction.HELP, TaskAction.FILE)
    )


def task_summary(
    catalog: Catalog, config: Config, task: TaskLine, *, only: str | None = None
) -> Html:
    """A task as a board shows it: deadline, state, who reported what, deliverables. ``only``:
    the code of a contact reading it, who is shown her own report and deliverables (of a task
    shared by thirty district chairs, each chair's notes and links are the office's to read)."""
    meeting = config.meeting
    done = sum(a.status is TaskStatus.DONE for a in task.assignments)
    if task.closed:
        state = catalog.plain("task_state.closed")
    elif task.done:
        state = catalog.plain("task_state.done")
    elif task.overdue:
        state = catalog.plain("task_state.overdue")
    else:
        state = catalog.plain("task_state.open")
    last = task.last_update
    # Her own line only, of a task shared with others: the count says it is everyone's.
    mine = only is not None and len(task.assignments) > 1
    lines = [
        catalog.html(
            "task_board.task_mine" if mine else "task_board.task",
            key=task.key,
            title=task.title,
            owner=task.owner,
            deadline=moment(catalog, meeting.local(task.deadline_at)),
            state=state,
            done=done,
            total=len(task.assignments),
            updated=moment(catalog, meeting.local(last))
            if last
            else catalog.plain("task_state.never"),
        )
    ]
    for a in task.assignments:
        if only is not None:
            if a.code != only:
                continue
        elif a.status is TaskStatus.DONE and len(task.assignments) > 3:
            continue  # a district task lists only who is still missing
        key = "task_board.person_note" if a.note else "task_board.person"
        if a.recorded_by is not None and a.updated_at is not None:
            # The office's record of her report: its note says how it came, not what she wrote.
            key = "task_board.person_recorded_note" if a.note else "task_board.person_recorded"
        lines.append(
            catalog.html(
                key,
                name=a.full_name,
                organization=a.organization,
                status=catalog.plain(f"task_status.{a.status.value}"),
                note=a.note or "",
                at=moment(catalog, meeting.local(a.updated_at)) if a.updated_at else "",
                contact=contact_mark(catalog, a.contact, "task_board.contact"),
            )
        )
    for evidence in task.evidence:
        if only is not None and evidence.by_code != only:
            continue
        lines.append(
            catalog.html(
                "task_board.link"
                if evidence.url
                else "task_board.file_office"
                if evidence.by_office
                else "task_board.file",
                name=evidence.name,
                url=evidence.url or "",
                by=evidence.by,
            )
        )
    return Html("\n".join(lines))


# Comments are quoted on boards, not shown whole.
_QUOTE_CHARS = 200


def _quote(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= _QUOTE_CHARS else flat[: _QUOTE_CHARS - 1] + "…"


def contact_mark(catalog: Catalog, contact: Contact, around: str = "") -> Html:
    """The mark every list of drafts and tasks writes beside a person whom no chat reaches
    (:func:`bot.services.roster.contact`): «chưa gửi giấy mời» (send it first) or «chưa kết
    nối kênh nhắn tin» (phone her); nothing when a chat takes the bot's messages. ``around``:
    the list's own setting of it (a catalog key with ``{mark}``: " · <i>{mark}</i>")."""
    if contact is Contact.CHAT:
        return Html("")
    mark = catalog.html(f"contact_mark.{contact.value}")
    return catalog.html(around, mark=mark) if around else mark


def contact_word(catalog: Catalog, contact: Contact) -> str | None:
    """:func:`contact_mark` as plain words, for a sheet's cell: None when a chat reaches her."""
    return None if contact is Contact.CHAT else catalog.plain(f"contact_mark.{contact.value}")


def draft_status_label(catalog: Catalog, status: DraftStatus) -> str:
    """``đã chốt``."""
    return catalog.plain(f"draft_status.{status.value}")


def _latest_version(catalog: Catalog, config: Config, line: DraftLine, key: str) -> str:
    """The latest version's number, time and size in template ``key`` ("" if none yet)."""
    if line.latest is None:
        return ""
    return catalog.html(
        key,
        number=line.latest.number,
        time=short_moment(catalog, config.meeting.local(line.latest.created_at)),
        size=file_size(catalog, line.latest.size),
    )


def draft_away(catalog: Catalog, line: DraftLine) -> Html:
    """The mark of a speaker who will not be in the hall (sent a substitute, or declined), as
    /thamluan, the reminders' and the deadline's lists write it; empty for the others."""
    if line.substitute:
        return catalog.html("draft_board.away_substitute", name=line.substitute)
    if line.away is not None:
        return catalog.html("draft_board.away_declined")
    return Html("")


def draft_board_line(catalog: Catalog, config: Config, line: DraftLine, now: datetime) -> Html:
    """An assignment as the office's /thamluan lists it (its deadline only when its theme has
    one of its own)."""
    meeting = config.meeting
    default_deadline = meeting.resolve(config.drafts.deadline)
    version = _latest_version(catalog, config, line, "draft_board.version")
    text = catalog.html(
        "draft_board.line",
        key=line.theme_key,
        name=line.full_name,
        organization=line.organization,
        status=draft_status_label(catalog, line.status),
        version=Html(version),
        due=Html(
            catalog.html(
                "draft_board.due", deadline=moment(catalog, meeting.local(line.deadline_at))
            )
            if line.deadline_at != default_deadline
            else ""
        ),
        late=Html(catalog.html("draft_board.late") if line.late(now) else ""),
        away=draft_away(catalog, line),
        # One whose invitation was withdrawn owes no speech (DraftLine.owed), whatever her chat.
        contact=catalog.html("draft_board.invitation_withdrawn")
        if line.invitation_withdrawn
        else contact_mark(catalog, line.contact, "draft_board.contact"),
    )
    comment = line.last_comment
    if comment is not None:
        key = "draft_board.comment_office" if comment.from_office else "draft_board.comment_speaker"
        text = Html(
            text
            + catalog.html(
                key,
                time=short_moment(catalog, meeting.local(comment.created_at)),
                body=_quote(comment.body),
            )
        )
    return text


def draft_mine(catalog: Catalog, config: Config, line: DraftLine) -> Html:
    """A speaker's own assignment: theme, deadline, status, latest version."""
    meeting = config.meeting
    version = _latest_version(catalog, config, line, "draft_mine.version")
    return catalog.html(
        "draft_mine.line",
        key=line.theme_key,
        title=line.theme_title,
        deadline=moment(catalog, meeting.local(line.deadline_at)),
        status=draft_status_label(catalog, line.status),
        version=Html(version),
        buffered=Html(
            catalog.html(
                "draft_mine.buffered", chunks=line.buffered_chunks, chars=line.buffered_chars
            )
            if line.buffered_chunks
            else ""
        ),
    )


def themes_list(catalog: Catalog, config: Config) -> Html:
    """The themes of section IV, one per line."""
    return Html(
        "\n".join(
            catalog.html("draft_board.theme", key=t.key, title=t.title) for t in config.themes
        )
    )


def compose_buttons(catalog: Catalog, line: DraftLine) -> tuple[tuple[Button, ...], ...]:
    """A speaker's button to type a draft as messages."""
    label = catalog.plain("buttons.draft_compose", key=line.theme_key)
    return ((Button(label, draft_action(DraftAction.COMPOSE, line.id)),),)


def finish_buttons(catalog: Catalog, line: DraftLine) -> tuple[tuple[Button, ...], ...]:
    """«Xong, gửi bản này» for a speech typed as messages and not sent yet; none otherwise."""
    if not line.buffered_chunks:
        return ()
    label = catalog.plain("buttons.draft_finish")
    return ((Button(label, draft_action(DraftAction.FINISH, line.id)),),)


def verdict_buttons(
    catalog: Catalog, version_id: int, number: int, *, comment: bool = False
) -> tuple[tuple[Button, ...], ...]:
    """The office's choices under a version's post (``comment``: also "comment", where the
    channel has no reply threads to comment by replying)."""
    rows: tuple[tuple[Button, ...], ...] = (
        (
            Button(
                catalog.plain("buttons.draft_final", number=number),
                draft_action(DraftAction.FINAL, version_id),
            ),
            Button(
                catalog.plain("buttons.draft_revise"), draft_action(DraftAction.REVISE, version_id)
            ),
        ),
    )
    if comment:
        label = catalog.plain("buttons.draft_comment")
        rows += ((Button(label, draft_action(DraftAction.COMMENT, version_id)),),)
    return rows


def task_office_buttons(catalog: Catalog, lines: list[TaskLine]) -> list[tuple[Button, ...]]:
    """The office's buttons under the task board: close each open task, open each file."""
    rows: list[tuple[Button, ...]] = [
        (
            Button(
                catalog.plain("buttons.task_close", key=line.key),
                task_action(TaskAction.CLOSE, line.id),
            ),
        )
        for line in lines
        if line.can_close
    ]
    rows += [
        (
            Button(
                catalog.plain("buttons.task_getfile", name=e.name[:40]),
                task_action(TaskAction.GET_FILE, e.id),
            ),
        )
        for line in lines
        for e in line.files
    ]
    return rows


def draft_board_title(catalog: Catalog, config: Config, lines: list[DraftLine]) -> Html:
    """The head of the office's /thamluan: the common deadline and the counts (a speaker
    excused, her invitation withdrawn, out of them)."""
    meeting = config.meeting
    return catalog.html(
        "draft_board.office_title",
        deadline=moment(catalog, meeting.local(meeting.resolve(config.drafts.deadline))),
        submitted=sum(not line.missing for line in lines),
        total=sum(not line.excused for line in lines),
        final=sum(line.status is DraftStatus.FINAL for line in lines),
        revision=sum(line.status is DraftStatus.REVISION for line in lines),
        missing=sum(line.owed for line in lines),
    )


def draft_file_buttons(catalog: Catalog, lines: list[DraftLine]) -> list[tuple[Button, ...]]:
    """The office's buttons under /thamluan: open the latest version of each draft."""
    return [
        (
            Button(
                catalog.plain(
                    "buttons.draft_getfile",
                    key=line.theme_key,
                    name=line.full_name,
                    number=line.latest.number,
                )[:64],
                draft_action(DraftAction.GET_FILE, line.latest.id),
            ),
        )
        for line in lines
        if line.latest is not None
    ]


def _rsvp_choice(catalog: Catalog, choice: RsvpChoice, meeting: int | None) -> Button:
    return Button(catalog.plain(f"buttons.{choice.value}"), rsvp_action(choice, meeting))


def rsvp_buttons(
    catalog: Catalog, config: Config | None = None, *, meeting: int | None = None
) -> tuple[tuple[Button, ...], ...]:
    """Tham dự / Không tham dự / Cử người dự thay: an answer names no record, so forged data
    cannot touch another person's answer (who chose decides whose answer changes), only the
    ``meeting`` whose message the buttons are on (every RSVP choice here takes it). At a
    meeting of several days (``config``'s) «Chỉ dự một số ngày» after them: last, so that the
    numbers typed on Zalo keep their meaning (1 «Tham dự» is every day, the common case)."""
    choices = [RsvpChoice.ATTEND, RsvpChoice.DECLINE, RsvpChoice.SUBSTITUTE]
    if config is not None and config.meeting.several_days:
        choices.append(RsvpChoice.SOME_DAYS)
    return tuple((_rsvp_choice(catalog, choice, meeting),) for choice in choices)


def day_buttons(
    catalog: Catalog, config: Config, meeting: int | None = None, shown: str | None = None
) -> tuple[tuple[Button, ...], ...]:
    """Under «Đồng chí tham dự ngày nào?»: «Chỉ dự ngày 17/12», one a day, then «Dự tất cả
    các ngày» (plain «tham dự»); each names ``meeting``, as :func:`rsvp_buttons` do, and a
    day's the answer it is shown under (``shown``: :func:`bot.domain.rsvp.answer_mark`)."""
    days = tuple(
        (Button(catalog.plain("buttons.only_day", day=day_month(catalog, day)),
                day_action(DayChoice(number, shown=shown), meeting)),)
        for number, day in enumerate(config.meeting.dates, start=1)
    )  # fmt: skip
    every = Button(catalog.plain("buttons.attend_all"), rsvp_action(RsvpChoice.ATTEND, meeting))
    return (*days, (every,))


def add_day_buttons(
    catalog: Catalog,
    config: Config,
    days: Sequence[date] | None,
    meeting: int | None = None,
    shown: str | None = None,
) -> tuple[tuple[Button, ...], ...]:
    """After «tham dự» for some days of a meeting of three days or more: «Dự thêm ngày 19/12»
    for each day her answer leaves out (none at a meeting of two days, where the other day
    is «Tham dự» itself, nor when the answer is every day); ``shown``: as :func:`day_buttons`."""
    dates = config.meeting.dates
    if not days or len(dates) < 3:
        return ()
    return tuple(
        (Button(catalog.plain("buttons.add_day", day=day_month(catalog, day)),
                day_action(DayChoice(number, add=True, shown=shown), meeting)),)
        for number, day in enumerate(dates, start=1)
        if day not in days
    )  # fmt: skip


def ask_days(catalog: Catalog, config: Config) -> Html:
    """«Hội nghị họp 2 ngày: 17/12 và 18/12. Đồng chí tham dự ngày nào? …»"""
    dates = config.meeting.dates
    key = "rsvp.ask_days_more" if len(dates) >= 3 else "rsvp.ask_days"
    return catalog.html(key, count=len(dates), days=day_list(catalog, dates))


def decline_buttons(catalog: Catalog, meeting: int | None = None) -> tuple[tuple[Button, ...], ...]:
    """Decline without a reason, or cancel."""
    return (
        (
            _rsvp_choice(catalog, RsvpChoice.DECLINE_WITHOUT_REASON, meeting),
            _rsvp_choice(catalog, RsvpChoice.CANCEL, meeting),
        ),
    )


def reason_menu(
    catalog: Catalog, config: Config | None = None, *, meeting: int | None = None
) -> tuple[tuple[Button, ...], ...]:
    """The reason's question where choices are numbers typed: the invitation's numbers keep
    their meaning (1 «Tham dự», 3 «Cử người dự thay»; 2 the decline, now without a reason; 4
    «Chỉ dự một số ngày» at a meeting of several days, ``config``'s) and «Hủy» comes after
    them, each naming ``meeting``. A «1» typed by someone changing her mind a moment after
    «Không tham dự» meant «Không nêu lý do» there, and recorded the opposite of what she read
    above; a «4» meant «Hủy» to one who wanted the days she had read under 4 on the invitation."""
    choices = [RsvpChoice.ATTEND, RsvpChoice.DECLINE_WITHOUT_REASON, RsvpChoice.SUBSTITUTE]
    if config is not None and config.meeting.several_days:
        choices.append(RsvpChoice.SOME_DAYS)
    return tuple(
        (_rsvp_choice(catalog, choice, meeting),) for choice in (*choices, RsvpChoice.CANCEL)
    )


def cancel_buttons(catalog: Catalog, meeting: int | None = None) -> tuple[tuple[Button, ...], ...]:
    """Cancel what the bot is asking for."""
    return ((_rsvp_choice(catalog, RsvpChoice.CANCEL, meeting),),)


def unit_buttons(
    catalog: Catalog, own_unit: str | None, meeting: int | None = None
) -> tuple[tuple[Button, ...], ...]:
    """The delegate's own unit for her substitute's (most substitutes are from it), or cancel;
    a unit is typed otherwise."""
    same = RsvpChoice.SAME_UNIT
    if not own_unit:
        return cancel_buttons(catalog, meeting)
    label = catalog.plain(f"buttons.{same.value}", unit=own_unit)
    return ((Button(label, rsvp_action(same, meeting)),), *cancel_buttons(catalog, meeting))


def same_unit_words(catalog: Catalog) -> str:
    """The words of the «Cùng đơn vị: {unit}» choice without the unit, as the question names
    it (typed, they mean the same choice)."""
    return catalog.plain(f"buttons.{RsvpChoice.SAME_UNIT.value}", unit="").partition(":")[0].strip()


def phone_buttons(catalog: Catalog, meeting: int | None = None) -> tuple[tuple[Button, ...], ...]:
    """No phone for the substitute (it is optional), or cancel."""
    return (
        (
            _rsvp_choice(catalog, RsvpChoice.SKIP_PHONE, meeting),
            _rsvp_choice(catalog, RsvpChoice.CANCEL, meeting),
        ),
    )


def problem_line(
    catalog: Catalog, section: str, problem: RowProblem, *, prefer: str | None = None
) -> str:
    """One problem or warning of a delegate file: where it is, then what it is (the words of
    ``hoinghi delegates import`` and of the dashboard's import alike; ``prefer``: a section
    whose text, where it has one, replaces the command line's — the dashboard has a field, not
    an option, for the sheet)."""
    key = f"{section}.{problem.code}"
    if prefer is not None and catalog.has(f"{prefer}.{problem.code}"):
        key = f"{prefer}.{problem.code}"
    said = {"value": problem.value or "", "detail": problem.detail or ""}
    figure = FIGURES.get(problem.code)
    if figure is not None and said[figure].isdigit():  # «10.000», as every other figure
        said[figure] = catalog.number(int(said[figure]))
    return catalog.plain(
        "cli.problem_line",
        where=_where(catalog, problem.row, problem.column),
        message=catalog.plain(key, **said, groups=problem.groups or ""),
    )


def _where(catalog: Catalog, row: int | None, column: str | None) -> str:
    if row is not None and column:
        return catalog.plain("import.where_row_column", row=row, column=column)
    if row is not None:
        return catalog.plain("import.where_row", row=row)
    if column:
        return catalog.plain("import.where_column", column=column)
    return catalog.plain("import.where_file")


def how_to_send_draft(
    catalog: Catalog,
    config: Config,
    channel: ChannelInfo,
    page: str | None,
    *,
    later: bool = False,
) -> Html:
    """How a speaker sends a draft on ``channel``: as a file in the chat where the bot takes
    files; elsewhere typed as messages, or a file uploaded on their personal page ``page`` (or
    sent to the office, without one). ``later``: the card offers no choice now (another menu
    follows it where choices are numbers typed), so typing it is reached by /thamluan."""
    suffix = "_later" if later else ""
    if channel.capabilities.files_in:
        return catalog.html(f"draft_mine.how{suffix}")
    if page is not None:
        return catalog.html(f"draft_mine.how_no_files{suffix}", url=page)
    return catalog.html(f"draft_mine.how_no_files_no_page{suffix}", contact=config.office.contact)


def ask_for_deliverable(
    catalog: Catalog, config: Config, channel: ChannelInfo, key: str, page: str | None
) -> Html:
    """The question for a task's deliverable on ``channel`` (a file only where the bot takes
    files; elsewhere a link, and the page to upload a file on)."""
    if channel.capabilities.files_in:
        return catalog.html("task.ask_file", key=key)
    if page is not None:
        return catalog.html("task.ask_file_no_files", key=key, url=page)
    return catalog.html("task.ask_file_no_files_no_page", key=key, contact=config.office.contact)


def actor_label(catalog: Catalog, who: str, actor: str) -> str:
    """Who made a change, as the office reads it: the person's name (``who``), or, where no
    person is behind the account (``who`` is the account itself, ``cli:import``), what kind of
    account it is (the command line, the plan, the system); a dashboard session whose clerk is
    no longer on the list, by her code («NV01»), never the raw account. Nhật ký, its download's
    page and the approved speeches' index all name people by it."""
    if who != actor:
        return who
    kind, _, code = actor.partition(":")
    if kind == "dashboard" and code:
        return code
    key = f"report_sheet.audit.actor_{kind}"
    return catalog.plain(key) if catalog.has(key) else actor


def action_label(catalog: Catalog, action: str) -> str:
    """What an audited action did, in words, as Nhật ký's page and its download both write it
    («cập nhật xác nhận tham dự»); a kind the catalog does not know says its name."""
    key = f"dash.action.{action.replace('.', '_')}"
    if catalog.has(key):
        return catalog.plain(key)
    return catalog.plain("dash.log.unknown_action", action=action)


def typed_time_params(config: Config, now: datetime) -> tuple[str, dict[str, str]]:
    """The examples of a time to type, built from ``now`` in the meeting's zone (never the
    example plan's dates): the suffix of the text to use (``_late`` when no time is left
    today to give as an example) and its parameters ``example``, ``full_example``, ``today``."""
    examples = typed_time_examples(config.meeting.local(now))
    params = {"example": examples.day, "full_example": examples.full, "today": examples.today or ""}
    return ("" if examples.today else "_late"), params


def notice_length(catalog: Catalog, chars: int, limit: int) -> Html:
    """«Nội dung dài 3.555 ký tự, quá giới hạn 3.500 ký tự»: how much too long a notice is, the
    same in chat (``/thongbao``) and on the dashboard's notice page."""
    return catalog.html(
        "broadcast.length", chars=catalog.number(chars), limit=catalog.number(limit)
    )


def channel_label(catalog: Catalog, channel: str) -> str:
    """A channel as people call it («Telegram», «Zalo»); its id where the catalog has none."""
    key = f"channel_name.{channel}"
    return catalog.plain(key) if catalog.has(key) else channel


def sent_via(catalog: Catalog, via: str) -> str:
    """How an invitation was handed over, as a sentence says it («qua Zalo», «trực tiếp»): one
    key set for the chat, the dashboard, the files and the command line."""
    return catalog.plain(f"sent_via_phrase.{via}")


def chat_app_name(catalog: Catalog, config: Config, channel: str) -> str | None:
    """The app a personal page names for a chat linked on ``channel``: a Zalo bot by the name
    people find it under (``[zalo]`` or its ``[[zalo.bots]]``), else «Zalo»; Telegram by the
    catalog; None for a channel the page has no words for."""
    zalo = config.zalo
    if channel in zalo.channels():
        name = zalo.finding(zalo.channels().index(channel))[0]
        return catalog.plain("web.chat.app_zalo_bot" if name else "web.chat.app_zalo", bot=name)
    key = f"web.chat.app_{channel}"
    return catalog.plain(key) if catalog.has(key) else None


def linked_chat_lines(
    catalog: Catalog, config: Config, chats: Sequence[LinkedChat], runs: Callable[[str], bool]
) -> dict[str, Html]:
    """What a personal page says of each chat she linked, by channel (the first of each): since
    when, and, once messages stopped reaching it (the bot blocked), that too. Only a chat whose
    bot ``runs`` here: of another, the page would promise messages nobody sends."""
    meeting = config.meeting
    said: dict[str, Html] = {}
    for chat in chats:
        if chat.channel in said or not runs(chat.channel):
            continue
        app = chat_app_name(catalog, config, chat.channel)
        if app is None:
            continue
        when = short_moment(catalog, meeting.local(chat.linked_at))
        if chat.unreachable_at is not None:
            since = short_moment(catalog, meeting.local(chat.unreachable_at))
            said[chat.channel] = catalog.html(
                "web.chat.linked_unreachable", app=app, time=when, since=since
            )
        else:
            said[chat.channel] = catalog.html("web.chat.linked", app=app, time=when)
    return said
