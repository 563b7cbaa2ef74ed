"""What the .docx builders share: the Times New Roman defaults, a run's text as python-docx
writes it, and the package saved with a body written as WordprocessingML text.

The invitation slips (:mod:`bot.documents.slips`) and the meeting day's papers
(:mod:`bot.documents.day_papers`) lay a document out once with python-docx (page, fonts, the
file's properties) and then stream their rows into ``word/document.xml`` as text, with no
search of the document per row: the only way 10,000 people take seconds, not hours.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Callable, Iterable, Iterator
from html import escape
from typing import Final

from docx.document import Document as DocxDocument
from docx.oxml.ns import qn
from docx.oxml.xmlchemy import BaseOxmlElement
from docx.shared import Pt

# The typeface of Vietnamese administrative documents (Nghị định 30/2020/NĐ-CP).
FONT: Final = "Times New Roman"
BODY_SIZE: Final = Pt(12)

# Word's proofing language by the catalog's locale: Vietnamese marked en-US (python-docx's
# template) is underlined as misspelt from the first word to the last.
WORD_LANGUAGES: Final = {"vi": "vi-VN", "en": "en-US"}
VIETNAMESE: Final = "vi-VN"

_THEME_FONT_ATTRIBUTES: Final = ("w:asciiTheme", "w:hAnsiTheme", "w:eastAsiaTheme", "w:cstheme")
_FONT_ATTRIBUTES: Final = ("w:ascii", "w:hAnsi", "w:eastAsia", "w:cs")

# A part of the package as it is written: its entry (name and date as python-docx saved them)
# or a new part's name, and its content.
Part = tuple[zipfile.ZipInfo | str, bytes]


def run_content(text: str) -> str:
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


def word_language(locale: str) -> str:
    """The proofing language (``w:lang``) of a document written in ``locale``'s words."""
    return WORD_LANGUAGES.get(locale, VIETNAMESE)


def set_up_fonts(document: DocxDocument, language: str = VIETNAMESE) -> None:
    """Times New Roman and tight single spacing as the defaults, for paragraph marks too; the
    text's language (for Word's spelling check) ``language``."""
    styles = document.styles
    for r_fonts in styles.element.xpath("./w:docDefaults/w:rPrDefault/w:rPr/w:rFonts"):
        use_font(r_fonts)
    for lang in styles.element.xpath("./w:docDefaults/w:rPrDefault/w:rPr/w:lang"):
        lang.set(qn("w:val"), language)
    normal = styles["Normal"]
    normal.font.name = FONT
    normal.font.size = BODY_SIZE
    use_font(normal.element.get_or_add_rPr().get_or_add_rFonts())
    normal.paragraph_format.space_before = Pt(0)
    normal.paragraph_format.space_after = Pt(0)
    normal.paragraph_format.line_spacing = 1.0


def use_font(r_fonts: BaseOxmlElement) -> None:
    """Point every script slot of a ``w:rFonts`` at :data:`FONT`, overriding theme fonts."""
    # A theme attribute wins over the explicit one beside it, so it has to go.
    for name in _THEME_FONT_ATTRIBUTES:
        r_fonts.attrib.pop(qn(name), None)
    # Word and LibreOffice read w:eastAsia (and w:cs) for some characters depending on language
    # and hint settings, so every slot names the same font and no letter falls back to another.
    for name in _FONT_ATTRIBUTES:
        r_fonts.set(qn(name), FONT)


def _as_saved(entry: zipfile.ZipInfo, content: bytes) -> Iterator[Part]:
    yield entry, content


def with_body(
    document: DocxDocument,
    body: Iterable[str],
    parts: Callable[[zipfile.ZipInfo, bytes], Iterable[Part]] = _as_saved,
) -> bytes:
    """The document saved with ``body`` (WordprocessingML paragraphs and tables, written as
    they come) as its body, before its section's properties; every other part as ``parts``
    gives it for the part as saved (itself, by default; a part may be changed, or followed by
    new ones: the slips' pictures)."""
    buffer = io.BytesIO()
    document.save(buffer)
    with (
        zipfile.ZipFile(buffer) as source,
        zipfile.ZipFile(out := io.BytesIO(), "w", zipfile.ZIP_DEFLATED) as package,
    ):
        for entry in source.infolist():
            content = source.read(entry)
            if entry.filename == "word/document.xml":
                head, tail = content.decode().split("<w:sectPr", 1)
                with package.open(entry.filename, "w") as written:
                    written.write(head.encode())
                    for piece in body:
                        written.write(piece.encode())
                    written.write(("<w:sectPr" + tail).encode())
            else:
                for name, data in parts(entry, content):
                    package.writestr(name, data)
    return out.getvalue()
