"""Service results as messages, through the text catalog: the invitation card, the answers to
an RSVP, the office's counts, and the choices they offer."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.config import Config
from bot.domain.phones import display_phone
from bot.domain.quotas import QuotaUse
from bot.domain.rsvp import RsvpStatus
from bot.services.checkin import Attendance
from bot.services.reports import Counts, Tally, UnansweredPage
from bot.services.views import DelegateView, RsvpView
from bot.texts import Catalog, Html
from bot.texts.formatting import day_list
from bot.texts.presenters import (
    answer_label,
    deadline_text,
    expected_by_day,
    invitation_opening,
    status_label,
)


def substitute_position(catalog: Catalog, rsvp: RsvpView, own_unit: str | None) -> str:
    """The substitute's position, and her unit after it when it is not her delegate's own
    (``own_unit``; unknown: said) — most substitutes come from it, and saying so is noise."""
    position = rsvp.substitute_position or ""
    unit = rsvp.substitute_unit
    if not unit or (own_unit is not None and _same_unit(unit, own_unit)):
        return position
    return catalog.plain("rsvp.substitute_position_unit", position=position, unit=unit)


def substitute_said(catalog: Catalog, rsvp: RsvpView, own_unit: str | None) -> str:
    """What is said back to the delegate after her substitute's name: the position, the unit
    when not hers (:func:`substitute_position`) and the phone she gave, so that she can see a
    mistyped number (the office sees the phone on its own line)."""
    details = substitute_position(catalog, rsvp, own_unit)
    if not rsvp.substitute_phone:
        return details
    phone = display_phone(rsvp.substitute_phone)
    return catalog.plain("rsvp.substitute_with_phone", details=details, phone=phone)


def _same_unit(one: str, other: str) -> bool:
    return " ".join(one.split()).casefold() == " ".join(other.split()).casefold()


def answer(
    catalog: Catalog, rsvp: RsvpView, *, to_office: bool = False, own_unit: str | None = None
) -> Html:
    """The current answer with its details, said to the person who gave it (or, with
    ``to_office``, to the office, of that person); ``own_unit`` is hers (see
    :func:`substitute_position`)."""
    label = answer_label(catalog, rsvp.status, rsvp.days)
    key = "rsvp.office_current" if to_office else "rsvp.current"
    if rsvp.status is RsvpStatus.SUBSTITUTE:
        said = substitute_position if to_office else substitute_said
        return catalog.html(
            f"{key}_substitute",
            status=label,
            name=rsvp.substitute_name or "",
            position=said(catalog, rsvp, own_unit),
        )
    if rsvp.status is RsvpStatus.DECLINED and rsvp.reason:
        return catalog.html(f"{key}_declined_reason", status=label, reason=rsvp.reason)
    return catalog.html(key, status=label)


def may_still_come(config: Config, rsvp: RsvpView, *, is_open: bool, now: datetime) -> bool:
    """Whether one is told she may still come: she never answered or declined, the answers
    are closed (she cannot change hers herself any more) and the meeting is not over — the
    desk lets her in (counted as come unexpected, a decliner as come after all). The chat's
    invitation card, its replies past the deadline and her personal page ask this alike."""
    coming_not_expected = rsvp.status in (RsvpStatus.NO_ANSWER, RsvpStatus.DECLINED)
    return not is_open and coming_not_expected and now < config.meeting.ends_at


def still_welcome(
    catalog: Catalog,
    config: Config,
    desk_code: str | None,
    status: RsvpStatus,
) -> Html:
    """The closing said, in chat and on her page, to one who :func:`may_still_come`: the
    deadline is over, she may still come (one who declined: if she can arrange it), what to
    show at the desk (``desk_code``, the code printed under the slip's QR, or the slip when
    she has none) and whom to tell."""
    deadline = deadline_text(catalog, config)
    contact = config.office.contact
    key = (
        "card.answers_closed_declined_may_come"
        if status is RsvpStatus.DECLINED
        else "card.answers_closed_may_come"
    )
    if desk_code:
        return catalog.html(key, deadline=deadline, contact=contact, code=desk_code)
    return catalog.html(f"{key}_slip", deadline=deadline, contact=contact)


def invitation_card(
    catalog: Catalog,
    config: Config,
    delegate: DelegateView,
    rsvp: RsvpView,
    *,
    is_open: bool,
    may_still_come: bool = False,
    desk_code: str | None = None,
) -> Html:
    """The invitation: who is invited, to what, when, where, the programme, the answer.
    ``may_still_come``: the answers are closed, she never answered or declined and the
    meeting is not over — the desk lets her in, so she is told she may still come and what to
    show at the desk (``desk_code``, the code printed under the slip's QR, when she has one),
    as her page shows it."""
    if not is_open and may_still_come:
        closing = still_welcome(catalog, config, desk_code, rsvp.status)
    else:
        closing = catalog.html(
            "card.answer_until" if is_open else "card.answers_closed",
            deadline=deadline_text(catalog, config),
            contact=config.office.contact,
        )
    return Html(
        "\n\n".join(
            [
                *invitation_opening(
                    catalog, config, delegate.full_name, delegate.position, delegate.organization
                ),
                answer(catalog, rsvp, own_unit=delegate.organization),
                closing,
            ]
        )
    )


def recorded(
    catalog: Catalog,
    config: Config,
    rsvp: RsvpView,
    previous: RsvpStatus | None,
    *,
    change_until: str = "rsvp.change_until",
    own_unit: str | None = None,
) -> Html:
    """The confirmation after an answer was stored; ``change_until`` is the text saying how
    to change it (in chat a command, on the personal page the page itself); ``own_unit`` is
    the delegate's (see :func:`substitute_position`)."""
    if rsvp.status is RsvpStatus.SUBSTITUTE:
        text = catalog.html(
            "rsvp.recorded_substitute",
            name=rsvp.substitute_name or "",
            position=substitute_said(catalog, rsvp, own_unit),
        )
    elif rsvp.status is RsvpStatus.DECLINED and rsvp.reason:
        text = catalog.html("rsvp.recorded_declined_reason", reason=rsvp.reason)
    elif rsvp.status is RsvpStatus.ATTENDING and rsvp.days:
        text = catalog.html("rsvp.recorded_attending_days", days=day_list(catalog, rsvp.days))
    elif rsvp.status is RsvpStatus.ATTENDING and config.meeting.several_days:
        dates = config.meeting.dates
        text = catalog.html(
            "rsvp.recorded_attending_every", count=len(dates), days=day_list(catalog, dates)
        )
    else:
        text = catalog.html(f"rsvp.recorded_{rsvp.status.value}")
    parts = [text]
    # Not after a reason added to a decline: «before, you had confirmed: not attending».
    if previous is not None and previous not in (RsvpStatus.NO_ANSWER, rsvp.status):
        parts.append(catalog.html("rsvp.changed_from", previous=status_label(catalog, previous)))
    parts.append(catalog.html(change_until, deadline=deadline_text(catalog, config)))
    return Html("\n".join(parts))


def ask_reason(catalog: Catalog, previous: RsvpStatus | None, *, typed: bool = False) -> Html:
    """The decline is recorded; ask for the optional reason, noting a changed answer
    (``typed``: where choices are numbers typed, also what the other numbers do)."""
    text = catalog.html("rsvp.ask_reason_typed" if typed else "rsvp.ask_reason")
    if previous is None or previous in (RsvpStatus.NO_ANSWER, RsvpStatus.DECLINED):
        return text
    changed = catalog.html("rsvp.changed_from", previous=status_label(catalog, previous))
    return Html(f"{text}\n{changed}")


def _tally_line(catalog: Catalog, key: str, tally: Tally, **params: object) -> Html:
    number = catalog.number  # «1.234», as the dashboard writes the same figures
    return catalog.html(
        key,
        total=number(tally.total),
        linked=number(tally.linked),
        attending=number(tally.by_status[RsvpStatus.ATTENDING]),
        substitute=number(tally.by_status[RsvpStatus.SUBSTITUTE]),
        declined=number(tally.by_status[RsvpStatus.DECLINED]),
        no_answer=number(tally.by_status[RsvpStatus.NO_ANSWER]),
        present=number(tally.present),
        **params,
    )


def hall_line(
    catalog: Catalog,
    hall: Attendance,
    ended: str | None = None,
    *,
    web: bool = True,
    day_over: Mapping[str, str] | None = None,
) -> Html:
    """Who is in the hall, as the overview's block and the page «Có mặt» count it; ``ended``:
    the meeting's end (its local time) once past, the figures then final; ``day_over``: the
    evening of a meeting day with another to come (:func:`day_over`), that day's result.
    Without ``web`` (no [web]: no «Có mặt» page, no dashboard) it points to the commands that
    write the lists."""
    number = catalog.number
    figures = {
        "present": number(hall.present), "arrived": number(hall.arrived),
        "expected": number(hall.expected), "in_hall": number(hall.in_hall),
        "missing": number(hall.missing_total),
    }  # fmt: skip
    tail = "" if web else "_no_web"
    if day_over is not None:
        return catalog.html("office.counts_hall_day_over", **day_over, **figures)
    if ended and hall.whole:  # several days: the whole meeting's, each person once
        return catalog.html(f"office.counts_hall_whole{tail}", time=ended, **figures)
    if ended:
        return catalog.html(f"office.counts_hall_ended{tail}", time=ended, **figures)
    return catalog.html(f"office.counts_hall{tail}", **figures)


def counts(catalog: Catalog, config: Config, result: Counts) -> list[Html]:
    """The office's statistics, as lines ready for :func:`split_lines`."""
    lines = [
        catalog.html("office.counts_title", title=config.meeting.display_title),
        _tally_line(
            catalog,
            "office.counts_overall",
            result.overall,
            capacity=catalog.number(result.capacity),
        ),
    ]
    if result.by_day:  # a meeting of several days: how many to expect (and feed) each day
        lines.append(Html(html.escape(expected_by_day(catalog, result.by_day), quote=False)))
    if result.overall.present > result.capacity:
        lines.append(
            catalog.html(
                "office.counts_over_capacity",
                present=catalog.number(result.overall.present),
                capacity=catalog.number(result.capacity),
            )
        )
    lines.append(catalog.html("office.counts_by_group"))
    for number, group in enumerate(result.groups, start=1):
        lines.append(
            _tally_line(
                catalog, "office.counts_group", group.tally, number=number, label=group.label
            )
        )
    return lines


def quota_lines(catalog: Catalog, uses: Sequence[QuotaUse]) -> list[Html]:
    """The bots' monthly figures under the counts (``Zalo: 38/50 người, 2.412/3.000 tin tháng
    12 (trong đó 1.900 tin trả lời)``); nothing while no bot with a quota is in use."""
    shown = [use for use in uses if use.in_use]
    if not shown:
        return []
    return [catalog.html("quota.title"), *(quota_line(catalog, use) for use in shown)]


def quota_line(catalog: Catalog, use: QuotaUse) -> Html:
    """One bot's figures: people linked, and messages this month (its own sends and its
    replies, as the platform counts them; the replies named), against their limits."""
    return catalog.html(
        "quota.line",
        bot=use.quota.label,
        people=catalog.number(use.people),
        people_limit=catalog.number(use.quota.linked_people),
        messages=catalog.number(use.messages),
        messages_limit=catalog.number(use.quota.monthly_messages),
        month=use.month,
        replies=catalog.number(use.replies),
    )


@dataclass(frozen=True)
class UnansweredLines:
    """A page of the list of delegates who have not answered, as lines of one message: how
    many people it shows and the code of the last (the next page starts after them)."""

    lines: list[Html]
    shown: int
    last_code: str | None


def unanswered(
    catalog: Catalog, page: UnansweredPage, budget: int, full_list: str | None = None
) -> UnansweredLines:
    """Who has not answered, by group in protocol order: as many people of ``page`` as fit in
    ``budget`` characters with the page's title and footer (always at least one); the footer
    points to the whole list at ``full_list`` (the dashboard's, for a chat without files),
    else to the report workbook."""
    if not page.total:
        return UnansweredLines([catalog.html("office.unanswered_none")], 0, None)
    number = catalog.number  # «1.234», as the dashboard writes the same figures
    first = page.before + 1
    if page.before:
        title = catalog.html(
            "office.unanswered_title_more", total=number(page.total), first=number(first)
        )
    else:
        title = catalog.html("office.unanswered_title", total=number(page.total))
    # Room for the longest footer this page could end with.
    longest = _unanswered_footer(catalog, page, page.total, True, full_list)
    room = budget - len(title) - 1 - len(longest) - 1
    lines: list[Html] = [title]
    shown, last_code = 0, None
    people = [
        (group, index == 0, person)
        for group in page.groups
        for index, person in enumerate(group.delegates)
    ]
    for group, opens_group, person in people:
        key = "office.unanswered_linked" if person.linked else "office.unanswered_unlinked"
        adding = [
            catalog.html(
                key,
                code=person.code,
                name=person.full_name,
                position=person.position,
                organization=person.organization,
            )
        ]
        if opens_group:  # every group on the page is named, the one it starts inside too
            heading = catalog.html(
                "office.unanswered_group", label=group.label, count=number(group.total)
            )
            adding.insert(0, heading)
        size = sum(len(text) + 1 for text in adding)
        if shown and size > room:
            break
        lines += adding
        room -= size
        shown += 1
        last_code = person.code
    last = page.before + shown
    if page.before or last < page.total:
        lines.append(_unanswered_footer(catalog, page, last, last < page.total, full_list))
    return UnansweredLines(lines, shown, last_code if last < page.total else None)


def _unanswered_footer(
    catalog: Catalog, page: UnansweredPage, last: int, more: bool, full_list: str | None
) -> Html:
    shown = catalog.html(
        "office.unanswered_shown",
        first=catalog.number(page.before + 1),
        last=catalog.number(last),
        total=catalog.number(page.total),
    )
    if not more:
        return shown
    if full_list is not None:
        more_text = catalog.html(
            "office.unanswered_more_link", next=catalog.plain("buttons.next_page"), link=full_list
        )
        return Html(f"{shown} {more_text}")
    more_text = catalog.html(
        "office.unanswered_more",
        next=catalog.plain("buttons.next_page"),
        sheet=catalog.plain("report_sheet.delegates.title"),
        column=catalog.plain("report_sheet.delegates.answer"),
    )
    return Html(f"{shown} {more_text}")
