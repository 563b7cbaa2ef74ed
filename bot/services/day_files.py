"""The meeting day's papers, built the same for the dashboard's downloads and for ``hoinghi
attendance sheet / cards / present``: the signature sheet and the name cards (.docx) of everyone
expected, and the present list (.xlsx) as the hall stands.

Who is expected: every invitee whose invitation stands and who has not declined — those who
said they come and those who have not answered (an office prints them a line and a card: most
come without answering) — the substitute in place of an invitee who sends one, by the
substitute's own name and position. Declined and withdrawn invitations are left out; the
signature sheet says so in its heading. «Dự kiến» on the dashboard's «Có mặt» page is narrower:
those who said they come and the substitutes. The papers count the two apart — those who
answered and those who did not (:func:`paper_counts`, the present list's two sheets of who is
not in) — so that a sheet of 72 and a page saying «/63» are not read as a disagreement.

A substitute's position and unit: since migration 0026 they are stored apart, and printed so
(«Phó Chánh Văn phòng, phụ trách tổng hợp» is her position whole). An answer given before it
holds them glued, «position, unit», in one field, and the storage cannot tell a unit from a
comma in a position: for those (``substitute_unit`` empty), :func:`position_and_unit` takes
what follows the last comma as her unit when there is a comma, and the invitee's unit otherwise:
what she wrote is always printed whole, and a unit she gave is never replaced by the invitee's.
The present list prints the one checked in as the desk recorded her: her position and her unit
(the desk's form offers those of the answer, a glued one split as above, else the invitee's).

Plain values in, bytes out: these run in a worker thread (see the downloads).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bot.config import Config
from bot.documents.workbook import Cell, Sheet, workbook_bytes
from bot.domain.order import protocol_key
from bot.domain.rsvp import RsvpStatus
from bot.services.checkin import (
    ArrivalKind,
    CheckinView,
    Resume,
    Roll,
    RollLine,
    day_line,
    off_list_guest_as,
)
from bot.texts import Catalog
from bot.texts.formatting import arrival_time, day_list
from bot.texts.presenters import plain_when_where


def position_and_unit(given: str | None, invitee_unit: str) -> tuple[str, str]:
    """A substitute's position and unit from the one field that holds them (see the module):
    split at the last comma, else her position alone in the invitee's unit."""
    text = (given or "").strip()
    head, comma, tail = text.rpartition(",")
    if comma and head.strip() and tail.strip():
        return head.strip(), tail.strip()
    return text, invitee_unit


def _who(line: RollLine) -> tuple[str, str, str, bool]:
    """The name, position and unit that sit for ``line``, and whether it is a substitute."""
    if line.status is RsvpStatus.SUBSTITUTE and line.substitute_name:
        if line.substitute_unit:
            return line.substitute_name, line.substitute_position or "", line.substitute_unit, True
        position, unit = position_and_unit(line.substitute_position, line.organization)
        return line.substitute_name, position, unit, True
    return line.full_name, line.position, line.organization, False


def expected_lines(roll: Roll) -> list[RollLine]:
    """The invitees the papers list, in protocol order (see the module)."""
    return [line for line in roll.lines if line.expected]


def paper_counts(roll: Roll) -> tuple[int, int]:
    """Of the papers' lines: those who said they come or send a substitute, and those who have
    not answered."""
    answered = sum(line.status.is_present for line in roll.lines)
    return answered, sum(line.status is RsvpStatus.NO_ANSWER for line in roll.lines)


def position_line(catalog: Catalog, position: str, unit: str) -> str:
    """«Chức vụ, Đơn vị» as the personal page greets her (either alone when the other is
    missing)."""
    if position and unit:
        return catalog.plain("day_papers.position_unit", position=position, organization=unit)
    return position or unit


def sign_sheet_document(
    catalog: Catalog, config: Config, roll: Roll, made_at: datetime
) -> tuple[bytes, int]:
    """The signature sheet (.docx) and how many lines it has."""
    from bot.documents.day_papers import SheetTexts, SignGroup, SignRow, build_sign_sheet
    from bot.documents.wordml import word_language

    by_group: dict[str, list[SignRow]] = {group.key: [] for group in config.groups_in_order}
    for line in expected_lines(roll):
        name, position, unit, substitute = _who(line)
        note = (
            catalog.plain("day_papers.substitute_note", name=line.full_name) if substitute else ""
        )
        if not substitute and line.days:  # signs on her days only: «(chỉ dự ngày 18/12)»
            note = catalog.plain("day_papers.days_note", days=day_list(catalog, line.days))
        by_group.setdefault(line.group_key, []).append(SignRow(name, position, unit, note))
    labels = {group.key: group.label for group in config.groups}
    groups = [SignGroup(labels.get(key, key), rows) for key, rows in by_group.items()]
    names = ("number", "name", "position", "organization", "sign")
    columns = tuple(catalog.plain(f"day_papers.column.{name}") for name in names)
    texts = SheetTexts(
        heading=catalog.plain("day_papers.sheet_heading"),
        title=config.meeting.title,
        when_where=plain_when_where(catalog, config),
        rule=catalog.plain("day_papers.sheet_rule"),
        columns=(columns[0], columns[1], columns[2], columns[3], columns[4]),
        group=catalog.template("day_papers.group"),
        empty=catalog.plain("day_papers.empty"),
        author=config.office.name,
        made_at=made_at,
        page=catalog.template("day_papers.page"),
        language=word_language(catalog.locale),
        # A meeting of several days signs once a day: a column a day, headed with its date.
        days=tuple(
            catalog.plain("day_papers.column.sign_day", day=day.day, month=day.month)
            for day in config.meeting.dates
        )
        if config.meeting.several_days
        else (),
    )
    return build_sign_sheet(groups, texts), sum(len(group.rows) for group in groups)


def name_cards_document(
    catalog: Catalog, config: Config, roll: Roll, made_at: datetime
) -> tuple[bytes, int]:
    """The name cards (.docx), one per person expected, and how many there are."""
    from bot.documents.day_papers import NameCard, build_name_cards
    from bot.documents.wordml import word_language

    cards = []
    for line in expected_lines(roll):
        name, position, unit, _ = _who(line)
        cards.append(NameCard(name, position_line(catalog, position, unit)))
    title = catalog.plain("day_papers.cards_title", title=config.meeting.title)
    language = word_language(catalog.locale)
    return build_name_cards(cards, title, config.office.name, made_at, language), len(cards)


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_PRESENT_COLUMNS = ("group", "number", "name", "position", "organization", "as", "at", "desk")


# A row's place in the present list: (part, then within it) the invitees in protocol order
# (0, group, rank, code), then the guests (1, …) and the withdrawn (2, …) by time of arrival and
# check-in id, as :meth:`CheckinService.roll` reads them. A page goes on after the last row's
# key, not after a count of rows, so an arrival or an undo between two views moves no row onto
# the wrong page.
PresentKey = tuple[int, int, int, str]


@dataclass(frozen=True)
class PresentPage:
    """A page of the present list: its headings and rows (the group first on each row), how
    many are in, and the key to go on after (None on the last page)."""

    headings: list[str]
    rows: list[list[Cell]]
    total: int
    more: str | None


def present_table(
    catalog: Catalog, config: Config, roll: Roll
) -> tuple[list[str], list[list[Cell]]]:
    """The present list's headings and rows: who is in, group by group in protocol order, then
    the guests and those whose invitation was withdrawn after they came, numbered through."""
    keyed = _present_rows(catalog, config, roll)
    return _present_headings(catalog), [row for _, row in keyed]


def present_page(
    catalog: Catalog, config: Config, roll: Roll, after: str, size: int
) -> PresentPage:
    """The ``size`` rows of the present list after the row whose key ``after`` spells (from
    :attr:`PresentPage.more`; from the first row when empty or unreadable), numbered through
    the whole list as it stands now."""
    keyed = _present_rows(catalog, config, roll)
    left = keyed[_present_start(keyed, _read_present_key(after), roll.resume) :]
    shown = left[:size]
    more = _present_key_text(shown[-1][0]) if len(left) > size else None
    return PresentPage(_present_headings(catalog), [row for _, row in shown], len(keyed), more)


def _present_start(
    keyed: list[tuple[PresentKey, list[Cell]]], since: PresentKey | None, resume: Resume | None
) -> int:
    """Where the page after the row keyed ``since`` starts: just after that row, wherever it
    is now (rows that came or left before it moved it; not a count of rows). When that row has
    left the list: for an invitee's, at the invitee the database puts first after her
    (``resume``, read with the roll: on a PostgreSQL of another collation than C its order of
    codes is not Python's), or at the first guest when none is; for a guest's, at the first
    row of a later arrival (times and ids: numbers, the same order everywhere). From the first
    row when the roll was not read for that key."""
    if since is None:
        return 0
    for at, (key, _) in enumerate(keyed):
        if key == since:
            return at + 1
    if since[0] == 0:  # an invitee's row, gone
        if resume is None or resume.key != since[1:]:
            return 0
        return next(
            (at for at, (key, _) in enumerate(keyed)
             if (key[0] == 0 and key[3] == resume.code) or (resume.code is None and key[0] > 0)),
            len(keyed),
        )  # fmt: skip
    return next((at for at, (key, _) in enumerate(keyed) if key > since), len(keyed))


def present_after(after: str) -> tuple[int, int, str] | None:
    """The protocol key (group order, rank, code) of the invitee's row an address's ``after``
    names, to read the roll with (:meth:`CheckinService.roll`); None for a guest's row or
    anything unreadable."""
    since = _read_present_key(after)
    return None if since is None or since[0] != 0 else (since[1], since[2], since[3])


def _present_headings(catalog: Catalog) -> list[str]:
    return [catalog.plain(f"day_papers.present.{name}") for name in _PRESENT_COLUMNS]


def _present_key_text(key: PresentKey) -> str:
    """A key as an address carries it: «0.1.1000000000.DB031» (the code last: it may hold a
    dot)."""
    return ".".join(str(part) for part in key)


def _read_present_key(text: str) -> PresentKey | None:
    """The key :func:`_present_key_text` wrote, or None for anything else."""
    parts = text.split(".", 3)
    if len(parts) != 4:
        return None
    try:
        return (int(parts[0]), int(parts[1]), int(parts[2]), parts[3])
    except ValueError:
        return None


def _present_rows(
    catalog: Catalog, config: Config, roll: Roll
) -> list[tuple[PresentKey, list[Cell]]]:
    """Each row of the present list with its key, in the list's order."""
    labels = {group.key: group.label for group in config.groups}
    placed = protocol_key({group.key: group.order for group in config.groups})
    local = config.meeting.local
    several_days = config.meeting.several_days

    def at(instant: datetime) -> str:  # «07:45, 17/12» when the list holds several days
        return arrival_time(catalog, local(instant), several_days=several_days)

    def label(key: str) -> str:
        return labels.get(key, key)

    present: list[tuple[PresentKey, list[Cell]]] = []
    for line in roll.lines:
        came = line.came
        if came is None:
            continue
        if came.kind is ArrivalKind.SUBSTITUTE:
            as_whom = catalog.plain("day_papers.as.substitute", name=line.full_name)
            # As the desk wrote them: her position and her unit (the desk's form offers her
            # answer's, else the invitee's; see CheckinService.check_in).
            position, unit = came.position or "", came.organization or line.organization
        else:
            as_whom = catalog.plain("day_papers.as.delegate")
            position, unit = line.position, line.organization
        present.append(
            ((0, *placed(line)),
             [label(line.group_key), len(present) + 1, came.full_name, position, unit, as_whom,
              at(came.at), came.desk])
        )  # fmt: skip

    def off_list(
        part: int, view: CheckinView, kind: str, as_whom: str
    ) -> tuple[PresentKey, list[Cell]]:
        key: PresentKey = (part, _micros(view.at), view.id, "")
        return key, [catalog.plain(f"day_papers.as.{kind}_group"), len(present) + 1,
                     view.full_name, view.position, view.organization, as_whom,
                     at(view.at), view.desk]  # fmt: skip

    for view in roll.guests:
        # As the report's «Điểm danh» sheet and the guide say it (one wording, one rule): a
        # guest not on the list, or one let in from her withdrawn card — not «khách mời», an
        # invited guest, which neither is.
        as_whom = catalog.plain(f"checkin.kind.{off_list_guest_as(view)}")
        present.append(off_list(1, view, "guest", as_whom))
    for view in roll.withdrawn:
        present.append(off_list(2, view, "withdrawn", catalog.plain("day_papers.as.withdrawn")))
    return present


def _micros(at: datetime) -> int:
    """An aware time as whole microseconds since the epoch: a key's part that sorts as the time."""
    return (at - EPOCH) // timedelta(microseconds=1)


def present_sheets(catalog: Catalog, config: Config, roll: Roll) -> list[Sheet]:
    """The present list (:func:`present_table`); who is expected (said they come, or send a
    substitute) and not (yet) in, with the phone to call (:func:`phone_to_call`); and, apart,
    who has not answered and is not in."""
    labels = {group.key: group.label for group in config.groups}
    headings, present = present_table(catalog, config, roll)
    missing: list[list[Cell]] = [
        [labels.get(line.group_key, line.group_key), line.code, line.full_name, line.position,
         line.organization, catalog.plain(f"status.{line.status.value}"),
         line.substitute_name if line.status is RsvpStatus.SUBSTITUTE else None,
         phone_to_call(catalog, line)]
        for line in roll.lines
        if line.came is None and line.status.is_present
    ]  # fmt: skip
    unanswered: list[list[Cell]] = [
        [labels.get(line.group_key, line.group_key), line.code, line.full_name, line.position,
         line.organization, line.phone]
        for line in roll.lines
        if line.came is None and line.status is RsvpStatus.NO_ANSWER
    ]  # fmt: skip
    missing_names = ("group", "code", "name", "position", "organization", "answer",
                     "substitute", "phone")  # fmt: skip
    unanswered_names = ("group", "code", "name", "position", "organization", "phone")

    def titles(names: tuple[str, ...]) -> list[str]:
        return [catalog.plain(f"day_papers.present.{name}") for name in names]

    # A meeting of several days: whose day the lists are, on top of each sheet.
    caption = None if roll.day is None else day_line(catalog, roll.day)

    return [
        Sheet(
            catalog.plain("day_papers.present_sheet"),
            headings,
            present,
            wrap=frozenset({0, 2, 3, 4, 5}),
            caption=caption,
        ),
        Sheet(
            catalog.plain("day_papers.missing_sheet"),
            titles(missing_names),
            missing,
            wrap=frozenset({0, 2, 3, 4, 6}),
            caption=caption,
        ),
        Sheet(
            catalog.plain("day_papers.unanswered_sheet"),
            titles(unanswered_names),
            unanswered,
            wrap=frozenset({0, 2, 3, 4}),
            caption=caption,
        ),
    ]


def phone_to_call(catalog: Catalog, line: RollLine) -> str | None:
    """The phone the office calls about ``line`` not in yet: the substitute's, said to be hers,
    where a substitute is coming and gave one; else the invitee's — said to be the invitee's
    on a substitute's line, whom the office then asks about her substitute."""
    if line.status is RsvpStatus.SUBSTITUTE and line.substitute_name:
        if line.substitute_phone:
            return catalog.plain("day_papers.phone_of_substitute", phone=line.substitute_phone)
        if line.phone:
            return catalog.plain("day_papers.phone_of_invitee", phone=line.phone)
    return line.phone


def present_workbook(catalog: Catalog, config: Config, roll: Roll) -> bytes:
    """The present list as an .xlsx (:func:`present_sheets`)."""
    return workbook_bytes(present_sheets(catalog, config, roll))
