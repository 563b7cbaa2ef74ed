"""``hoinghi delegates import``, ``people import`` and ``staff``: who is on the list, and who of
them runs the meeting."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable

from bot.cli.common import (
    EXIT_INVALID,
    EXIT_OK,
    EXIT_USAGE,
    command_prefix,
    load,
    meeting_line,
    out,
    with_services,
)
from bot.config import LoadedConfig
from bot.delegate_file import Group as FileGroup
from bot.delegate_file import parse_delegate_file
from bot.services import Services
from bot.services.access import Role, RoleChange, StaffMember
from bot.services.delegates import ManyReplaced
from bot.services.import_notes import (
    absent_file_problem,
    absent_notes,
    kept_notes,
    replaced_lines,
    replaced_notes,
)
from bot.services.invitations import bulk_sent_lines
from bot.services.meetings import meeting_titles
from bot.services.signin import LINK_LIFETIME, LinkStep
from bot.services.withdrawals import WithdrawalResult, WithdrawalStep, withdrawal_lines
from bot.texts import Catalog
from bot.texts.presenters import channel_label, problem_line, sent_via
from storage.guard import meetings_running


def cmd_delegates_import(args: argparse.Namespace) -> int:
    """Import or update delegates by code; a file with any problem imports nothing."""
    loaded = load(args)
    if isinstance(loaded, int):
        return loaded
    config, catalog = loaded[0].config, loaded[1]
    groups = [FileGroup(g.key, g.label) for g in config.groups]
    parsed = parse_delegate_file(
        args.file, groups, sheet=args.sheet, max_rows=config.imports.max_rows
    )
    if parsed.ignored_columns:
        out(catalog.plain("import.ignored_columns", columns=", ".join(parsed.ignored_columns)))
    if parsed.warnings:
        out(catalog.plain("import.warnings", path=args.file))
        for warning in parsed.warnings:
            out(problem_line(catalog, "import.warning", warning))
    if parsed.problems:
        out(
            catalog.plain("import.rejected", path=args.file, count=len(parsed.problems)), sys.stderr
        )
        for problem in parsed.problems:
            out(problem_line(catalog, "import.problem", problem), sys.stderr)
        return EXIT_INVALID
    if args.absent is not None and (refusal := absent_file_problem(catalog, args.absent)):
        out(refusal, sys.stderr)
        return EXIT_USAGE

    async def work(services: Services) -> int:
        try:
            summary = await services.delegates.import_rows(
                parsed.rows,
                actor="cli:import",
                kept=parsed.absent,
                confirm_replaced=args.confirm_replaced,
            )
        except ManyReplaced as many:
            out(catalog.plain("cli.import_refused"), sys.stderr)
            for line in replaced_lines(catalog.plain, config, many.summary, args.file):
                out(line, sys.stderr)
            out(catalog.plain("cli.import_confirm_replaced"), sys.stderr)
            return EXIT_INVALID
        out(meeting_line(catalog, config))  # several meetings may share the database
        out(
            catalog.plain(
                "import.done",
                path=args.file,
                rows=len(parsed.rows),
                created=summary.created,
                updated=summary.updated,
                unchanged=summary.unchanged,
            )
        )
        hoinghi = command_prefix(args)
        for line in absent_notes(catalog, config, summary, args.absent, hoinghi=hoinghi):
            out(line)
        for line in kept_notes(catalog.plain, summary):
            out(line)
        for line in replaced_notes(catalog.plain, summary):
            out(line)
        if summary.role_kept:
            codes = ", ".join(summary.role_kept)
            out(catalog.plain("import.role_kept", count=len(summary.role_kept), codes=codes))
        if summary.carried:
            people = sorted(set(summary.carried))
            out(catalog.plain("import.carried", count=len(people), codes=", ".join(people)))
        # The import matched the tasks and the themes' speakers to the list (they name people
        # by code): those the list does not name are said.
        if summary.unknown_contacts:
            codes = ", ".join(summary.unknown_contacts)
            out(catalog.plain("import.unknown_contacts", codes=codes, hoinghi=hoinghi))
        if summary.unknown_speakers:
            codes = ", ".join(summary.unknown_speakers)
            out(catalog.plain("import.unknown_speakers", codes=codes))
        return EXIT_OK

    return asyncio.run(with_services(loaded[0], catalog, work, same_meeting=args.same_meeting))


def cmd_delegates_withdraw(args: argparse.Namespace) -> int:
    """Withdraw the invitation of the person with a code («Rút giấy mời»), with an optional
    reason; audited as the command line's. The office is told what work the person still has."""

    async def withdraw(services: Services) -> WithdrawalResult:
        office = services.access.local_operator()
        return await services.withdrawals.withdraw(office, args.code, args.reason, tell=args.tell)

    return _change_invitation(args, withdraw)


def cmd_delegates_reinvite(args: argparse.Namespace) -> int:
    """Give the person with a code their invitation back («Mời lại»); audited."""

    async def reinvite(services: Services) -> WithdrawalResult:
        return await services.withdrawals.reinvite(services.access.local_operator(), args.code)

    return _change_invitation(args, reinvite)


def cmd_invites_mark_sent(args: argparse.Namespace) -> int:
    """Mark the invitations of the people ``--codes`` names (or, ``--all-unsent``, of every
    invitee not marked yet) as sent ``--how`` (required: the printed slips handed out:
    ``paper``), in one transaction, each audited as the command line's; print what was done
    and who was left out. A code on no one's list, or no one marked for a reason other than a
    mark already there, exits 2; a re-run with everyone marked already exits 0."""
    loaded = load(args)
    if isinstance(loaded, int):
        return loaded
    config, catalog = loaded[0].config, loaded[1]
    codes = None if args.all_unsent else [c for c in args.codes.split(",") if c.strip()]
    if codes is not None and not codes:
        out(catalog.plain("cli.mark_sent_no_codes"), sys.stderr)
        return EXIT_USAGE

    async def work(services: Services) -> int:
        office = services.access.local_operator()
        result = await services.invitations.mark_sent_many(office, codes, via=args.how)
        out(meeting_line(catalog, config))
        how = sent_via(catalog, args.how)
        for line in bulk_sent_lines(catalog.plain, result, how):
            out(line)
        # A code on no one's list, or no one marked for a reason other than a mark already
        # there: a script learns it. A re-run that finds everyone marked already is safe (0).
        left_out = result.contacts or result.withdrawn or result.no_link or result.changed
        return EXIT_USAGE if result.unknown or (not result.marked and left_out) else EXIT_OK

    return asyncio.run(with_services(loaded[0], catalog, work, same_meeting=args.same_meeting))


# What a withdraw or a re-invite that changed nothing because it could not exits with.
_REFUSED = frozenset({WithdrawalStep.UNKNOWN_CODE, WithdrawalStep.NOT_INVITED,
                      WithdrawalStep.TOO_LONG})  # fmt: skip


def _change_invitation(
    args: argparse.Namespace, change: Callable[[Services], Awaitable[WithdrawalResult]]
) -> int:
    """Withdraw or give back an invitation and print what it did (a repeat says so, exit 0);
    an unknown code, a task contact or a reason too long is refused on stderr (exit 2)."""
    loaded = load(args)
    if isinstance(loaded, int):
        return loaded
    config, catalog = loaded[0].config, loaded[1]

    async def work(services: Services) -> int:
        result = await change(services)
        lines = withdrawal_lines(catalog.plain, result, args.code)
        if result.step in _REFUSED:
            for line in lines:
                out(line, sys.stderr)
            return EXIT_USAGE
        out(meeting_line(catalog, config))
        for line in lines:
            out(line)
        return EXIT_OK

    return asyncio.run(with_services(loaded[0], catalog, work, same_meeting=args.same_meeting))


# --- staff -------------------------------------------------------------------------------------


def cmd_staff_add(args: argparse.Namespace) -> int:
    """Give the person with a code the office role (or ``--role``), audited as the command
    line's."""

    async def grant(services: Services, role: Role) -> RoleChange:
        access = services.access
        return await access.grant(access.local_operator(), args.code, role)

    # The role works at once; the Telegram menu is published when the bot starts.
    return _change_role(
        args, grant, done="staff.added", unchanged="staff.already", office_note="staff.menu_note"
    )


def cmd_staff_remove(args: argparse.Namespace) -> int:
    """Withdraw the office role (or ``--role``) from the person with a code, audited."""

    async def revoke(services: Services, role: Role) -> RoleChange:
        access = services.access
        return await access.revoke(access.local_operator(), args.code, role)

    return _change_role(args, revoke, done="staff.removed", unchanged="staff.was_not")


def _change_role(
    args: argparse.Namespace,
    change: Callable[[Services, Role], Awaitable[RoleChange]],
    *,
    done: str,
    unchanged: str,
    office_note: str | None = None,
) -> int:
    """Grant or withdraw a role and say what changed; an unknown code is refused (exit 2)."""
    loaded = load(args)
    if isinstance(loaded, int):
        return loaded
    config, catalog, role = loaded[0].config, loaded[1], Role(args.role)

    async def work(services: Services) -> int:
        result = await change(services, role)
        if result.person is None:
            out(catalog.plain("staff.unknown_code", code=args.code), sys.stderr)
            return EXIT_USAGE
        person = result.person
        key = done if result.changed else unchanged
        name = _role_name(catalog, role)
        out(meeting_line(catalog, config))
        out(catalog.plain(key, name=person.full_name, code=person.code, role=name))
        if result.changed and office_note is not None and role is Role.OFFICE:
            out(catalog.plain(office_note))
        return EXIT_OK

    return asyncio.run(with_services(loaded[0], catalog, work, same_meeting=args.same_meeting))


def cmd_staff_list(args: argparse.Namespace) -> int:
    """Everyone with a role, role by role (or only ``--role``): who they are and where they
    are linked."""
    loaded = load(args)
    if isinstance(loaded, int):
        return loaded
    config, catalog = loaded[0].config, loaded[1]
    roles = [Role(args.role)] if args.role else list(Role)

    async def work(services: Services) -> int:
        for role in roles:
            members = await services.access.staff(role)
            name = _role_name(catalog, role)
            if members:
                out(catalog.plain("staff.list_title", role=name, count=len(members)))
                for member in members:
                    out(_member_line(catalog, member))
            else:
                option = "" if role is Role.OFFICE else f" --role {role.value}"
                hoinghi = command_prefix(args)
                out(catalog.plain("staff.list_empty", role=name, option=option, hoinghi=hoinghi))
            if role is Role.OFFICE and config.office.admin_ids:
                out(catalog.plain("staff.bootstrap", count=len(config.office.admin_ids)))
        return EXIT_OK

    return asyncio.run(with_services(loaded[0], catalog, work, same_meeting=args.same_meeting))


def cmd_staff_login(args: argparse.Namespace) -> int:
    """Print a one-time sign-in link to the dashboard for the office staff member with a code
    (for a staff member not linked on any chat yet, handed over in person)."""
    loaded = load(args)
    if isinstance(loaded, int):
        return loaded
    config, catalog = loaded[0].config, loaded[1]
    web = config.web
    if web is None:
        out(catalog.plain("signin.cli_no_web"), sys.stderr)
        return EXIT_USAGE

    async def work(services: Services) -> int:
        result = await services.signin.link_for_code(args.code)
        if result.step is LinkStep.UNKNOWN_PERSON or result.person is None:
            out(catalog.plain("staff.unknown_code", code=args.code), sys.stderr)
            return EXIT_USAGE
        person = result.person
        if result.step is not LinkStep.ISSUED or result.secret is None:
            out(catalog.plain("signin.cli_not_staff", name=person.full_name, code=person.code,
                              hoinghi=command_prefix(args)), sys.stderr)  # fmt: skip
            return EXIT_USAGE
        if (note := await _served_elsewhere(args, loaded[0], catalog, services)) is not None:
            out(note)
        out(
            catalog.plain(
                "signin.cli_link", name=person.full_name, code=person.code,
                minutes=int(LINK_LIFETIME.total_seconds() // 60),
                link=web.office_url(f"signin/{result.secret}"),
            )
        )  # fmt: skip
        return EXIT_OK

    return asyncio.run(with_services(loaded[0], catalog, work, same_meeting=args.same_meeting))


async def _served_elsewhere(
    args: argparse.Namespace, loaded: LoadedConfig, catalog: Catalog, services: Services
) -> str | None:
    """Said before a sign-in link when a ``hoinghi run`` serves another meeting of the database
    and none this one (known on SQLite, :func:`storage.guard.meetings_running`): that run's
    dashboard refuses the link, and the finished meeting is read from the command line."""
    titles = await meeting_titles(services.ctx.sessions)
    running = meetings_running(loaded.database_url, titles)
    code = loaded.config.meeting.code
    if not running or code in running:
        return None
    others = "; ".join(
        catalog.plain("signin.cli_meeting_item", title=titles[other], code=other)
        for other in sorted(running)
    )
    return catalog.plain(
        "signin.cli_other_meeting_running", meetings=others, code=code, hoinghi=command_prefix(args)
    )


def _member_line(catalog: Catalog, member: StaffMember) -> str:
    """One staff member: code, name, position, unit, and the channels they are linked on."""
    person = member.person
    who = ", ".join(
        part for part in (person.full_name, person.position, person.organization) if part
    )
    channels = list(dict.fromkeys(channel for channel, _ in member.accounts))
    linked = (
        catalog.plain(
            "staff.linked_on", channels=", ".join(channel_label(catalog, c) for c in channels)
        )
        if channels
        else catalog.plain("staff.not_linked")
    )
    return catalog.plain("staff.list_item", code=person.code, person=who, linked=linked)


def _role_name(catalog: Catalog, role: Role) -> str:
    return catalog.plain(f"staff.role.{role.value}")
