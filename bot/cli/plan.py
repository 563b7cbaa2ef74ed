"""``hoinghi check``: the config validated and the plan printed as its office wrote it."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from datetime import datetime

from sqlalchemy.exc import SQLAlchemyError

from bot.app import CHANNELS, run_problems
from bot.cli.common import (
    EXIT_INVALID,
    EXIT_OK,
    code_taken_message,
    load,
    out,
    safe_url,
    say,
    warnings_of,
)
from bot.config import Config, LoadedConfig
from bot.domain.clock import SystemClock
from bot.domain.outbound import Audience, MessageKind
from bot.domain.reminders import planned_messages
from bot.services.meetings import StoredMeeting, another_meeting, stored_meeting
from bot.texts import Catalog
from bot.texts.formatting import clock, day_month, meeting_time, moment
from bot.texts.presenters import agenda_day_label
from storage.engine import create_reading_engine, create_sessionmaker
from storage.guard import sqlite_file

# How long ``check`` waits for the plan's database to say what it holds under the meeting's code.
STORED_MEETING_SECONDS = 5.0


def cmd_check(args: argparse.Namespace) -> int:
    """Validate the config and print the plan as the office wrote it."""
    loaded = load(args)
    if isinstance(loaded, int):
        return loaded
    config, catalog = loaded[0].config, loaded[1]
    # What the database holds: the speakers' own deadlines for the summary; and valid is not the
    # same as meant: a past date or the example's ids pass every rule; a date the database holds
    # otherwise is a meeting postponed, whose delegates must hear of it.
    stored = asyncio.run(read_stored_meeting(loaded[0]))
    for line in plan_summary(config, catalog, loaded[0], stored, now=SystemClock().now()):
        out(line)
    warnings = warnings_of(loaded[0], catalog, stored)
    # Nor is a code of its own: a copied plan keeps the other meeting's, and the commands that
    # use the database then refuse it (bot.services.meetings.CodeTaken).
    if (taken := another_meeting(stored, config)) is not None:
        message = code_taken_message(catalog, loaded[0], taken, refused=False)
        warnings.append(("meeting.code", message))
    # Valid is not enough either: what `run` from here would refuse is an error, as the config
    # checks' are (`run` stops on it), every one at once.
    problems = run_problems(os.environ, config)
    if problems:
        out(
            catalog.plain("cli.config_invalid", path=loaded[0].path, count=len(problems)),
            sys.stderr,
        )
        for key, refusal in problems:
            out(
                catalog.plain("cli.problem_line", where=key, message=say(catalog, refusal)),
                sys.stderr,
            )
        if warnings:
            out(catalog.plain("check.also_warnings", count=len(warnings)), sys.stderr)
            for key, message in warnings:
                out(catalog.plain("cli.problem_line", where=key, message=message), sys.stderr)
        return EXIT_INVALID
    if warnings:
        out(catalog.plain("check.valid_with_warnings", path=loaded[0].path, count=len(warnings)))
        for key, message in warnings:
            out(catalog.plain("cli.problem_line", where=key, message=message))
    else:
        out(catalog.plain("check.valid", path=loaded[0].path))
    return EXIT_OK


def own_deadline_lines(
    config: Config, catalog: Catalog, stored: StoredMeeting | None, now: datetime
) -> list[str]:
    """The speakers the office gave deadlines of their own (assignments in force, in the
    database, not the plan): who, the theme, the deadline and the reminders planned before it,
    as the scheduler plans them (:meth:`Assignments.own_deadlines`); none for another meeting's
    row (a copied plan: said as such). A reminder whose time is ``now`` or before is marked
    past rather than left out: the office reads that it is not still to come, and a speaker
    whose reminders have all passed does not read as never reminded; check reads no outbox,
    so it says the time has passed, not whether she was written to."""
    if stored is None or another_meeting(stored, config) is not None or not stored.own_speakers:
        return []
    meeting = config.meeting
    since: dict[datetime, datetime] = {}
    for one in stored.own_speakers:
        since[one.deadline_at] = min(since.get(one.deadline_at, one.assigned_at), one.assigned_at)
    reminders = [p for p in planned_messages(config, since) if p.kind is MessageKind.DRAFT_REMINDER]
    lines = [catalog.plain("check.own_deadlines", count=len(stored.own_speakers))]
    for one in stored.own_speakers:
        deadline = moment(catalog, meeting.local(one.deadline_at))
        lines.append(
            catalog.plain(
                "check.own_deadline_item",
                name=one.full_name,
                code=one.code,
                theme=one.theme_key,
                deadline=deadline,
            )
        )
        mine = [p.due_at for p in reminders if p.expires_at == one.deadline_at]
        for due in sorted(mine):
            key = (
                "check.own_deadline_reminder_past" if due <= now else "check.own_deadline_reminder"
            )
            lines.append(catalog.plain(key, when=moment(catalog, meeting.local(due))))
        if not mine:
            lines.append(catalog.plain("check.own_deadline_no_reminder"))
    return lines


async def read_stored_meeting(loaded: LoadedConfig) -> StoredMeeting | None:
    """What the plan's database holds under its meeting's code; None when it holds nothing, or
    cannot be read: ``check`` creates no database, upgrades none and writes nothing to one (an
    SQLite file is opened read-only), and says the file alone."""
    url = loaded.database_url
    path = sqlite_file(url)
    if path is not None and not path.is_file():
        return None  # nothing to read yet
    engine = create_reading_engine(url)
    try:
        return await asyncio.wait_for(
            stored_meeting(
                create_sessionmaker(engine), loaded.config.meeting.code, SystemClock().now()
            ),
            timeout=STORED_MEETING_SECONDS,  # a server that does not answer: check goes on
        )
    except (SQLAlchemyError, OSError, TimeoutError):  # no table yet, a server down: no compare
        return None
    finally:
        await engine.dispose()


def plan_summary(
    config: Config,
    catalog: Catalog,
    loaded: LoadedConfig,
    stored: StoredMeeting | None = None,
    *,
    now: datetime,
) -> list[str]:
    """A readable summary of the plan, line by line; with what the database holds
    (``stored``), the speakers the office gave deadlines of their own and their reminders;
    every planned message whose time is ``now`` or before is marked past."""
    meeting = config.meeting
    starts, ends = meeting.local(meeting.starts_at), meeting.local(meeting.ends_at)
    when_key, meeting_when = meeting_time(catalog, "check.when", starts, ends)
    lines = [
        catalog.plain("check.title", plan=meeting.plan_number, title=meeting.title),
        catalog.plain("check.organizer", organizer=meeting.organizer),
        catalog.plain(when_key, **meeting_when, zone=meeting.timezone),
        catalog.plain("check.where", venue=meeting.venue.name, address=meeting.venue.address),
        catalog.plain("check.map", url=meeting.venue.map_url),
        catalog.plain("check.capacity", capacity=meeting.capacity),
        catalog.plain(
            "check.rsvp_deadline", deadline=moment(catalog, meeting.local(meeting.rsvp_deadline_at))
        ),
        "",
        catalog.plain("check.agenda", count=len(config.agenda)),
    ]
    by_day = config.agenda_by_day()
    for day, items in config.agenda_days():
        if by_day:
            lines.append(
                catalog.plain("check.agenda_day", date=agenda_day_label(catalog, config, day))
            )
        for item in items:
            lines.append(
                catalog.plain(
                    "check.agenda_item",
                    start=clock(item.start),
                    end=clock(item.end),
                    title=item.title,
                )
            )
    if meeting.several_days and not by_day:
        # One list for the whole meeting: who gets it on which morning (the days each answer
        # names decide it) is not something the office could guess from the lines below.
        lines.append(catalog.plain("check.agenda_undated"))
    # No speeches (an office's own meeting often has none): said so, not «(0):» over nothing.
    themes_line = (
        catalog.plain("check.themes", count=len(config.themes))
        if config.themes
        else catalog.plain("check.themes_none")
    )
    lines += ["", themes_line]
    for theme in config.themes:
        lines.append(catalog.plain("check.theme_item", key=theme.key, title=theme.title))
        if theme.speakers:
            lines.append(catalog.plain("check.theme_speakers", codes=", ".join(theme.speakers)))
    if config.themes:
        lines.append(
            catalog.plain(
                "check.drafts",
                deadline=moment(catalog, meeting.local(meeting.resolve(config.drafts.deadline))),
                directory=loaded.drafts_dir,
            )
        )
    lines += ["", catalog.plain("check.groups", count=len(config.groups))]
    lines += [
        catalog.plain("check.group_item", order=g.order, label=g.label, key=g.key)
        for g in config.groups_in_order
    ]
    lines += ["", catalog.plain("check.tasks", count=len(config.tasks))]
    for task in config.tasks:
        due = moment(catalog, meeting.local(meeting.resolve(task.deadline)))
        lines.append(
            catalog.plain(
                "check.task_item", key=task.key, title=task.title, owner=task.owner, deadline=due
            )
        )
        if task.contacts:
            lines.append(catalog.plain("check.task_contacts", contacts=", ".join(task.contacts)))
    lines += ["", catalog.plain("check.reminders")]
    planned = planned_messages(config)
    for message in planned:
        if message.kind in (MessageKind.TASK_REMINDER, MessageKind.TASK_OVERDUE):
            continue  # summarised below: one line per task would drown the plan
        when = moment(catalog, meeting.local(message.due_at))
        what = catalog.plain(f"kind.{message.kind.value}", number="")
        if message.kind is MessageKind.MORNING_AGENDA and message.params and not by_day:
            # A programme without days on a later morning: only for those who begin that day.
            begins = meeting.day_date(int(str(message.params["day"])))
            what = catalog.plain(
                "check.morning_from_day", what=what, day=day_month(catalog, begins)
            )
        # Marked past the way the speakers' own reminders are (own_deadline_lines): at its time
        # or before, it is not still to come.
        key = "check.reminder_item_past" if message.due_at <= now else "check.reminder_item"
        lines.append(catalog.plain(key, what=what, when=when))
    # A task with no contacts has its reminders planned but nobody to get them: counted apart.
    alone = [t.key for t in config.tasks if not t.contacts]
    unread = {f"{Audience.TASK}:{key}" for key in alone}
    reminders = [p for p in planned if p.kind is MessageKind.TASK_REMINDER]
    nobody = sum(p.audience in unread for p in reminders)
    mornings = sum(p.kind is MessageKind.TASK_OVERDUE for p in planned)
    lines.append(
        catalog.plain(
            "check.task_reminders_nobody" if nobody else "check.task_reminders",
            reminders=len(reminders) - nobody,
            nobody=nobody,
            tasks=", ".join(alone),
            mornings=mornings,
        )
    )
    # Run with the pages alone, the plan's messages reach nobody: a page is read, not pushed to.
    if config.web is not None and not any(
        entry.token_state(os.environ) == "set" for entry in CHANNELS
    ):
        lines.append(catalog.plain("check.reminders_pages_only"))
    lines += own_deadline_lines(config, catalog, stored, now)
    office = config.office
    lines += [
        "",
        catalog.plain("check.office", name=office.name, admins=len(office.admin_ids)),
        catalog.plain(
            "check.office_chat",
            chat=office.chat_id if office.chat_id is not None else catalog.plain("check.none"),
        ),
        catalog.plain("check.database", url=safe_url(loaded.database_url)),
    ]
    # Each channel's token: set, missing or malformed (never the token itself). A missing one
    # stops `hoinghi run` only when nothing else would run: no [web] and no other channel's.
    states = {entry.name: entry.token_state(os.environ) for entry in CHANNELS}
    for entry in CHANNELS:
        state = states[entry.name]
        key = f"check.token_{state}"
        if state == "missing" and config.web is not None:
            key = "check.token_missing_web"
        elif state == "missing" and any(other == "set" for other in states.values()):
            key = "check.token_missing_other"
        lines.append(
            catalog.plain(
                key,
                channel=catalog.plain(f"channel_name.{entry.name}"),
                env=entry.token_env,
                url=config.web.base_url if config.web is not None else "",
                source=catalog.plain(f"check.token_source.{entry.name}"),
            )
        )
    lines.append("")
    return lines
