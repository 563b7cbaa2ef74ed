"""What ``delegates import`` says about the people a new file no longer lists.

They are kept (their answers, links and tasks stay), and the office decides about each. A few
are usual — someone replaced, a name corrected under a new code — and each is named. Thousands
mean the wrong file, or one part of a list: then the count and the first few codes say so at a
glance, where 5,000 codes on a terminal would bury it; the whole list, with names and units, goes
into a table file when the office asks for one (``--absent FILE``), to work through or filter.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from bot.config import Config
from bot.delegate_file import heading_of
from bot.documents.workbook import Cell, table_bytes
from bot.services.delegates import ImportSummary, replaces_many
from bot.texts import Catalog

T = TypeVar("T")

# How many codes of absent people the command names before it counts the rest.
NAMED_ABSENT = 10
ABSENT_SUFFIXES = (".csv", ".xlsx")


def absent_file_problem(catalog: Catalog, path: Path) -> str | None:
    """Why the list of absent people cannot go to ``path`` (said before importing anything)."""
    if path.suffix.lower() not in ABSENT_SUFFIXES:
        return catalog.plain("import.absent_bad_format", path=path)
    if not path.parent.is_dir():
        return catalog.plain("output.no_folder", folder=path.parent, path=path)
    if path.exists():
        return catalog.plain("import.absent_exists", path=path)
    return None


def kept_notes(say: Callable[..., T], summary: ImportSummary) -> list[T]:
    """One line for each column the file left out in which people already there kept what
    they had (their phone numbers, their places in the order), written by ``say`` (the
    catalog's ``plain`` or ``html``)."""
    return [
        say("import.column_kept", column=heading_of(field), count=count)
        for field, count in summary.kept.items()
    ]


# How many of the people a list would replace :func:`replaced_lines` names.
REPLACED_NAMED = 3


def replaced_lines(
    say: Callable[..., T], config: Config, summary: ImportSummary, path: Path | str
) -> list[T]:
    """When the list gives many people already there another person (the name and the phone
    both changed, :func:`bot.services.delegates.replaces_many`): what it would overwrite,
    naming the first few, and that a new meeting wants a new ``[meeting] code``; written by
    ``say`` (the catalog's ``plain`` or ``html``), the same words on the command line and in
    the dashboard's preview. No lines otherwise."""
    if not replaces_many(summary):
        return []
    examples = [
        say("import.replaced_example", code=code, old=old, new=new)
        for code, (old, new) in list(summary.replaced.items())[:REPLACED_NAMED]
    ]
    meeting = config.meeting
    return [
        say(
            "import.many_replaced",
            path=Path(path).name,
            count=len(summary.replaced),
            total=summary.people_before,
            title=meeting.title,
            code=meeting.code,
            examples="; ".join(str(example) for example in examples),
        )
    ]


def absent_notes(
    catalog: Catalog,
    config: Config,
    summary: ImportSummary,
    listing: Path | None,
    *,
    hoinghi: str = "hoinghi",
) -> list[str]:
    """The lines to print about the absent: every code when there are few, else the count and
    the first ones; with ``listing``, the whole list written there (a new file); then how to
    withdraw the invitation of those no longer invited (``hoinghi``: how the command is run)."""
    absent = summary.absent
    lines: list[str] = []
    if 0 < len(absent) <= NAMED_ABSENT:
        lines.append(catalog.plain("import.absent", count=len(absent), codes=", ".join(absent)))
    elif absent:
        lines.append(
            catalog.plain(
                "import.absent_many",
                count=len(absent),
                codes=", ".join(absent[:NAMED_ABSENT]),
                more=len(absent) - NAMED_ABSENT,
            )
        )
        if listing is None:
            lines.append(catalog.plain("import.absent_how"))
    if listing is not None:
        lines.append(_write_listing(catalog, config, summary, listing))
    if absent:
        lines.append(catalog.plain("import.absent_withdraw", hoinghi=hoinghi))
    return lines


def _write_listing(catalog: Catalog, config: Config, summary: ImportSummary, path: Path) -> str:
    labels = {group.key: group.label for group in config.groups}
    names = ("code", "name", "position", "organization", "group")
    headings = [catalog.plain(f"export.heading.{name}") for name in names]
    rows: list[list[Cell]] = [
        [p.code, p.full_name, p.position, p.organization, labels.get(p.group_key, p.group_key)]
        for p in summary.absent_people
    ]
    try:
        with path.open("xb") as file:  # never over a file that appeared since the check
            file.write(table_bytes(path, headings, rows))
    except FileExistsError:
        return catalog.plain("import.absent_exists", path=path)
    except OSError as exc:
        return catalog.plain("output.unwritable", path=path, reason=exc.strerror or exc)
    return catalog.plain("import.absent_written", count=len(rows), path=path)


def replaced_notes(say: Callable[..., T], summary: ImportSummary) -> list[T]:
    """When the list gave codes another person (the name and the phone both changed: a unit
    sent someone else): who, and what still reaches the person before under the code — the
    link and code she was given, the chat account she linked — with the dashboard's way to
    hand the code over; written by ``say``. No lines otherwise."""
    if not summary.replaced:
        return []
    people = "; ".join(
        str(say("import.replaced_example", code=code, old=old, new=new))
        for code, (old, new) in summary.replaced.items()
    )
    lines = [say("import.replaced_people", count=len(summary.replaced), people=people)]
    if summary.replaced_linked:
        lines.append(say("import.replaced_linked", codes=", ".join(summary.replaced_linked)))
    return lines
