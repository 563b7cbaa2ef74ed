"""Office notices (``/thongbao``, ``/lichthongbao``): write, choose who gets it, preview the exact
count, send now or schedule; the scheduled list with cancel; resend to those it failed."""

from __future__ import annotations

from datetime import datetime

from bot.chat.turn import Turn
from bot.domain.ids import parse_id
from bot.domain.inbound import Action, Text
from bot.domain.outbound import (
    Answer,
    Audience,
    Button,
    DeliveryStatus,
    MessageStatus,
    notice_audiences,
)
from bot.domain.typed import opening
from bot.services.access import OfficeActor
from bot.services.broadcasts import (
    BROADCAST_ACTION,
    MAX_BROADCAST,
    BroadcastResult,
    BroadcastStep,
    BroadcastSummary,
    audience_action,
)
from bot.texts import Html
from bot.texts.formatting import moment
from bot.texts.presenters import (
    audience_label,
    broadcast_html,
    notice_length,
    on_pages,
    ran_out_words,
    skipped_reason,
    typed_time_params,
)

Rows = tuple[tuple[Button, ...], ...]
# Characters of an unfinished draft quoted to the office, to recognise it by (as the dashboard).
DRAFT_OPENING = 80


def _cancel_row(turn: Turn) -> tuple[Button, ...]:
    return (Button(turn.catalog.plain("buttons.cancel"), f"{BROADCAST_ACTION}cancel"),)


async def start(turn: Turn, office: OfficeActor) -> Answer:
    """``/thongbao``: begin a notice (in private: the text is typed there)."""
    if turn.in_group:
        return turn.say("broadcast.private_only")
    return reply(turn, await turn.services.broadcasts.begin(office))


async def listing(turn: Turn, office: OfficeActor) -> Answer:
    """``/lichthongbao``: scheduled notices (with a cancel choice each), the soonest first (one
    whose time has come is being sent: said so, without a cancel choice), then the recent ones
    sent, cancelled or skipped (each said why it went to nobody), the highest number first."""
    catalog, config = turn.catalog, turn.config
    items = await turn.services.broadcasts.recent(office)
    if not items:
        return turn.say("broadcast.list_empty")
    lines: list[str] = [catalog.html("broadcast.list_title")]
    rows: list[tuple[Button, ...]] = []
    for item in items:
        who = audience_label(catalog, config, item.audience)
        counts = item.deliveries
        if item.due:
            # Its time has come («Gửi ngay», or the time reached): being sent, as the notices
            # page says, no longer to be cancelled.
            lines.append(
                catalog.html(
                    "broadcast.list_due", number=item.number, audience=who, preview=item.preview
                )
            )
        elif item.status is MessageStatus.SCHEDULED and item.due_at is not None:
            when = moment(catalog, config.meeting.local(item.due_at))
            lines.append(
                catalog.html(
                    "broadcast.list_scheduled",
                    number=item.number,
                    when=when,
                    audience=who,
                    preview=item.preview,
                )
            )
            rows.append(
                (
                    Button(
                        catalog.plain("buttons.bc_cancel_id", number=item.number),
                        f"{BROADCAST_ACTION}cancel:{item.id}",
                    ),
                )
            )
        elif item.status is MessageStatus.CANCELLED:
            lines.append(
                catalog.html(
                    "broadcast.list_cancelled",
                    number=item.number,
                    when=_moment(turn, item.finished_at),
                    due=_moment(turn, item.due_at),
                    audience=who,
                    preview=item.preview,
                )
            )
        elif item.skipped is not None:
            skipped = catalog.html(
                "broadcast.list_skipped",
                number=item.number,
                why=skipped_reason(catalog, config, item.skipped, item.due_at),
                audience=who,
                preview=item.preview,
            )
            lines.append(Html(skipped + _ran_out(turn, item)))  # every copy ran out: who
        elif item.status is MessageStatus.QUEUED:
            lines.append(
                catalog.html(
                    "broadcast.list_sending",
                    number=item.number,
                    audience=who,
                    sent=catalog.number(counts[DeliveryStatus.SENT]),
                    total=catalog.number(sum(counts.values())),
                )
            )
        else:
            done = catalog.html(
                "broadcast.list_done",
                number=item.number,
                audience=who,
                sent=catalog.number(counts[DeliveryStatus.SENT]),
                blocked=catalog.number(counts[DeliveryStatus.BLOCKED]),
                failed=catalog.number(counts[DeliveryStatus.FAILED]),
                not_linked=catalog.number(counts[DeliveryStatus.NOT_LINKED]),
            )
            # Copies its window closed on before they went (the bot stopped while sending).
            lines.append(Html(done + _ran_out(turn, item)))
    return Answer.say("\n".join(lines), tuple(rows))


def _ran_out(turn: Turn, item: BroadcastSummary) -> Html:
    """Whom a notice's copies ran out for, the first few by name (the office phones them)."""
    if not item.ran_out:
        return Html("")
    catalog = turn.catalog
    key, params = ran_out_words(catalog, "broadcast.list_ran_out", item.ran_out, item.first_ran_out)
    return catalog.html(key, **params)


def _moment(turn: Turn, at: datetime | None) -> str:
    return moment(turn.catalog, turn.config.meeting.local(at)) if at is not None else ""


async def on_text(turn: Turn, text: Text) -> Answer | None:
    """Typed text from office staff composing a notice; None if no notice waits for it."""
    office = await turn.office()
    if office is None:
        return None
    result = await turn.services.broadcasts.accept_text(office, text.text)
    return None if result is None else reply(turn, result)


async def on_stray_text(turn: Turn, text: Text) -> Answer | None:
    """Typed text from office staff whose notice waits for a choice (its audience, or the
    preview's send / schedule / cancel) that no other dialog took: what the step waits for,
    the text kept as a possible new notice; None if no notice waits so."""
    office = await turn.office()
    if office is None:
        return None
    result = await turn.services.broadcasts.accept_stray_text(office, text.text)
    return None if result is None else reply(turn, result)


async def on_action(turn: Turn, action: Action) -> Answer:
    """Every notice choice: audience, groups, send now, schedule, cancel, resend."""
    office = await turn.office()
    if office is None:
        return Answer(toast=turn.toast("office.refused", alert=True))
    what, _, rest = action.data.removeprefix(BROADCAST_ACTION).partition(":")
    target, _, audience = rest.partition(":")
    message_id = parse_id(target)
    broadcasts = turn.services.broadcasts
    if what == "cancel":
        result = await broadcasts.cancel(office, message_id)
    elif what == "new":  # in place of the unfinished draft, as she chose
        result = await broadcasts.start(office)
    elif message_id is None:
        result = BroadcastResult(BroadcastStep.GONE)
    elif what == "aud":
        result = await broadcasts.choose_audience(office, message_id, audience)
    elif what == "groups":
        return turn.say("broadcast.choose_group", _groups(turn, message_id))
    elif what == "typed":  # what she typed where a time or a choice was asked, as a new notice
        result = await broadcasts.start_with_typed(office, message_id)
    elif what == "keep":  # the unfinished draft, where it was left
        result = await broadcasts.resume(office, message_id)
    elif what == "now":
        result = await broadcasts.send_now(office, message_id)
    elif what == "later":
        result = await broadcasts.ask_time(office, message_id)
    elif what == "resend":
        result = await broadcasts.resend_failed(office, message_id)
    else:
        result = BroadcastResult(BroadcastStep.GONE)
    return reply(turn, result)


def _groups(turn: Turn, message_id: int) -> Rows:
    rows = tuple(
        (Button(group.label[:60], audience_action(message_id, f"{Audience.GROUP}:{group.key}")),)
        for group in turn.config.groups_in_order
    )
    return (*rows, _cancel_row(turn))


def reply(turn: Turn, result: BroadcastResult) -> Answer:
    """What the office is told after a step of writing a notice."""
    catalog, config = turn.catalog, turn.config
    step, message_id = result.step, result.message_id
    if step is BroadcastStep.ASK_TEXT:
        return turn.say(
            "broadcast.ask_text", (_cancel_row(turn),), limit=turn.catalog.number(MAX_BROADCAST)
        )
    if step is BroadcastStep.UNFINISHED:  # go on with it, or a new one in its place
        choices = (
            (Button(catalog.plain("buttons.bc_keep"), f"{BROADCAST_ACTION}keep:{message_id}"),),
            (Button(catalog.plain("buttons.bc_new"), f"{BROADCAST_ACTION}new:{message_id}"),),
        )
        return turn.say(
            "broadcast.unfinished", choices, preview=opening(result.body or "", DRAFT_OPENING)
        )
    if step is BroadcastStep.ASK_AUDIENCE:
        assert message_id is not None
        return turn.say("broadcast.ask_audience", _audience_rows(turn, message_id))
    if step in (BroadcastStep.TYPED_AT_AUDIENCE, BroadcastStep.TYPED_AT_PREVIEW):
        # What the step waits for, its choices again, and her text kept: a new notice of it
        # is one choice away (as where the time was asked).
        assert message_id is not None
        typed = Button(catalog.plain("buttons.bc_typed"), f"{BROADCAST_ACTION}typed:{message_id}")
        rows = (
            _audience_rows(turn, message_id)
            if step is BroadcastStep.TYPED_AT_AUDIENCE
            else (*_send_rows(turn, message_id), _cancel_row(turn))
        )
        return turn.say(
            f"broadcast.{step.value}", ((typed,), *rows),
            preview=opening(result.body or "", DRAFT_OPENING), chars=catalog.number(result.count),
        )  # fmt: skip
    if step in (BroadcastStep.PREVIEW, BroadcastStep.NO_RECIPIENTS):
        return _preview(turn, result)
    if step is BroadcastStep.NO_LIST and result.reach is not None:  # its preview: who, nobody
        return _preview(turn, result)
    if step in (BroadcastStep.QUEUED, BroadcastStep.SCHEDULED):
        assert result.reach is not None
        when = moment(catalog, config.meeting.local(result.due_at)) if result.due_at else ""
        reach = result.reach
        return turn.say(
            f"broadcast.{step.value}",
            number=result.number,
            reachable=catalog.number(reach.reachable),
            when=when,
            pages=on_pages(catalog, config, reach.blocked + reach.not_linked),
        )
    if step is BroadcastStep.ASK_TIME:
        late, examples = typed_time_params(config, turn.services.ctx.clock.now())
        return turn.say(
            f"broadcast.ask_time{late}", (_cancel_row(turn),), zone=config.meeting.timezone,
            **examples,
        )  # fmt: skip
    if step is BroadcastStep.PAST_TIME:
        assert result.due_at is not None
        return turn.say(
            "broadcast.past_time", when=moment(catalog, config.meeting.local(result.due_at))
        )
    if step is BroadcastStep.CANCELLED:
        return turn.say("broadcast.cancelled", number=result.number)
    if step is BroadcastStep.DROPPED:
        return turn.say("broadcast.dropped")
    if step is BroadcastStep.NOT_A_TIME:  # a new notice, most likely: one choice makes it so
        _, examples = typed_time_params(config, turn.services.ctx.clock.now())
        typed = Button(catalog.plain("buttons.bc_typed"), f"{BROADCAST_ACTION}typed:{message_id}")
        return turn.say(
            "broadcast.not_a_time", ((typed,), _cancel_row(turn)),
            preview=opening(result.body or "", DRAFT_OPENING), chars=catalog.number(result.count),
            **examples,
        )  # fmt: skip
    if step is BroadcastStep.TOO_LONG:  # by how much, as the dashboard says it
        return turn.say(
            "broadcast.too_long", length=notice_length(catalog, result.count, result.limit)
        )
    # empty, bad time, gone, resent, nothing to resend, a confirmation taken before
    when = moment(catalog, config.meeting.local(result.due_at)) if result.due_at else ""
    _, examples = typed_time_params(config, turn.services.ctx.clock.now())  # for a bad time
    # A resend that left those who may have it says how many, and why.
    kept = "_kept" if result.kept else ""
    return turn.say(
        f"broadcast.{step.value}{kept}", number=result.number or "",
        limit=catalog.number(result.limit or 0),
        count=catalog.number(result.count), when=when, kept=catalog.number(result.kept),
        **examples,
    )  # fmt: skip


def _audience_rows(turn: Turn, message_id: int) -> Rows:
    """The audiences a notice is offered, then «by group» and cancel."""
    catalog, config = turn.catalog, turn.config
    # The notice's audiences but every invitee, which the chat offers first on its own.
    simple = notice_audiences(config.meeting.day_begun(turn.services.ctx.clock.now()))[1:]
    rows: Rows = tuple(
        (Button(audience_label(catalog, config, audience), audience_action(message_id, audience)),)
        for audience in simple
    )
    return (
        *rows,
        (Button(catalog.plain("buttons.bc_groups"), f"{BROADCAST_ACTION}groups:{message_id}"),),
        _cancel_row(turn),
    )


def _send_rows(turn: Turn, message_id: int) -> Rows:
    """A previewed notice's «send now» and «schedule»."""
    catalog = turn.catalog
    return (
        (
            Button(catalog.plain("buttons.bc_now"), f"{BROADCAST_ACTION}now:{message_id}"),
            Button(catalog.plain("buttons.bc_later"), f"{BROADCAST_ACTION}later:{message_id}"),
        ),
    )


def _preview(turn: Turn, result: BroadcastResult) -> Answer:
    catalog, config = turn.catalog, turn.config
    assert result.reach is not None and result.message_id is not None and result.audience
    reach = result.reach
    lines = [
        catalog.html("broadcast.preview_header"),
        broadcast_html(catalog, config.office.name, result.body or ""),
        catalog.html(
            "broadcast.preview_footer",
            audience=audience_label(catalog, config, result.audience),
            reachable=catalog.number(reach.reachable),
        ),
    ]
    if reach.for_substitute:
        lines.append(
            catalog.html(
                "broadcast.preview_for_substitute", count=catalog.number(reach.for_substitute)
            )
        )
    if result.step is BroadcastStep.NO_LIST:  # nobody on any list: said, and no way to send
        lines.append(catalog.html("broadcast.no_list"))
        return Answer.say(Html("\n\n".join(lines)), (_cancel_row(turn),))
    # Where invitees have personal pages, those no chat reaches read the notice there once
    # they open it (bot.services.pages): said, while the ones to phone are still named.
    page = "_page" if config.web is not None else ""
    if reach.blocked:
        lines.append(
            catalog.html(f"broadcast.preview_blocked{page}", blocked=catalog.number(reach.blocked))
        )
    if reach.not_linked:
        names = ", ".join(f"{code} {name}" for code, name in reach.first_not_linked)
        more = reach.not_linked - len(reach.first_not_linked)
        if not more:
            lines.append(
                catalog.html(
                    f"broadcast.preview_not_linked{page}",
                    count=catalog.number(reach.not_linked),
                    names=names,
                )
            )
        elif result.audience == Audience.AWAITED:  # all answered: the report is the list
            lines.append(
                catalog.html(
                    f"broadcast.preview_not_linked_more_awaited{page}",
                    count=catalog.number(reach.not_linked),
                    names=names,
                    more=catalog.number(more),
                )
            )
        else:  # the first few by name, the rest counted: a preview is one message to read
            lines.append(
                catalog.html(
                    f"broadcast.preview_not_linked_more{page}",
                    count=catalog.number(reach.not_linked),
                    names=names,
                    more=catalog.number(more),
                    sheet=catalog.plain("report_sheet.delegates.title"),
                    column=catalog.plain("report_sheet.delegates.linked"),
                )
            )
    if (reach.not_linked or reach.blocked) and result.audience == Audience.AWAITED:
        # On the meeting day, to those expected and not in yet: what the chat gives her to
        # phone them (the dashboard's preview links to the «Chưa đến» list instead).
        lines.append(catalog.html("broadcast.preview_awaited_phones"))
    rows: Rows = ()
    if result.step is BroadcastStep.NO_RECIPIENTS:
        lines.append(catalog.html("broadcast.no_recipients"))
    else:
        rows = _send_rows(turn, result.message_id)
    return Answer.say(Html("\n\n".join(lines)), (*rows, _cancel_row(turn)))
