"""Cutting long texts into messages (:mod:`bot.texts.splitting`)."""

from __future__ import annotations

from bot.texts.splitting import split_lines

HEADING = "📢 Thông báo của Văn phòng Hội LHPN thành phố Hà Nội"
SENTENCE = "Kính gửi các đồng chí, Văn phòng đề nghị chuẩn bị tài liệu trước ngày họp."


def test_a_heading_goes_with_the_start_of_a_long_paragraph_not_alone() -> None:
    body = " ".join([SENTENCE] * 45)  # 3,419 characters, one line
    parts = split_lines([HEADING, "", body], 2000)
    assert len(parts) == 2
    assert parts[0].startswith(HEADING + "\n\n" + SENTENCE)
    assert all(len(part) <= 2000 for part in parts)


def test_a_long_line_is_cut_after_a_sentence_rather_than_between_syllables() -> None:
    body = " ".join([SENTENCE] * 45)
    parts = split_lines([body], 2000)
    assert [part.endswith(".") for part in parts[:-1]] == [True]
    assert all(part.startswith("Kính gửi") for part in parts)
    assert " ".join(parts) == body


def test_without_a_sentence_end_a_long_line_is_cut_after_a_clause_then_at_a_space() -> None:
    clauses = ", ".join(["các đồng chí chuẩn bị tài liệu"] * 100)
    parts = split_lines([clauses], 500)
    assert all(part.endswith(",") for part in parts[:-1])
    words = " ".join(["đồng chí"] * 300)
    parts = split_lines([words], 500)
    assert all(len(part) <= 500 for part in parts) and " ".join(parts) == words


def test_lines_that_fit_a_message_are_never_cut_and_little_room_is_not_filled() -> None:
    lines = [f"{n:02d}. " + "x" * 90 for n in range(40)]
    parts = split_lines(lines, 2000)
    assert sorted(line for part in parts for line in part.split("\n")) == lines
    long = " ".join([SENTENCE] * 30)
    short = "y" * 1900  # 99 characters left: the long line starts the next message
    parts = split_lines([short, long], 2000)
    assert parts[0] == short and parts[1].startswith("Kính gửi")


def test_a_line_beginning_with_an_unclosed_ampersand_is_still_cut() -> None:
    line = "&" + "a" * 5000
    parts = split_lines([line], 2000)
    assert "".join(parts) == line and all(len(part) <= 2000 for part in parts)
