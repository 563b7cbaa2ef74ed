"""Printable invitation slips (phiếu kèm giấy mời): a .docx to cut up and attach to invitations.

Each delegate gets one framed slip: who it is for and what the meeting is on the left, a QR code
of the delegate's personal link on the right with their personal code under it (typed where no
link opens: Zalo) and the link itself printed small underneath, so it can be typed when the QR
code cannot be scanned. Three slips fit on an A4 page, separated by
dashed cut lines, and no slip is ever split across two pages.

Every word on a slip comes from the caller (:class:`SlipTexts`), already in the meeting's
language. Text goes into the document only as text, so names with "&", "<" or quotes print as
typed; characters XML cannot hold at all (stray control characters) are dropped.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html import escape
from typing import Final

from docx import Document
from docx.document import Document as DocxDocument
from docx.enum.section import WD_ORIENT
from docx.enum.table import WD_CELL_VERTICAL_ALIGNMENT, WD_ROW_HEIGHT_RULE, WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.opc.constants import RELATIONSHIP_TYPE as RT
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.oxml.xmlchemy import BaseOxmlElement
from docx.shared import Cm, Length, Pt, Twips
from docx.table import Table, _Cell
from docx.text.paragraph import Paragraph
from docx.text.run import Run

from bot.documents.qr import qr_png
from bot.domain.invisible import printable

# The typeface of Vietnamese administrative documents (Nghị định 30/2020/NĐ-CP).
_FONT: Final = "Times New Roman"

# A4 portrait in twentieths of a point, the exact values Word itself writes.
_PAGE_WIDTH: Final = Twips(11906)
_PAGE_HEIGHT: Final = Twips(16838)
_MARGIN: Final = Cm(1.5)
# 18 cm of usable width: the text column and the QR column (cell padding included).
_TEXT_COLUMN: Final = Cm(14.2)
_QR_COLUMN: Final = Cm(3.8)
_QR_WIDTH: Final = Cm(3.3)
# Three slips and three cut lines (about 0.9 cm each) fill the 26.7 cm of usable height with
# some room to spare, so a page holds exactly three slips unless a slip's text outgrows this.
_SLIP_HEIGHT: Final = Cm(7.8)

_NAME_SIZE: Final = Pt(13)
_BODY_SIZE: Final = Pt(12)
_SMALL_BODY_SIZE: Final = Pt(11)
_TINY_SIZE: Final = Pt(8)

_FRAME_BORDER: Final = {"w:val": "single", "w:sz": "8", "w:space": "0", "w:color": "000000"}
_CUT_BORDER: Final = {"w:val": "dashed", "w:sz": "6", "w:space": "1", "w:color": "808080"}
_THEME_FONT_ATTRIBUTES: Final = ("w:asciiTheme", "w:hAnsiTheme", "w:eastAsiaTheme", "w:cstheme")
_FONT_ATTRIBUTES: Final = ("w:ascii", "w:hAnsi", "w:eastAsia", "w:cs")
# What may follow w:tblBorders inside w:tblPr (ECMA-376 17.4.60), so the borders go before them.
_TBL_PR_AFTER_BORDERS: Final = (
    "w:shd",
    "w:tblLayout",
    "w:tblCellMar",
    "w:tblLook",
    "w:tblCaption",
    "w:tblDescription",
    "w:tblPrChange",
)

# Characters XML 1.0 cannot contain at all; lxml refuses the whole string if one slips in.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


@dataclass(frozen=True)
class Slip:
    """One delegate's slip: who it is for and the personal link its QR code opens."""

    code: str  # delegate code, printed small (e.g. "DB031")
    full_name: str
    position: str
    organization: str
    link: str  # personal link, e.g. "https://t.me/hoinghi_bot?start=<token>"
    link_code: str = ""  # personal code as printed, e.g. "K7PX-3QBM" (none: no line for it)
    # This slip's own hint around the code (the Zalo bot this person is given), else the texts'.
    code_hint: str = ""


@dataclass(frozen=True)
class SlipTexts:
    """Every word printed on a slip, already in the meeting's language (no prose in this module)."""

    title: str  # the meeting title, e.g. "Hội nghị sơ kết giữa nhiệm kỳ ..."
    when_where: str  # e.g. "08:00, Thứ Ba, ngày 28/5/2024 — Hội trường ..., 19 Lê Thánh Tông"
    greeting: str  # template with {name}, e.g. "Kính gửi đồng chí {name}"
    instruction: str  # e.g. "Quét mã để xác nhận tham dự"
    link_hint: str  # template with {link}, e.g. "hoặc mở đường liên kết: {link}"
    deadline: str  # e.g. "Đề nghị đồng chí xác nhận trước 17:00, Thứ Ba, ngày 21/5/2024."
    contact: str  # e.g. "Liên hệ: Văn phòng Hội LHPN Hà Nội, 024 3825 xxxx"
    code_hint: str = "{code}"  # template with {code}, e.g. "Mã cá nhân:\n{code}"


def build_slips(slips: Sequence[Slip], texts: SlipTexts) -> bytes:
    """A .docx with one slip per delegate, several per A4 page, separated by cut lines.

    python-docx lays out one slip (:func:`_slip_xml`); every slip is that XML with its own
    words, picture and ids, streamed into the package, and each picture is a part of its own,
    as python-docx would add it — but without its search of the whole document and of every
    part before each picture, which made 10,000 slips take hours and most of a gigabyte.
    The document is the one python-docx builds slip by slip (``tests/test_slips.py`` compares).
    """
    skeleton = Document()
    _set_up_page(skeleton)
    _set_up_fonts(skeleton)
    links = list(dict.fromkeys(slip.link for slip in slips))  # a picture part per QR code
    picture_ids: dict[str, str] = {}
    if links:
        # The first picture goes in through python-docx, which names the relationship and
        # registers the PNG type; the others take the ids it would give them next.
        first_id, _ = skeleton.part.get_or_add_image(io.BytesIO(qr_png(links[0])))
        used = set(skeleton.part.rels)
        picture_ids = dict(zip(links, [first_id, *_unused_ids(used, len(links) - 1)], strict=True))
    buffer = io.BytesIO()
    skeleton.save(buffer)
    template = _slip_xml(texts)
    with (
        zipfile.ZipFile(buffer) as source,
        zipfile.ZipFile(out := io.BytesIO(), "w", zipfile.ZIP_DEFLATED) as package,
    ):
        for entry in source.infolist():
            content = source.read(entry)
            if entry.filename == "word/document.xml":
                head, tail = content.decode().split("<w:sectPr", 1)
                with package.open(entry.filename, "w") as document:
                    document.write(head.encode())
                    for index, slip in enumerate(slips):
                        xml = template.slip(slip, texts, index + 1, picture_ids[slip.link])
                        document.write(((template.cut if index else "") + xml).encode())
                    document.write(("<w:sectPr" + tail).encode())
            elif entry.filename == "word/_rels/document.xml.rels":
                more = "".join(
                    f'<Relationship Id="{picture_ids[link]}" Type="{RT.IMAGE}" '
                    f'Target="media/image{n}.png"/>'
                    for n, link in enumerate(links[1:], start=2)
                )
                package.writestr(
                    entry, content.replace(b"</Relationships>", more.encode() + b"</Relationships>")
                )
            elif entry.filename == "word/media/image1.png":
                package.writestr(entry, content)
                for n, link in enumerate(links[1:], start=2):
                    package.writestr(f"word/media/image{n}.png", qr_png(link))
            else:
                package.writestr(entry, content)
    return out.getvalue()


def _unused_ids(used: set[str], count: int) -> list[str]:
    """The next ``count`` relationship ids python-docx would choose: the lowest unused."""
    found: list[str] = []
    number = 1
    while len(found) < count:
        candidate = f"rId{number}"
        if candidate not in used:
            found.append(candidate)
        number += 1
    return found


# Placeholders in the slip laid out once: private-use characters nobody types.
_MARK: Final = "\ue000\ue001"
_RUN_CONTENT = re.compile(r"(?<=</w:rPr>)((?:(?!</w:r>).)*?)(?=</w:r>)", re.S)


def _mark(name: str) -> str:
    return f"{_MARK}{name}{_MARK}"


@dataclass(frozen=True)
class _SlipXml:
    """One slip's XML as python-docx writes it, cut where slips differ: ``pieces`` are the
    text between the ``places`` (one more piece than places)."""

    pieces: tuple[str, ...]
    # "name", "code", "hint": a run's content; "position", "organization", "link_code": a
    # paragraph, left out when empty (its run content marked "text"); "shape": the picture's
    # number; "picture": its relationship.
    places: tuple[str, ...]
    paragraphs: Mapping[str, str]
    cut: str  # the cut line between two slips

    def slip(self, slip: Slip, texts: SlipTexts, shape: int, picture: str) -> str:
        """The XML of ``slip``, its picture the ``shape``-th, in relationship ``picture``."""
        out = [self.pieces[0]]
        for place, piece in zip(self.places, self.pieces[1:], strict=True):
            if place in self.paragraphs:
                text = _clean(getattr(slip, place))
                if text and place == "link_code":
                    hint = slip.code_hint or texts.code_hint
                    text = _clean(slip.link_code.join(_split(hint, "{code}")))
                if text:
                    out.append(self.paragraphs[place].replace(_mark("text"), _run_content(text)))
            elif place == "name":
                out.append(_run_content(_clean(slip.full_name)))
            elif place == "code":
                out.append(_run_content(_clean(slip.code)))
            elif place == "hint":
                hint = slip.link.join(_split(texts.link_hint, "{link}"))
                out.append(_run_content(_clean(hint)))
            elif place == "shape":
                out.append(str(shape))
            else:
                out.append(picture)
            out.append(piece)
        return "".join(out)


def _slip_xml(texts: SlipTexts) -> _SlipXml:
    """Lay out two slips with python-docx, placeholders for their words, and cut the XML."""
    document = Document()
    marked = Slip(
        _mark("code"),
        _mark("name"),
        _mark("position"),
        _mark("organization"),
        _mark("link"),
        _mark("link_code"),
    )
    _fill_slip(_slip_table(document), marked, texts)
    _cut_line(document.add_paragraph())
    _fill_slip(_slip_table(document), marked, texts)
    xml = document.part.blob.decode()
    body = xml[xml.index("<w:body>") + len("<w:body>") : xml.index("<w:sectPr")]
    first_end = body.index("</w:tbl>") + len("</w:tbl>")
    table, cut = body[:first_end], body[first_end : body.index("<w:tbl>", first_end)]
    spans: list[tuple[int, int, str]] = []  # where the places are in `table`
    paragraphs: dict[str, str] = {}
    for name in ("position", "organization", "link_code"):
        at = table.index(_mark(name))
        start = max(table.rfind("<w:p>", 0, at), table.rfind("<w:p ", 0, at))
        end = table.index("</w:p>", at) + len("</w:p>")
        paragraphs[name] = _RUN_CONTENT.sub(_mark("text"), table[start:end])
        spans.append((start, end, name))
    for name, mark in (("name", "name"), ("code", "code"), ("hint", "link")):
        for found in _RUN_CONTENT.finditer(table):
            if _mark(mark) in found.group(1):
                spans.append((found.start(1), found.end(1), name))
    shape = re.search(r'<wp:docPr id="(1)" name="Picture (1)"/>', table)
    picture = re.search(r'r:embed="(rId\d+)"', table)
    assert shape is not None and picture is not None
    spans += [(shape.start(1), shape.end(1), "shape"), (shape.start(2), shape.end(2), "shape")]
    spans.append((picture.start(1), picture.end(1), "picture"))
    spans.sort()
    pieces, places, last = [], [], 0
    for start, end, name in spans:
        pieces.append(table[last:start])
        places.append(name)
        last = end
    pieces.append(table[last:])
    return _SlipXml(tuple(pieces), tuple(places), paragraphs, cut)


def _run_content(text: str) -> str:
    """What python-docx writes inside a run for ``text`` (``Run.text``): a tab as ``w:tab``,
    a line break as ``w:br``, the rest in ``w:t`` (kept as it is when it starts or ends with a
    space), escaped as lxml escapes it."""
    if not text:
        return ""
    out: list[str] = []
    for index, chunk in enumerate(re.split(r"(\t|\r|\n)", text)):
        if index % 2:
            out.append("<w:tab/>" if chunk == "\t" else "<w:br/>")
        elif chunk:
            space = ' xml:space="preserve"' if len(chunk.strip()) < len(chunk) else ""
            out.append(f"<w:t{space}>{escape(chunk, quote=False)}</w:t>")
    return "".join(out)


def _set_up_page(document: DocxDocument) -> None:
    """A4 portrait with 1.5 cm margins on every side."""
    section = document.sections[0]
    section.orientation = WD_ORIENT.PORTRAIT
    section.page_width = _PAGE_WIDTH
    section.page_height = _PAGE_HEIGHT
    section.top_margin = section.bottom_margin = _MARGIN
    section.left_margin = section.right_margin = _MARGIN


def _set_up_fonts(document: DocxDocument) -> None:
    """Times New Roman and tight single spacing as the defaults, for paragraph marks too."""
    styles = document.styles
    for r_fonts in styles.element.xpath("./w:docDefaults/w:rPrDefault/w:rPr/w:rFonts"):
        _use_font(r_fonts)
    normal = styles["Normal"]
    normal.font.name = _FONT
    normal.font.size = _BODY_SIZE
    _use_font(normal.element.get_or_add_rPr().get_or_add_rFonts())
    normal.paragraph_format.space_before = Pt(0)
    normal.paragraph_format.space_after = Pt(0)
    normal.paragraph_format.line_spacing = 1.0


def _use_font(r_fonts: BaseOxmlElement) -> None:
    """Point every script slot of a ``w:rFonts`` at the slips' font, overriding theme fonts."""
    # A theme attribute wins over the explicit one beside it, so it has to go.
    for name in _THEME_FONT_ATTRIBUTES:
        r_fonts.attrib.pop(qn(name), None)
    # Word and LibreOffice read w:eastAsia (and w:cs) for some characters depending on language
    # and hint settings, so every slot names the same font and no letter falls back to another.
    for name in _FONT_ATTRIBUTES:
        r_fonts.set(qn(name), _FONT)


def _cut_line(paragraph: Paragraph) -> None:
    """An empty paragraph drawn as a dashed line halfway between two slips."""
    p_pr = paragraph._p.get_or_add_pPr()
    borders = OxmlElement("w:pBdr")
    borders.append(_border("w:bottom", _CUT_BORDER))
    # pBdr goes into an empty pPr first; python-docx then puts spacing after it, as the schema
    # requires.
    p_pr.append(borders)
    paragraph.paragraph_format.space_before = Pt(12)
    paragraph.paragraph_format.line_spacing = Pt(1)
    paragraph.paragraph_format.space_after = Pt(12)


def _border(side: str, spec: Mapping[str, str]) -> BaseOxmlElement:
    """One border element (``w:top``, ``w:bottom``…) with the attributes of ``spec``."""
    element: BaseOxmlElement = OxmlElement(
        side, attrs={qn(key): value for key, value in spec.items()}
    )
    return element


def _slip_table(document: DocxDocument) -> Table:
    """A framed one-row, two-column table of fixed widths that never breaks across pages."""
    table: Table = document.add_table(rows=1, cols=2)
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    table.autofit = False
    tbl_pr = table._tbl.tblPr
    borders = OxmlElement("w:tblBorders")
    for side in ("w:top", "w:left", "w:bottom", "w:right"):
        borders.append(_border(side, _FRAME_BORDER))
    tbl_pr.insert_element_before(borders, *_TBL_PR_AFTER_BORDERS)
    row = table.rows[0]
    row._tr.get_or_add_trPr().append(OxmlElement("w:cantSplit"))
    row.height = _SLIP_HEIGHT
    row.height_rule = WD_ROW_HEIGHT_RULE.AT_LEAST
    for column, width in zip(table.columns, (_TEXT_COLUMN, _QR_COLUMN), strict=True):
        column.width = width
        for cell in column.cells:
            cell.width = width
            cell.vertical_alignment = WD_CELL_VERTICAL_ALIGNMENT.TOP
    return table


def _fill_slip(table: Table, slip: Slip, texts: SlipTexts) -> None:
    """Write one delegate's slip into its table."""
    text_cell, qr_cell = table.rows[0].cells
    left = _CellWriter(text_cell)

    greeting = left.paragraph(space_after=Pt(2))
    before, *rest = _split(texts.greeting, "{name}")
    if before:
        _run(greeting, before, _NAME_SIZE)
    for after in rest:
        _run(greeting, slip.full_name, _NAME_SIZE, bold=True)
        if after:
            _run(greeting, after, _NAME_SIZE)
    for line in (slip.position, slip.organization):
        if _clean(line):
            _run(left.paragraph(), line, _BODY_SIZE)

    _run(left.paragraph(space_before=Pt(8)), texts.title, _BODY_SIZE, bold=True)
    _run(left.paragraph(space_before=Pt(2)), texts.when_where, _BODY_SIZE)
    _run(left.paragraph(space_before=Pt(8)), texts.deadline, _BODY_SIZE, italic=True)
    _run(left.paragraph(space_before=Pt(4)), texts.contact, _SMALL_BODY_SIZE)

    right = _CellWriter(qr_cell)
    _run(right.paragraph(align=WD_ALIGN_PARAGRAPH.RIGHT), slip.code, _TINY_SIZE)
    picture = _run(right.paragraph(align=WD_ALIGN_PARAGRAPH.CENTER, space_after=Pt(2)), "", None)
    inline = picture.add_picture(io.BytesIO(qr_png(slip.link)), width=_QR_WIDTH)._inline
    # Word writes these zeros itself; without them LibreOffice pads the picture on the left and
    # pushes it past the cell's right edge.
    for distance in ("distT", "distB", "distL", "distR"):
        inline.set(distance, "0")
    instruction = right.paragraph(align=WD_ALIGN_PARAGRAPH.CENTER, space_after=Pt(3))
    _run(instruction, texts.instruction, _SMALL_BODY_SIZE, bold=True)
    if _clean(slip.link_code):
        code = slip.link_code.join(_split(slip.code_hint or texts.code_hint, "{code}"))
        _run(
            right.paragraph(align=WD_ALIGN_PARAGRAPH.CENTER, space_after=Pt(3)),
            code,
            _BODY_SIZE,
            bold=True,
        )
    hint = slip.link.join(_split(texts.link_hint, "{link}"))
    _run(right.paragraph(align=WD_ALIGN_PARAGRAPH.CENTER), hint, _TINY_SIZE)


class _CellWriter:
    """Adds paragraphs to a table cell, starting with the empty one every new cell holds."""

    def __init__(self, cell: _Cell) -> None:
        """Write into ``cell``, which must still be as python-docx created it."""
        self._cell = cell
        self._used = False

    def paragraph(
        self,
        *,
        align: WD_ALIGN_PARAGRAPH | None = None,
        space_before: Length | None = None,
        space_after: Length | None = None,
    ) -> Paragraph:
        """The next paragraph of the cell, aligned and spaced as asked."""
        paragraph: Paragraph = (
            self._cell.paragraphs[0] if not self._used else self._cell.add_paragraph()
        )
        self._used = True
        if align is not None:
            paragraph.alignment = align
        if space_before is not None:
            paragraph.paragraph_format.space_before = space_before
        if space_after is not None:
            paragraph.paragraph_format.space_after = space_after
        return paragraph


def _run(
    paragraph: Paragraph,
    text: str,
    size: Length | None,
    *,
    bold: bool = False,
    italic: bool = False,
) -> Run:
    """Append ``text`` as a run in the slips' font; python-docx escapes it as XML text."""
    run = paragraph.add_run(_clean(text))
    run.font.name = _FONT
    _use_font(run._r.get_or_add_rPr().get_or_add_rFonts())
    if size is not None:
        run.font.size = size
    if bold:
        run.bold = True
    if italic:
        run.italic = True
    return run


def _split(template: str, placeholder: str) -> list[str]:
    """The text around each ``placeholder`` in ``template``; without one, the value goes last."""
    parts = template.split(placeholder)
    if len(parts) == 1:
        return [f"{template} " if template else "", ""]
    return parts


def _clean(text: str) -> str:
    """``text`` without the characters an XML document cannot hold, nor invisible ones."""
    return printable(_NOT_XML.sub("", text))
