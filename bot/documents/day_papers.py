"""The meeting day's papers as .docx: the signature sheet (danh sách ký tên đại biểu) and the
table name cards (bảng tên để bàn).

The signature sheet is A4 portrait: the meeting's title, time and place, a line saying who is
listed, then one table per group (STT, Họ và tên, Chức vụ, Đơn vị, Ký tên) with tall rows for a
pen, a few blank lines at its end for whoever is not listed, and the heading row repeated on
every page.

A name card is one A4 landscape page folded in half along a dashed line down its middle into a
tent: each half is a face, about 21 cm wide and 14 cm tall once folded, and carries the same
position and unit (small) and name (large, bold, in capitals). The text runs along the fold — top to
bottom on the left half, bottom to top on the right — so that, the tent standing on its long
edges, both faces read upright, one towards the hall and one towards the person seated. Word
and LibreOffice both print a table cell's vertical text (``w:textDirection``); a text turned
upside down would need a rotated drawing, which they do not print alike. A long name gets a
smaller size (:func:`name_size`), never below a size read from the back of a hall, and wraps
at its spaces beyond that.

Both documents are laid out by python-docx for the page, the fonts and the file's properties;
the body is written as WordprocessingML text, row after row, with no search of the document per
row: 10,000 people take a second or two. Words come from the caller already in the meeting's
language; everything is written as text (names with "&" or "<" print as typed, control
characters are dropped).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Final

from docx import Document
from docx.document import Document as DocxDocument
from docx.enum.section import WD_ORIENT
from docx.oxml import parse_xml
from docx.oxml.ns import nsdecls
from docx.oxml.xmlchemy import BaseOxmlElement
from docx.shared import Cm, Length, Twips

from bot.documents.wordml import VIETNAMESE, run_content, set_up_fonts, with_body
from bot.domain.invisible import printable

_A4_SHORT: Final = Twips(11906)
_A4_LONG: Final = Twips(16838)
_CM: Final = 567  # twips in a centimetre (rounded, as Word rounds)

# The signature sheet: 2 cm on the left for binding, 1.5 cm elsewhere; 17.5 cm of width.
_SHEET_COLUMNS: Final = (624, 2495, 2211, 2325, 2267)  # STT, name, position, unit, signature
_SHEET_ROW: Final = 737  # 1.3 cm at least: room for a signature
# A meeting of several days signs once a day: a «Ký tên» column a day, 2.6 cm each, the sheet's
# other columns narrowed to make room (the signatures at most half of the width).
_DAY_SIGN: Final = 1474
_TITLE_SIZE: Final = 28  # half-points
_HEADING_SIZE: Final = 26
_CELL_SIZE: Final = 24
# Blank lines at the end of each group's table, unnumbered, for whoever comes and is not listed
# (a latecomer named at the desk, a guest of that group): what offices leave by hand, at the
# cost of a few rows a group (a group of 8 is 24 rows on the sheet, a page at most).
SHEET_BLANK_LINES: Final = 3

# A name card: 1 cm margins on the left and right (the fold in the middle of the page),
# 1 cm at the top and bottom; the card's table is 18.5 cm tall, leaving room for the page break.
_CARD_MARGIN: Final = Cm(1)
_CARD_HALF: Final = (16838 - 2 * _CM) // 2  # each face's column, in twips
_CARD_HEIGHT: Final = int(18.5 * _CM)
# The length a name's line may take along the fold: the card's height less the cells' padding.
_CARD_LINE_PT: Final = (_CARD_HEIGHT - 2 * 115) / 20
_POSITION_SIZE_PT: Final = 22  # at most: three quarters of the name's size below that
NAME_MAX_PT: Final = 60
# Below this a name no longer reads across a meeting table (a capital about 5 mm tall): a
# longer one wraps at its spaces instead.
NAME_MIN_PT: Final = 20
# A capital of Times New Roman bold is about this wide, in ems, on average (Vietnamese capitals
# with their marks included, on the generous side; a W or an M is wider, an I narrower); a
# space a quarter of an em.
_CAPITAL_WIDTH: Final = 0.74
_SPACE_WIDTH: Final = 0.25


@dataclass(frozen=True)
class SignRow:
    """A line of the signature sheet: who signs, and a note after the name (a substitute's
    «(dự thay đ/c …)»)."""

    full_name: str
    position: str
    organization: str
    note: str = ""


@dataclass(frozen=True)
class SignGroup:
    """A group's table on the signature sheet, in the plan's order."""

    label: str
    rows: Sequence[SignRow]


@dataclass(frozen=True)
class SheetTexts:
    """Every word on the signature sheet, already in the meeting's language."""

    heading: str  # e.g. "DANH SÁCH ĐẠI BIỂU KÝ TÊN"
    title: str  # the meeting's title
    when_where: str  # time, date and place in one line
    rule: str  # who is listed and who is not
    columns: tuple[str, str, str, str, str]  # STT, Họ và tên, Chức vụ, Đơn vị, Ký tên
    group: str  # template with {number}, {label}, {count}, e.g. "{number}. {label} ({count})"
    empty: str  # a document with no one on it
    author: str = ""  # the office: Word's «Author», and the organizer at the top of each page
    made_at: datetime = field(default_factory=lambda: datetime.now(UTC).replace(microsecond=0))
    page: str = ""  # template with {page} and {pages}, e.g. "Trang {page}/{pages}"
    language: str = VIETNAMESE  # Word's proofing language (see wordml.word_language)
    # A meeting of several days: the heading of each day's signature column («Ký tên ngày
    # 17/12»), in place of the one «Ký tên»; empty for a one-day meeting.
    days: tuple[str, ...] = ()


@dataclass(frozen=True)
class NameCard:
    """A name card: the name, and the position and unit under which the person sits
    («Chủ tịch, Hội LHPN quận Ba Đình»)."""

    full_name: str
    position: str


def _skeleton(
    title: str, author: str, made_at: datetime, *, landscape: bool, language: str = VIETNAMESE
) -> DocxDocument:
    """An empty A4 document in Times New Roman with the file's own properties."""
    document = Document()
    properties = document.core_properties
    properties.title = title
    properties.author = properties.last_modified_by = author
    properties.comments = ""
    properties.created = properties.modified = made_at
    set_up_fonts(document, language)
    section = document.sections[0]
    if landscape:
        section.orientation = WD_ORIENT.LANDSCAPE
        section.page_width, section.page_height = _A4_LONG, _A4_SHORT
        margin: Length = _CARD_MARGIN
        section.top_margin = section.bottom_margin = margin
        section.left_margin = section.right_margin = margin
    else:
        section.orientation = WD_ORIENT.PORTRAIT
        section.page_width, section.page_height = _A4_SHORT, _A4_LONG
        section.top_margin = section.bottom_margin = section.right_margin = Cm(1.5)
        section.left_margin = Cm(2)
    return document


def _text(text: str) -> str:
    return run_content(printable(text))


def _paragraph(
    text: str, *, size: int, bold: bool = False, center: bool = False, keep: bool = False
) -> str:
    """A paragraph of one run (``size`` in half-points)."""
    p_pr = ("<w:keepNext/>" if keep else "") + '<w:spacing w:before="60" w:after="60"/>'
    p_pr += '<w:jc w:val="center"/>' if center else ""
    r_pr = ("<w:b/><w:bCs/>" if bold else "") + f'<w:sz w:val="{size}"/><w:szCs w:val="{size}"/>'
    return f"<w:p><w:pPr>{p_pr}</w:pPr><w:r><w:rPr>{r_pr}</w:rPr>{_text(text)}</w:r></w:p>"


_BORDER: Final = '<w:{side} w:val="single" w:sz="4" w:space="0" w:color="000000"/>'


def _sheet_table(widths: Sequence[int]) -> str:
    """A signature sheet's table opening, its grid of ``widths`` (twips)."""
    return (
        "<w:tbl><w:tblPr>"
        f'<w:tblW w:w="{sum(widths)}" w:type="dxa"/><w:jc w:val="center"/>'
        "<w:tblBorders>"
        + "".join(_BORDER.format(side=side) for side in ("top", "left", "bottom", "right"))
        + "".join(_BORDER.format(side=side) for side in ("insideH", "insideV"))
        + '</w:tblBorders><w:tblLayout w:type="fixed"/>'
        '<w:tblCellMar><w:left w:w="80" w:type="dxa"/><w:right w:w="80" w:type="dxa"/>'
        "</w:tblCellMar></w:tblPr><w:tblGrid>"
        + "".join(f'<w:gridCol w:w="{width}"/>' for width in widths)
        + "</w:tblGrid>"
    )


def sheet_widths(days: int) -> tuple[int, ...]:
    """The signature sheet's column widths (twips) with ``days`` signature columns: the one
    «Ký tên» of a one-day meeting as ever; else :data:`_DAY_SIGN` a day (at most half of the
    width in all), the name, position and unit narrowed alike to keep the page's width."""
    if days < 2:
        return _SHEET_COLUMNS
    stt, *texts, _ = _SHEET_COLUMNS
    total = sum(_SHEET_COLUMNS)
    each = min(_DAY_SIGN, total // 2 // days)
    room = total - stt - each * days
    narrowed = [width * room // sum(texts) for width in texts]
    narrowed[0] += room - sum(narrowed)  # the rounding's twips to the name
    return (stt, *narrowed, *([each] * days))


def _cell(width: int, content: str, *, bold: bool = False, center: bool = False) -> str:
    """A table cell of the signature sheet, its text vertically centred."""
    jc = '<w:jc w:val="center"/>' if center else ""
    r_pr = ("<w:b/><w:bCs/>" if bold else "") + (
        f'<w:sz w:val="{_CELL_SIZE}"/><w:szCs w:val="{_CELL_SIZE}"/>'
    )
    return (
        f'<w:tc><w:tcPr><w:tcW w:w="{width}" w:type="dxa"/><w:vAlign w:val="center"/></w:tcPr>'
        f"<w:p><w:pPr>{jc}<w:rPr>{r_pr}</w:rPr></w:pPr>"
        f"{f'<w:r><w:rPr>{r_pr}</w:rPr>{content}</w:r>' if content else ''}</w:p></w:tc>"
    )


def _field(instruction: str) -> str:
    """A field Word and LibreOffice work out when printing (``PAGE``, ``NUMPAGES``)."""
    r_pr = f'<w:rPr><w:sz w:val="{_CELL_SIZE - 4}"/><w:szCs w:val="{_CELL_SIZE - 4}"/></w:rPr>'
    return (
        f'<w:r>{r_pr}<w:fldChar w:fldCharType="begin"/></w:r>'
        f'<w:r>{r_pr}<w:instrText xml:space="preserve"> {instruction} </w:instrText></w:r>'
        f'<w:r>{r_pr}<w:fldChar w:fldCharType="separate"/></w:r>'
        f"<w:r>{r_pr}<w:t>1</w:t></w:r>"
        f'<w:r>{r_pr}<w:fldChar w:fldCharType="end"/></w:r>'
    )


def _head_and_foot(document: DocxDocument, texts: SheetTexts) -> None:
    """The organizer (the office) at the top of every page, as the slips name it, and «Trang
    x/y» at the foot: a sheet of 10,000 is some 300 pages passed along the rows."""
    section = document.sections[0]
    size = f'<w:sz w:val="{_CELL_SIZE - 4}"/><w:szCs w:val="{_CELL_SIZE - 4}"/>'
    if texts.author:
        _fill(
            section.header.paragraphs[0]._p,
            f"<w:r><w:rPr><w:b/><w:bCs/>{size}</w:rPr>{_text(texts.author)}</w:r>",
        )
    if texts.page:
        runs = []
        for index, piece in enumerate(re.split(r"(\{page\}|\{pages\})", texts.page)):
            if index % 2:
                runs.append(_field("PAGE" if piece == "{page}" else "NUMPAGES"))
            elif piece:
                runs.append(f"<w:r><w:rPr>{size}</w:rPr>{_text(piece)}</w:r>")
        _fill(
            section.footer.paragraphs[0]._p, '<w:pPr><w:jc w:val="center"/></w:pPr>' + "".join(runs)
        )


def _fill(paragraph: BaseOxmlElement, content: str) -> None:
    """Append ``content`` (WordprocessingML written as text) to an empty ``paragraph``."""
    for child in parse_xml(f"<w:p {nsdecls('w')}>{content}</w:p>"):
        paragraph.append(child)


def build_sign_sheet(groups: Sequence[SignGroup], texts: SheetTexts) -> bytes:
    """The signature sheet (.docx): a table per group that has anyone on it, numbered through
    the whole sheet and ending in :data:`SHEET_BLANK_LINES` blank lines, the heading row
    repeated on every page a table runs onto."""
    document = _skeleton(
        texts.title, texts.author, texts.made_at, landscape=False, language=texts.language
    )
    _head_and_foot(document, texts)
    body = [
        _paragraph(texts.heading, size=_TITLE_SIZE, bold=True, center=True),
        _paragraph(texts.title, size=_TITLE_SIZE, bold=True, center=True),
        _paragraph(texts.when_where, size=_CELL_SIZE, center=True),
        _paragraph(texts.rule, size=_CELL_SIZE - 2, center=True),
    ]
    widths = sheet_widths(len(texts.days))
    headings = (*texts.columns[:4], *(texts.days if len(texts.days) > 1 else texts.columns[4:]))
    heading_row = (
        "<w:tr><w:trPr><w:cantSplit/><w:tblHeader/></w:trPr>"
        + "".join(
            _cell(width, _text(text), bold=True, center=True)
            for width, text in zip(widths, headings, strict=True)
        )
        + "</w:tr>"
    )
    row_start = (
        f'<w:tr><w:trPr><w:cantSplit/><w:trHeight w:val="{_SHEET_ROW}" w:hRule="atLeast"/></w:trPr>'
    )
    number = 0
    shown = 0
    for group in groups:
        if not group.rows:
            continue
        shown += 1
        label = texts.group.format(number=shown, label=group.label, count=len(group.rows))
        body.append(_paragraph(label, size=_HEADING_SIZE, bold=True, keep=True))
        body.append(_sheet_table(widths) + heading_row)
        stt, name_w, position_w, unit_w, *signs = widths
        for row in group.rows:
            number += 1
            name = _text(row.full_name)
            if row.note:
                name += "<w:br/>" + _text(row.note)
            body.append(
                row_start
                + _cell(stt, f"<w:t>{number}</w:t>", center=True)
                + _cell(name_w, name, bold=True)
                + _cell(position_w, _text(row.position))
                + _cell(unit_w, _text(row.organization))
                + "".join(_cell(sign_w, "") for sign_w in signs)
                + "</w:tr>"
            )
        blank = "".join(_cell(width, "") for width in widths)
        body.extend(row_start + blank + "</w:tr>" for _ in range(SHEET_BLANK_LINES))
        body.append("</w:tbl>")
    if not shown:
        body.append(_paragraph(texts.empty, size=_CELL_SIZE, center=True))
    body.append("<w:p/>")  # a body never ends on a table
    return with_body(document, body)


def name_size(name: str) -> int:
    """The name's size on a card, in points: as large as fits on one line along the fold, at
    most :data:`NAME_MAX_PT`, and never below :data:`NAME_MIN_PT` (a longer name wraps)."""
    fits = int(_CARD_LINE_PT / max(_ems(name), _CAPITAL_WIDTH))
    return max(NAME_MIN_PT, min(NAME_MAX_PT, fits))


def _ems(name: str) -> float:
    """How wide ``name`` is in capitals, in ems, by the estimate above."""
    text = printable(name).strip()
    spaces = text.count(" ")
    return (len(text) - spaces) * _CAPITAL_WIDTH + spaces * _SPACE_WIDTH


def position_size(name_pt: int) -> int:
    """The size of the position line over a name of ``name_pt`` points: smaller than the name
    always, so that a long name shrunk to :data:`NAME_MIN_PT` still reads first."""
    return min(_POSITION_SIZE_PT, name_pt * 3 // 4)


def name_fits_one_line(name: str) -> bool:
    """Whether the name at :func:`name_size` fits on one line of a card, by the estimate."""
    return _ems(name) * name_size(name) <= _CARD_LINE_PT


_FOLD: Final = '<w:{side} w:val="dashed" w:sz="6" w:space="0" w:color="808080"/>'
_NO_BORDER: Final = '<w:{side} w:val="nil"/>'
_CARD_TABLE: Final = (
    "<w:tbl><w:tblPr>"
    f'<w:tblW w:w="{2 * _CARD_HALF}" w:type="dxa"/><w:jc w:val="center"/>'
    "<w:tblBorders>"
    + "".join(_NO_BORDER.format(side=side) for side in ("top", "left", "bottom", "right"))
    + _NO_BORDER.format(side="insideH")
    + _FOLD.format(side="insideV")
    + '</w:tblBorders><w:tblLayout w:type="fixed"/></w:tblPr><w:tblGrid>'
    f'<w:gridCol w:w="{_CARD_HALF}"/><w:gridCol w:w="{_CARD_HALF}"/></w:tblGrid>'
    f'<w:tr><w:trPr><w:cantSplit/><w:trHeight w:val="{_CARD_HEIGHT}" w:hRule="exact"/></w:trPr>'
)
_PAGE_BREAK: Final = (
    '<w:p><w:pPr><w:spacing w:before="0" w:after="0" w:line="20" w:lineRule="exact"/>'
    '<w:rPr><w:sz w:val="2"/></w:rPr></w:pPr><w:r><w:rPr><w:sz w:val="2"/></w:rPr>'
    '<w:br w:type="page"/></w:r></w:p>'
)


def _face(direction: str, position: str, name: str, size: int) -> str:
    """One face of a card: its text along the fold (``tbRl`` on the left half, ``btLr`` on the
    right), centred."""
    half, small = size * 2, position_size(size) * 2
    position_run = (
        f'<w:r><w:rPr><w:sz w:val="{small}"/><w:szCs w:val="{small}"/></w:rPr>{position}</w:r>'
        if position
        else ""
    )
    return (
        f'<w:tc><w:tcPr><w:tcW w:w="{_CARD_HALF}" w:type="dxa"/>'
        f'<w:textDirection w:val="{direction}"/><w:vAlign w:val="center"/></w:tcPr>'
        '<w:p><w:pPr><w:spacing w:after="240"/><w:jc w:val="center"/></w:pPr>'
        f"{position_run}</w:p>"
        '<w:p><w:pPr><w:jc w:val="center"/></w:pPr>'
        f'<w:r><w:rPr><w:b/><w:bCs/><w:sz w:val="{half}"/><w:szCs w:val="{half}"/></w:rPr>'
        f"{name}</w:r></w:p></w:tc>"
    )


def build_name_cards(
    cards: Sequence[NameCard],
    title: str,
    author: str = "",
    made_at: datetime | None = None,
    language: str = VIETNAMESE,
) -> bytes:
    """The name cards (.docx): one A4 landscape page per card, folded down the middle."""
    made = made_at or datetime.now(UTC).replace(microsecond=0)
    document = _skeleton(title, author, made, landscape=True, language=language)
    body: list[str] = []
    for index, card in enumerate(cards):
        if index:
            body.append(_PAGE_BREAK)
        name = printable(card.full_name).strip()
        shown, position = _text(name.upper()), _text(card.position)
        size = name_size(name)
        body.append(
            _CARD_TABLE
            + _face("tbRl", position, shown, size)
            + _face("btLr", position, shown, size)
            + "</w:tr></w:tbl>"
        )
    body.append(_PAGE_BREAK.replace('<w:br w:type="page"/>', ""))  # room left under a card
    return with_body(document, body)
