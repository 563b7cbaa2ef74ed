"""Service results as Telegram HTML, through the text catalog."""

from __future__ import annotations

from collections.abc import Iterable

from bot.config import Config
from bot.domain.rsvp import RsvpStatus
from bot.services.reports import Counts, Tally, UnansweredGroup
from bot.services.views import DelegateView, RsvpView
from bot.texts import Catalog, Html
from bot.texts.presenters import agenda, deadline_text, status_label, when_where

MESSAGE_LIMIT = 4096  # characters after entity parsing; we count the HTML, which is longer


def answer(catalog: Catalog, rsvp: RsvpView) -> Html:
    """The current answer with its details."""
    label = status_label(catalog, rsvp.status)
    if rsvp.status is RsvpStatus.SUBSTITUTE:
        return catalog.html(
            "rsvp.current_substitute",
            status=label,
            name=rsvp.substitute_name or "",
            position=rsvp.substitute_position or "",
        )
    if rsvp.status is RsvpStatus.DECLINED and rsvp.reason:
        return catalog.html("rsvp.current_declined_reason", status=label, reason=rsvp.reason)
    return catalog.html("rsvp.current", status=label)


def invitation_card(
    catalog: Catalog, config: Config, delegate: DelegateView, rsvp: RsvpView, *, is_open: bool
) -> Html:
    """The invitation: who is invited, to what, when, where, the programme, the answer."""
    meeting = config.meeting
    closing = "card.answer_until" if is_open else "card.answers_closed"
    return Html(
        "\n\n".join(
            [
                catalog.html(
                    "card.greeting",
                    name=delegate.full_name,
                    position=delegate.position,
                    organization=delegate.organization,
                ),
                catalog.html(
                    "card.invitation",
                    organizer=meeting.organizer,
                    title=meeting.title,
                    plan=meeting.plan_number,
                ),
                when_where(catalog, config),
                catalog.html("card.agenda", agenda=agenda(catalog, config)),
                answer(catalog, rsvp),
                catalog.html(
                    closing,
                    deadline=deadline_text(catalog, config),
                    contact=config.office.contact,
                ),
            ]
        )
    )


def recorded(catalog: Catalog, config: Config, rsvp: RsvpView, previous: RsvpStatus | None) -> Html:
    """The confirmation after an answer was stored."""
    if rsvp.status is RsvpStatus.SUBSTITUTE:
        text = catalog.html(
            "rsvp.recorded_substitute",
            name=rsvp.substitute_name or "",
            position=rsvp.substitute_position or "",
        )
    elif rsvp.status is RsvpStatus.DECLINED and rsvp.reason:
        text = catalog.html("rsvp.recorded_declined_reason", reason=rsvp.reason)
    else:
        text = catalog.html(f"rsvp.recorded_{rsvp.status.value}")
    parts = [text]
    if previous is not None and previous is not RsvpStatus.NO_ANSWER:
        parts.append(catalog.html("rsvp.changed_from", previous=status_label(catalog, previous)))
    parts.append(catalog.html("rsvp.change_until", deadline=deadline_text(catalog, config)))
    return Html("\n".join(parts))


def ask_reason(catalog: Catalog, previous: RsvpStatus | None) -> Html:
    """The decline is recorded; ask for the optional reason, noting a changed answer."""
    text = catalog.html("rsvp.ask_reason")
    if previous is None or previous in (RsvpStatus.NO_ANSWER, RsvpStatus.DECLINED):
        return text
    changed = catalog.html("rsvp.changed_from", previous=status_label(catalog, previous))
    return Html(f"{text}\n{changed}")


def _tally_line(catalog: Catalog, key: str, tally: Tally, **params: object) -> Html:
    return catalog.html(
        key,
        total=tally.total,
        linked=tally.linked,
        attending=tally.by_status[RsvpStatus.ATTENDING],
        substitute=tally.by_status[RsvpStatus.SUBSTITUTE],
        declined=tally.by_status[RsvpStatus.DECLINED],
        no_answer=tally.by_status[RsvpStatus.NO_ANSWER],
        present=tally.present,
        **params,
    )


def counts(catalog: Catalog, config: Config, result: Counts) -> list[Html]:
    """The office's statistics, as lines ready for :func:`split_lines`."""
    lines = [
        catalog.html("office.counts_title", title=config.meeting.display_title),
        _tally_line(catalog, "office.counts_overall", result.overall, capacity=result.capacity),
    ]
    if result.overall.present > result.capacity:
        lines.append(
            catalog.html(
                "office.counts_over_capacity",
                present=result.overall.present,
                capacity=result.capacity,
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


def unanswered(catalog: Catalog, groups: list[UnansweredGroup]) -> list[Html]:
    """Who has not answered, by group in protocol order."""
    if not groups:
        return [catalog.html("office.unanswered_none")]
    total = sum(len(group.delegates) for group in groups)
    lines = [catalog.html("office.unanswered_title", total=total)]
    for group in groups:
        lines.append(
            catalog.html("office.unanswered_group", label=group.label, count=len(group.delegates))
        )
        for person in group.delegates:
            key = "office.unanswered_linked" if person.linked else "office.unanswered_unlinked"
            lines.append(
                catalog.html(
                    key,
                    code=person.code,
                    name=person.full_name,
                    position=person.position,
                    organization=person.organization,
                )
            )
    return lines


def split_lines(lines: Iterable[str], limit: int = MESSAGE_LIMIT) -> list[str]:
    """Join lines into messages of at most ``limit`` characters, splitting at line breaks.

    A single line longer than the limit (a long paragraph someone typed) is cut at a space,
    never inside an HTML entity; rendered lines never carry a tag across such a cut because
    person-typed text is escaped and tags wrap only short labels.
    """
    messages: list[str] = []
    current: list[str] = []
    size = 0
    for whole in lines:
        for line in _cut(whole, limit):
            extra = len(line) + (1 if current else 0)
            if current and size + extra > limit:
                messages.append("\n".join(current))
                current, size = [], 0
                extra = len(line)
            current.append(line)
            size += extra
    if current:
        messages.append("\n".join(current))
    return messages


def _cut(line: str, limit: int) -> list[str]:
    pieces = []
    while len(line) > limit:
        cut = line.rfind(" ", 0, limit)
        if cut <= 0:
            cut = limit
        entity = line.rfind("&", 0, cut)
        if entity != -1 and ";" not in line[entity:cut]:
            cut = entity  # do not split "&amp;" in two
        pieces.append(line[:cut])
        line = line[cut:].lstrip(" ")
    pieces.append(line)
    return pieces
