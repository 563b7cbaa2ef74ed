"""The content-addressed store for uploaded speech drafts (storage/files.py)."""

from __future__ import annotations

import hashlib
import os
import stat
import unicodedata
from collections.abc import Iterator
from pathlib import Path

import pytest

from storage.files import (
    ALLOWED_SUFFIXES,
    MAX_BYTES,
    STAGED_MARGIN,
    FileRejected,
    FileStore,
    read_stored,
    sanitize_filename,
)
from tests.samples import office_file, ole

PDF = b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\n%%EOF\n"
DOCX = office_file("docx", "Tham luận")
ODT = office_file("odt", "Tham luận")
DOC = ole(("WordDocument", 2))
RTF = b"{\\rtf1\\ansi Tham lu\\u7853?n}"
TXT = "Tham luận của Quận Hoàn Kiếm\n".encode()

VALID = {".pdf": PDF, ".docx": DOCX, ".odt": ODT, ".doc": DOC, ".rtf": RTF, ".txt": TXT}


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "drafts"


@pytest.fixture
def store(root: Path) -> FileStore:
    return FileStore(root)


def files_under(directory: Path) -> list[Path]:
    return sorted(p for p in directory.rglob("*") if p.is_file())


def rejection(store: FileStore, filename: str, content: bytes) -> str:
    with pytest.raises(FileRejected) as caught:
        store.put(filename, content)
    return caught.value.code


# --- round trip and content addressing -------------------------------------------------------


def test_put_then_open_returns_the_same_bytes(store: FileStore) -> None:
    stored = store.put("tham-luan.pdf", PDF)
    assert store.open(stored.sha256) == PDF


def test_stored_file_describes_the_upload(store: FileStore, root: Path) -> None:
    stored = store.put("Tham luận Quận Ba Đình.PDF", PDF)
    digest = hashlib.sha256(PDF).hexdigest()
    assert stored.sha256 == digest
    assert stored.size == len(PDF)
    assert stored.suffix == ".pdf"
    assert stored.display_name == "Tham luận Quận Ba Đình.pdf"
    assert stored.created is True
    assert stored.path == root.resolve() / digest[:2] / digest[2:4] / digest
    assert stored.path.is_absolute()
    assert stored.path.read_bytes() == PDF


def test_blob_path_contains_only_the_digest_never_the_user_name(store: FileStore) -> None:
    stored = store.put("bí mật.docx", DOCX)
    relative = stored.path.relative_to(store.root)
    assert relative.parts == (stored.sha256[:2], stored.sha256[2:4], stored.sha256)


def test_identical_reupload_reuses_the_blob_without_rewriting_it(
    store: FileStore, root: Path
) -> None:
    first = store.put("ban-dau.docx", DOCX)
    before = first.path.stat()
    second = store.put("gui-lai lan 2.docx", DOCX)
    after = second.path.stat()
    assert second.created is False
    assert second.sha256 == first.sha256
    assert second.path == first.path
    assert second.display_name == "gui-lai lan 2.docx"
    # os.replace would give a new inode, so an unchanged one proves the blob was not rewritten.
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert files_under(root) == [first.path]


def test_different_content_gets_a_different_blob(store: FileStore, root: Path) -> None:
    a = store.put("a.txt", b"ban thu nhat\n")
    b = store.put("a.txt", b"ban thu hai\n")
    assert a.sha256 != b.sha256
    assert a.path != b.path
    assert b.created is True
    assert files_under(root) == sorted([a.path, b.path])
    assert store.open(a.sha256) == b"ban thu nhat\n"
    assert store.open(b.sha256) == b"ban thu hai\n"


def test_blob_damaged_outside_the_store_is_rewritten_on_reupload(store: FileStore) -> None:
    first = store.put("a.pdf", PDF)
    first.path.write_bytes(PDF[:5])
    again = store.put("a.pdf", PDF)
    assert again.created is True
    assert store.open(again.sha256) == PDF


def test_failed_write_leaves_no_temp_file_behind(
    store: FileStore, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_replace(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        store.put("a.pdf", PDF)
    assert files_under(root) == []


# --- size and type checks ---------------------------------------------------------------------


def test_empty_content_is_rejected_as_empty(store: FileStore, root: Path) -> None:
    assert rejection(store, "a.pdf", b"") == "empty"
    assert not root.exists()


def test_content_one_byte_over_20_mb_is_rejected_as_too_large(store: FileStore) -> None:
    content = b"%PDF" + b"0" * (MAX_BYTES + 1 - 4)
    assert len(content) == 20 * 1024 * 1024 + 1
    assert rejection(store, "a.pdf", content) == "too_large"


@pytest.mark.parametrize(
    "filename", ["virus.exe", "a.docx.exe", "no-suffix", "a.docx.", "script.py", "a.PDF.js", ""]
)
def test_unsupported_suffix_is_rejected_as_bad_type(store: FileStore, filename: str) -> None:
    assert rejection(store, filename, PDF) == "bad_type"


@pytest.mark.parametrize("suffix", ALLOWED_SUFFIXES)
def test_every_allowed_format_with_matching_content_is_accepted(
    store: FileStore, suffix: str
) -> None:
    stored = store.put(f"tham-luan{suffix.upper()}", VALID[suffix])
    assert stored.suffix == suffix
    assert stored.display_name == f"tham-luan{suffix}"


@pytest.mark.parametrize(
    ("filename", "content"),
    [
        ("a.pdf", DOCX),
        ("a.pdf", b"hello %PDF-1.7"),
        ("a.docx", PDF),
        ("a.docx", DOC),
        ("a.odt", DOC),
        ("a.doc", DOCX),
        ("a.rtf", b"plain words, no rtf header"),
        ("a.docx", b"PK\x05\x06" + b"\x00" * 18),  # an empty zip archive
    ],
)
def test_content_that_contradicts_its_suffix_is_rejected_as_bad_type(
    store: FileStore, root: Path, filename: str, content: bytes
) -> None:
    assert rejection(store, filename, content) == "bad_type"
    assert not root.exists()


@pytest.mark.parametrize(
    "content",
    [
        "Tham luận về chuyển đổi số\n".encode(),
        "Tham luận về chuyển đổi số\n".encode("utf-8-sig"),
        "Tham luận về chuyển đổi số\n".encode("utf-16"),
        b"\xff\xfe" + "Tham luận về chuyển đổi số\n".encode("utf-16-le"),
        b"\xfe\xff" + "Tham luận về chuyển đổi số\n".encode("utf-16-be"),
    ],
    ids=["utf-8", "utf-8-bom", "utf-16-native-bom", "utf-16-le-bom", "utf-16-be-bom"],
)
def test_text_in_utf8_or_bom_marked_utf16_is_accepted_byte_for_byte(
    store: FileStore, content: bytes
) -> None:
    stored = store.put("tham-luan.txt", content)
    assert store.open(stored.sha256) == content


@pytest.mark.parametrize(
    "content",
    [
        "Báo cáo tham luan".encode("cp1258"),
        b"tham luan\x00an",
        "tham luan".encode("utf-16-le"),  # no BOM: reads as UTF-8 full of NULs
        b"\xff\xfe" + b"t\x00h",  # odd length cannot be UTF-16
        b"\xff\xfe\x00\x00" + "hi".encode("utf-32-le"),  # UTF-32 looks like UTF-16 with NULs
    ],
    ids=["cp1258", "nul", "utf-16-without-bom", "truncated-utf-16", "utf-32"],
)
def test_text_that_is_not_clean_unicode_is_rejected_as_bad_type(
    store: FileStore, content: bytes
) -> None:
    assert rejection(store, "a.txt", content) == "bad_type"


@pytest.mark.parametrize("content", [b" \n\t\n", b"\xef\xbb\xbf", "\n".encode("utf-16")])
def test_text_file_with_only_whitespace_is_rejected_as_empty(
    store: FileStore, content: bytes
) -> None:
    assert rejection(store, "a.txt", content) == "empty"


def test_rejection_code_and_detail_are_exposed(store: FileStore) -> None:
    with pytest.raises(FileRejected) as caught:
        store.put("virus.exe", b"MZ")
    assert isinstance(caught.value, ValueError)
    assert caught.value.code == "bad_type"
    assert str(caught.value) == "bad_type: suffix '.exe' is not accepted"


# --- check() before downloading -----------------------------------------------------------------


def test_check_returns_the_lower_case_suffix_from_name_and_size_alone(
    store: FileStore, root: Path
) -> None:
    assert store.check("Tham Luận.DOCX", 1234) == ".docx"
    assert store.check("ghi chép.txt", None) == ".txt"
    assert store.check("a.pdf", MAX_BYTES) == ".pdf"
    assert not root.exists()


@pytest.mark.parametrize(
    ("filename", "size", "code"),
    [
        ("a.pdf", 0, "empty"),
        ("a.pdf", MAX_BYTES + 1, "too_large"),
        ("a.pdf", 50 * 1024 * 1024, "too_large"),
        ("virus.exe", 10, "bad_type"),
        ("virus.exe", None, "bad_type"),
        ("virus.exe", MAX_BYTES + 1, "bad_type"),  # the type is what the sender must change
        ("virus.exe", 0, "bad_type"),
    ],
)
def test_check_rejects_by_name_and_announced_size(
    store: FileStore, filename: str, size: int | None, code: str
) -> None:
    with pytest.raises(FileRejected) as caught:
        store.check(filename, size)
    assert caught.value.code == code


def test_check_refuses_a_negative_size_as_a_programming_error(store: FileStore) -> None:
    with pytest.raises(ValueError, match="negative size -1"):
        store.check("a.pdf", -1)


# --- digests as keys ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "digest",
    [
        "../x",
        "",
        "ab/cd/" + "0" * 58,
        "0" * 63,
        "0" * 65,
        "A" * 64,
        "g" * 64,
        "0" * 64 + "\n",
        "../" + "0" * 61,
    ],
)
def test_malformed_digest_is_refused_before_touching_the_disk(
    store: FileStore, root: Path, digest: str
) -> None:
    with pytest.raises(ValueError, match="not a sha256 hex digest"):
        store.path_for(digest)
    with pytest.raises(ValueError, match="not a sha256 hex digest"):
        store.open(digest)
    assert not root.exists()


def test_open_of_a_digest_never_stored_raises_file_not_found(store: FileStore) -> None:
    with pytest.raises(FileNotFoundError):
        store.open(hashlib.sha256(b"never stored").hexdigest())


def test_read_stored_gives_the_content_of_a_stored_file(store: FileStore) -> None:
    assert read_stored(store.put("tham-luan.pdf", PDF).path) == PDF


def test_read_stored_of_a_file_on_record_but_lost_from_the_disk_is_none(
    store: FileStore,
) -> None:
    stored = store.put("tham-luan.pdf", PDF)
    stored.path.unlink()  # the database restored without the folder of files
    assert read_stored(stored.path) is None


def test_read_stored_of_a_file_there_but_unreadable_is_none_and_logged_by_its_error_s_kind(
    store: FileStore, caplog: pytest.LogCaptureFixture
) -> None:
    stored = store.put("tham-luan.pdf", PDF)
    stored.path.unlink()
    stored.path.mkdir()  # something there, but no file to read (as a permission would be)
    assert read_stored(stored.path) is None
    assert [r.getMessage() for r in caplog.records] == [
        "a stored file could not be read: IsADirectoryError"
    ]


def test_path_for_lays_blobs_out_in_two_levels_under_root(store: FileStore) -> None:
    digest = "ab" + "cd" + "0" * 60
    assert store.path_for(digest) == store.root / "ab" / "cd" / digest


def test_relative_root_is_made_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    store = FileStore(Path("drafts"))
    assert store.root == (tmp_path / "drafts").resolve()
    assert store.put("a.pdf", PDF).path.is_relative_to(tmp_path.resolve() / "drafts")


# --- permissions ----------------------------------------------------------------------------------


@pytest.fixture(params=[0o000, 0o022, 0o077], ids=["umask-000", "umask-022", "umask-077"])
def umask(request: pytest.FixtureRequest) -> Iterator[int]:
    previous = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(previous)


def test_created_directories_are_0750_and_blobs_0640_whatever_the_umask(
    tmp_path: Path, umask: int
) -> None:
    root = tmp_path / "data" / "drafts"
    stored = FileStore(root).put("a.pdf", PDF)
    assert stat.S_IMODE(stored.path.stat().st_mode) == 0o640
    for directory in (tmp_path / "data", root, stored.path.parent.parent, stored.path.parent):
        assert stat.S_IMODE(directory.stat().st_mode) == 0o750, directory


def test_existing_root_keeps_its_own_mode(tmp_path: Path) -> None:
    root = tmp_path / "drafts"
    root.mkdir(mode=0o700)
    root.chmod(0o700)
    FileStore(root).put("a.pdf", PDF)
    assert stat.S_IMODE(root.stat().st_mode) == 0o700


# --- names: never a path, always a safe display name -------------------------------------------


@pytest.mark.parametrize(
    ("filename", "display_name"),
    [
        ("../../etc/passwd.txt", "passwd.txt"),
        ("../../../../tmp/x.pdf", "x.pdf"),
        ("C:\\x\\y.docx", "y.docx"),
        ("C:y.docx", "C y.docx"),
        ("\\\\server\\share\\z.odt", "z.odt"),
        ("..\\..\\..\\boot.ini.rtf", "boot.ini.rtf"),
        ("/abs/olute.pdf", "olute.pdf"),
        ("..", "tham-luan"),
        ("../.pdf", "tham-luan.pdf"),
        ("a/b/../../..", "tham-luan"),
    ],
)
def test_path_like_names_are_reduced_to_a_harmless_last_component(
    filename: str, display_name: str
) -> None:
    assert sanitize_filename(filename) == display_name


@pytest.mark.parametrize(
    "filename",
    [
        "../../etc/passwd.txt",
        "../../../../tmp/x.txt",
        "C:\\x\\y.txt",
        "/abs/olute.txt",
        "..\\..\\evil.txt",
        "../drafts-sibling/../../a.txt",
    ],
)
def test_traversal_names_never_place_anything_outside_the_root(
    tmp_path: Path, filename: str
) -> None:
    root = tmp_path / "drafts"
    stored = FileStore(root).put(filename, f"noi dung {filename}".encode())
    assert stored.path.resolve().is_relative_to(root.resolve())
    assert list(tmp_path.iterdir()) == [root]
    assert files_under(tmp_path) == [stored.path]
    assert "/" not in stored.display_name
    assert "\\" not in stored.display_name
    assert not stored.display_name.startswith(".")


@pytest.mark.parametrize(
    ("filename", "display_name"),
    [
        ("CON.docx", "_CON.docx"),
        ("con.pdf", "_con.pdf"),
        ("Prn.txt", "_Prn.txt"),
        ("AUX", "_AUX"),
        ("NUL.tar.docx", "_NUL.tar.docx"),
        ("COM1.pdf", "_COM1.pdf"),
        ("lpt9.rtf", "_lpt9.rtf"),
        ("COM¹.pdf", "_COM¹.pdf"),
        ("CON .docx", "_CON.docx"),
        ("CONSOLE.docx", "CONSOLE.docx"),
        ("COM10.pdf", "COM10.pdf"),
        ("báo cáo CON.docx", "báo cáo CON.docx"),
    ],
)
def test_windows_reserved_device_names_are_defused(filename: str, display_name: str) -> None:
    assert sanitize_filename(filename) == display_name


def test_long_vietnamese_name_is_capped_at_120_characters_keeping_the_suffix() -> None:
    long_name = "Tham luận của Ủy ban nhân dân quận Hoàn Kiếm về chuyển đổi số " * 5 + ".docx"
    result = sanitize_filename(long_name)
    assert len(result) == 120
    assert result == long_name[:115] + ".docx"
    assert result.endswith("Hoàn Kiếm về chuyể.docx")


def test_capping_never_leaves_a_trailing_space_before_the_suffix() -> None:
    result = sanitize_filename("a" * 115 + " bcdef.pdf")
    assert result == "a" * 115 + ".pdf"


def test_long_name_is_also_capped_at_255_utf8_bytes_for_file_systems() -> None:
    result = sanitize_filename("ệ" * 200 + ".pdf")  # "ệ" takes 3 bytes in UTF-8
    assert result == "ệ" * 83 + ".pdf"
    assert len(result.encode()) == 253


def test_stored_display_name_of_a_long_name_keeps_the_stored_suffix(store: FileStore) -> None:
    stored = store.put("Đề án phát triển kinh tế xã hội giai đoạn 2026–2030 " * 4 + ".ODT", ODT)
    assert len(stored.display_name) == 120
    assert stored.display_name.endswith(".odt")
    assert stored.suffix == ".odt"


@pytest.mark.parametrize(
    ("filename", "display_name"),
    [
        ("  Báo   cáo\t\ttham\nluận  .docx", "Báo cáo tham luận.docx"),
        ("bad\x00name\x1f.pdf", "bad name.pdf"),
        ("evil\u202ecod.exe", "evilcod.exe"),
        ("zero\u200bwidth.pdf", "zerowidth.pdf"),
        ('a<b>c:d"e|f?g*h.pdf', "a b c d e f g h.pdf"),
        ("...hidden.txt", "hidden.txt"),
        ("-rf.txt", "rf.txt"),
        ("report.pdf. . .", "report.pdf"),
        ("(Dự thảo) Tham luận_v2 [sửa], bản #3.docx", "(Dự thảo) Tham luận_v2 [sửa], bản #3.docx"),
        ("", "tham-luan"),
        ("\x00\x01\x02", "tham-luan"),
        ("....docx", "tham-luan.docx"),
    ],
)
def test_sanitize_filename_keeps_readable_text_and_drops_the_rest(
    filename: str, display_name: str
) -> None:
    assert sanitize_filename(filename) == display_name


def test_sanitize_filename_composes_decomposed_vietnamese_to_nfc() -> None:
    decomposed = unicodedata.normalize("NFD", "Tham luận Đống Đa.docx")
    assert decomposed != "Tham luận Đống Đa.docx"
    assert sanitize_filename(decomposed) == "Tham luận Đống Đa.docx"


def test_sanitize_filename_uses_the_given_fallback_for_an_empty_stem() -> None:
    assert sanitize_filename("../.txt", fallback="ban-thao") == "ban-thao.txt"
    assert sanitize_filename("", fallback="ban-thao") == "ban-thao"


def test_bidi_trick_cannot_make_an_executable_pass_as_a_document(store: FileStore) -> None:
    # Displayed by a bidi-aware client as "tham-luanexe.docx", but its real suffix is ".exe".
    assert rejection(store, "tham-luan\u202excod.exe", DOCX) == "bad_type"


# --- staged, then put in place by the transaction that records it ----------------------------


def test_a_staged_upload_is_not_in_place_until_published(store: FileStore, root: Path) -> None:
    staged = store.stage(store.examine("ban-dau.docx", DOCX), DOCX)
    assert not staged.examined.path.exists()
    assert [p.name.startswith(".tmp-") for p in files_under(root)] == [True]
    stored = store.publish(staged)
    assert (stored.created, stored.path.read_bytes()) == (True, DOCX)
    store.discard(staged)  # after publishing: nothing to remove, the blob stays
    assert files_under(root) == [stored.path]


def test_a_discarded_upload_leaves_nothing_on_disk(store: FileStore, root: Path) -> None:
    staged = store.stage(store.examine("ban-dau.docx", DOCX), DOCX)
    store.discard(staged)
    assert files_under(root) == []


def test_staging_a_stored_content_writes_nothing_and_discarding_it_keeps_the_blob(
    store: FileStore, root: Path
) -> None:
    first = store.put("ban-dau.docx", DOCX)
    staged = store.stage(store.examine("gui-lai.docx", DOCX), DOCX)
    assert files_under(root) == [first.path]
    store.discard(staged)  # another row names this blob: never removed
    assert files_under(root) == [first.path]
    assert store.publish(staged).created is False


def test_a_blob_removed_between_staging_and_publishing_is_written_again(
    store: FileStore, root: Path
) -> None:
    first = store.put("ban-dau.docx", DOCX)
    staged = store.stage(store.examine("gui-lai.docx", DOCX), DOCX)
    first.path.unlink()  # removed by hand meanwhile (a purge cannot run beside an upload)
    assert store.publish(staged).created is True
    assert files_under(root) == [first.path] and first.path.read_bytes() == DOCX


async def test_a_staged_body_that_fails_leaves_nothing_on_disk(
    store: FileStore, root: Path
) -> None:
    with pytest.raises(RuntimeError):
        async with store.staged(store.examine("ban-dau.docx", DOCX), DOCX) as staged:
            assert [p.name.startswith(".tmp-") for p in files_under(root)] == [True]
            raise RuntimeError("the upload was refused")
    assert staged.temporary is None
    assert files_under(root) == []


async def test_a_staged_body_that_publishes_keeps_the_file(store: FileStore, root: Path) -> None:
    async with store.staged(store.examine("ban-dau.docx", DOCX), DOCX) as staged:
        stored = store.publish(staged)
    assert files_under(root) == [stored.path]
    assert stored.path.read_bytes() == DOCX


def test_sweeping_removes_staged_files_left_long_ago_and_keeps_young_ones_and_blobs(
    store: FileStore, root: Path
) -> None:
    # A process killed while it staged an upload left its temporary file; another process
    # (PostgreSQL: they share the store) is staging one right now; a blob is in place.
    blob = store.put("ban-dau.docx", DOCX)
    left = store.stage(store.examine("bai-cu.pdf", PDF), PDF).temporary
    young = store.stage(store.examine("bai-moi.txt", TXT), TXT).temporary
    assert left is not None and young is not None
    now = young.stat().st_mtime
    os.utime(left, (now - STAGED_MARGIN - 1, now - STAGED_MARGIN - 1))
    os.utime(blob.path, (now - 10 * STAGED_MARGIN, now - 10 * STAGED_MARGIN))
    assert store.sweep_staged(now=now) == 1
    assert files_under(root) == sorted([blob.path, young])
    assert store.sweep_staged(now=now) == 0


def test_sweeping_a_store_never_written_to_finds_nothing(store: FileStore, root: Path) -> None:
    assert store.sweep_staged() == 0
    assert not root.exists()
