"""What an upload's bytes must be for its type (storage/content.py): Office files with the
structure of their type, no programs or macros inside, no paths out of the archive, no bombs."""

from __future__ import annotations

import contextlib
import os
import struct
import zipfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from storage.content import (
    MAX_MEMBERS,
    MAX_UNPACKED_BYTES,
    PROGRAM_SUFFIXES,
    FileRejected,
    check_content,
)
from storage.files import DELIVERABLE_SUFFIXES, FileStore
from tests.samples import (
    MACRO_MAIN_TYPE,
    MAIN_PARTS,
    content_types,
    declare_sizes,
    office_file,
    office_members,
    ole,
    overlapping,
    zip_bytes,
)

SOUND = {
    ".docx": office_file("docx", "Tham luận"),
    ".xlsx": office_file("xlsx", "Danh sách"),
    ".pptx": office_file("pptx", "Trình chiếu"),
    ".odt": office_file("odt", "Tham luận"),
    ".ods": office_file("ods", "Danh sách"),
    ".odp": office_file("odp", "Trình chiếu"),
    ".doc": ole(("WordDocument", 2), ("\x05SummaryInformation", 2)),
    ".xls": ole(("Workbook", 2)),
    ".ppt": ole(("PowerPoint Document", 2), ("Current User", 2)),
    ".pdf": b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\n%%EOF\n",
    ".rtf": b"{\\rtf1\\ansi Tham lu\\u7853?n}",
    ".txt": "Tham luận của Quận Hoàn Kiếm\n".encode(),
    ".jpg": b"\xff\xd8\xff\xe0\x00\x10JFIF\x00",
    ".jpeg": b"\xff\xd8\xff\xe1\x00\x10Exif\x00",
    ".png": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
    ".mp4": b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00",
    ".mov": b"\x00\x00\x00\x14ftypqt  \x00\x00\x02\x00",
}
EVIL_ZIP = zip_bytes([("evil.exe", b"MZ\x90\x00 this program is not a document")])


def refusal(suffix: str, content: bytes) -> str:
    """The code ``content`` is refused with as a ``suffix`` file."""
    with pytest.raises(FileRejected) as caught:
        check_content(suffix, content)
    return caught.value.code


@pytest.mark.parametrize("suffix", DELIVERABLE_SUFFIXES)
def test_every_accepted_type_with_the_structure_of_its_type_passes(suffix: str) -> None:
    check_content(suffix, SOUND[suffix])


def test_the_reported_attack_a_zip_holding_a_program_named_docx_is_refused(
    tmp_path: Path,
) -> None:
    store = FileStore(tmp_path / "drafts")
    with pytest.raises(FileRejected) as caught:
        store.put("tham-luan.docx", EVIL_ZIP)
    assert caught.value.code == "program"
    assert not store.root.exists()


@pytest.mark.parametrize(
    ("suffix", "content"),
    [
        (".docx", b"PK\x03\x04" + b"\x00" * 64),  # a ZIP header and nothing readable after it
        (".docx", zip_bytes([("word/document.xml", b"<doc/>")])),  # no [Content_Types].xml
        (".docx", zip_bytes(office_members("docx")[:2])),  # no word/document.xml
        (".docx", office_file("xlsx")),  # a workbook named .docx
        (".xlsx", office_file("docx")),
        (".pptx", office_file("xlsx")),
        (
            ".docx",
            office_file("docx", main_type=MAIN_PARTS["docx"][1].replace("document", "template")),
        ),
        (".odt", office_file("ods")),  # the mimetype names another type
        (".odt", zip_bytes(office_members("odt")[:1])),  # no content.xml
        (".odt", office_file("docx")),  # no mimetype
        (".doc", ole(("Workbook", 2))),  # a spreadsheet named .doc
        (".doc", ole(("\x05SummaryInformation", 2), ("䡀䈏䗤䕲䠰", 2))),  # an installer's streams
        (".doc", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 24),  # the signature alone
        (".xls", ole(("WordDocument", 2))),
    ],
    ids=[
        "zip-header-only",
        "no-content-types",
        "no-main-part",
        "xlsx-as-docx",
        "docx-as-xlsx",
        "xlsx-as-pptx",
        "dotx-as-docx",
        "ods-as-odt",
        "odt-without-content",
        "docx-as-odt",
        "xls-as-doc",
        "msi-as-doc",
        "ole-signature-alone",
        "doc-as-xls",
    ],
)
def test_a_file_without_the_structure_of_its_type_is_refused_as_malformed(
    suffix: str, content: bytes
) -> None:
    assert refusal(suffix, content) == "malformed"


@pytest.mark.parametrize("program", sorted(PROGRAM_SUFFIXES))
def test_a_program_inside_an_office_file_is_refused(program: str) -> None:
    content = office_file("docx", extra=[(f"word/media/image1{program}", b"MZ")])
    assert refusal(".docx", content) == "program"


@pytest.mark.parametrize(
    "name", ["EVIL.EXE", "evil.exe.", "evil.exe .", "customXml/a.JS", "Thumbs/setup.msi"]
)
def test_a_program_is_found_whatever_case_or_trailing_dots_its_name_has(name: str) -> None:
    assert refusal(".xlsx", office_file("xlsx", extra=[(name, b"x")])) == "program"
    assert refusal(".odt", office_file("odt", extra=[(name, b"x")])) == "program"


@pytest.mark.parametrize(
    ("suffix", "content"),
    [
        (".docx", office_file("docx", extra=[("word/vbaProject.bin", b"\xd0\xcf\x11\xe0")])),
        (".docx", office_file("docx", main_type=MACRO_MAIN_TYPE)),  # a .docm renamed .docx
        (
            ".docx",
            zip_bytes(
                [
                    (
                        "[Content_Types].xml",
                        content_types(*MAIN_PARTS["docx"]).replace(
                            b"</Types>",
                            b'<Default Extension="bin" '
                            b'ContentType="application/vnd.ms-office.vbaProject"/></Types>',
                        ),
                    ),
                    ("word/document.xml", b"<doc/>"),
                    ("word/code.bin", b"\xd0\xcf\x11\xe0"),  # a VBA project under another name
                ]
            ),
        ),
        (".xlsx", office_file("xlsx", extra=[("xl/macrosheets/sheet1.xml", b"<xm/>")])),
        (".odt", office_file("odt", extra=[("Basic/Standard/Module1.xml", b"<module/>")])),
        (".ods", office_file("ods", extra=[("Scripts/python/macro.py", b"import os")])),
        (".doc", ole(("WordDocument", 2), ("Macros", 1))),
        (".xls", ole(("Workbook", 2), ("_VBA_PROJECT_CUR", 1))),
    ],
    ids=[
        "vbaProject.bin",
        "docm-renamed",
        "vba-project-under-another-name",
        "excel-4-macro-sheet",
        "odf-basic-module",
        "odf-python-script",
        "doc-macros-storage",
        "xls-vba-storage",
    ],
)
def test_macros_are_refused(suffix: str, content: bytes) -> None:
    assert refusal(suffix, content) == "macro"


def test_an_empty_basic_library_index_is_no_macro() -> None:
    # LibreOffice writes these for every document; only a module in a library is code.
    index = [("Basic/script-lc.xml", b"<lc/>"), ("Basic/Standard/script-lb.xml", b"<lb/>")]
    check_content(".odt", office_file("odt", extra=index))


@pytest.mark.parametrize(
    "name",
    [
        "../evil.txt",
        "word/../../evil.txt",
        "/etc/cron.d/evil",
        "C:/Windows/evil.txt",
        "word\\..\\evil.txt",
    ],
)
def test_member_names_that_lead_out_of_the_archive_are_refused(name: str) -> None:
    assert refusal(".docx", office_file("docx", extra=[(name, b"x")])) == "malformed"


def test_a_member_listed_twice_is_refused() -> None:
    content = office_file("docx", extra=[("WORD/document.xml", b"<other/>")])
    assert refusal(".docx", content) == "malformed"


def test_a_member_that_unpacks_a_hundred_times_its_size_is_a_bomb() -> None:
    content = office_file("docx", extra=[("word/media/zeros.bin", b"\x00" * (2 * 1024 * 1024))])
    assert refusal(".docx", content) == "unpacked_too_large"


def test_an_archive_declaring_more_than_the_cap_unpacked_is_a_bomb_without_inflating_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Each member declares 90 MB from 1 MB of incompressible bytes (a ratio under 100): the
    # total is over the cap, and no member is opened to find out.
    members = [(f"word/media/{n}.bin", os.urandom(1024 * 1024)) for n in range(3)]
    stored = [name for name, _ in members]
    content = zip_bytes(office_members("docx") + members, stored=stored)
    bomb = declare_sizes(content, 90 * 1024 * 1024)
    assert MAX_UNPACKED_BYTES < 3 * 90 * 1024 * 1024
    monkeypatch.setattr(zipfile.ZipFile, "open", _never_opened)
    assert refusal(".docx", bomb) == "unpacked_too_large"


def _never_opened(*args: object, **kwargs: object) -> None:
    raise AssertionError("a member was inflated")


def test_of_a_sound_file_only_the_content_types_are_inflated(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    opened: list[str] = []
    real_open = zipfile.ZipFile.open

    def recording(archive: zipfile.ZipFile, name: Any, *args: Any, **kwargs: Any) -> Any:
        opened.append(getattr(name, "filename", name))
        return real_open(archive, name, *args, **kwargs)

    media = [("word/media/image1.png", SOUND[".png"] * 1000)]
    content = office_file("docx", "Tham luận", extra=media)
    monkeypatch.setattr(zipfile.ZipFile, "open", recording)
    check_content(".docx", content)
    assert opened == ["[Content_Types].xml"]


@pytest.mark.parametrize("shared", ["[Content_Types].xml", "word/media/a.bin"])
def test_members_sharing_their_bytes_are_refused(shared: str) -> None:
    data = os.urandom(100_000)
    members = [*office_members("docx"), ("word/media/a.bin", data)]
    content = zip_bytes(members, stored=["word/media/a.bin"])
    assert refusal(".docx", overlapping(content, shared)) == "malformed"


@pytest.mark.parametrize("announced", [None, 3], ids=["as-announced", "announcing-3"])
def test_an_archive_of_too_many_members_is_refused_before_it_is_read(
    monkeypatch: pytest.MonkeyPatch, announced: int | None
) -> None:
    members = [(f"word/m{n}.xml", b"") for n in range(MAX_MEMBERS + 1)]
    content = bytearray(zip_bytes(office_members("docx") + members))
    if announced is not None:  # the end record may lie; zipfile reads every entry regardless
        end = content.rfind(b"PK\x05\x06")
        struct.pack_into("<HH", content, end + 8, announced, announced)
    monkeypatch.setattr(zipfile, "ZipFile", _never_opened)
    assert refusal(".docx", bytes(content)) == "malformed"


def test_content_types_with_a_dtd_are_refused() -> None:
    laughs = (
        b'<?xml version="1.0"?><!DOCTYPE Types [<!ENTITY a "aaaaaaaaaa">'
        b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><Types>&b;</Types>'
    )
    members = [("[Content_Types].xml", laughs), *office_members("docx")[1:]]
    assert refusal(".docx", zip_bytes(members)) == "malformed"


@pytest.mark.parametrize(
    ("suffix", "content"),
    [
        (".pdf", b"MZ\x90\x00"),
        (".png", b"\xff\xd8\xff\xe0"),
        (".jpg", b"GIF89a"),
        (".mp4", b"MZ\x90\x00\x00\x00\x00\x00\x00"),
        (".xlsx", SOUND[".doc"]),
        (".ppt", SOUND[".pptx"]),
    ],
)
def test_content_that_does_not_start_like_its_type_is_refused_as_bad_type(
    suffix: str, content: bytes
) -> None:
    assert refusal(suffix, content) == "bad_type"


def test_empty_content_is_refused_as_empty() -> None:
    assert refusal(".docx", b"") == "empty"


@settings(max_examples=300, derandomize=True, database=None, deadline=None)
@given(
    suffix=st.sampled_from(sorted(DELIVERABLE_SUFFIXES)),
    cuts=st.lists(st.tuples(st.integers(min_value=0), st.binary(max_size=8)), max_size=6),
    end=st.none() | st.integers(min_value=0),
)
def test_any_mangled_file_is_judged_with_a_reason_never_an_error(
    suffix: str, cuts: list[tuple[int, bytes]], end: int | None
) -> None:
    # Whatever an attacker makes of a sound file (bytes overwritten, cut short), the judgement
    # is an acceptance or a FileRejected with a code: never another exception.
    content = bytearray(SOUND[suffix])
    for at, replacement in cuts:
        where = at % max(len(content), 1)
        content[where : where + len(replacement)] = replacement
    if end is not None:
        del content[end % max(len(content), 1) :]
    with contextlib.suppress(FileRejected):
        check_content(suffix, bytes(content))
