"""The command line's own words in Vietnamese: a mistyped command is answered with its usage,
what is wrong in the office's language, and where the help is; ``-h`` reads in Vietnamese too."""

from __future__ import annotations

import argparse

import pytest

from bot.cli import _parser, main
from bot.cli.parser import in_vietnamese


def refused(argv: list[str], capsys: pytest.CaptureFixture[str]) -> list[str]:
    """What ``hoinghi argv`` writes to stderr, after checking it exits with 2 and prints nothing
    else."""
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    return captured.err.splitlines()


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        ([], "hoinghi: lỗi: còn thiếu LỆNH."),
        (["staff", "add"], "hoinghi staff add: lỗi: còn thiếu MÃ."),
        (
            ["staff", "lis"],
            "hoinghi staff: lỗi: LỆNH: không có «lis»; đề nghị chọn một trong: «add», «remove», "
            "«list», «login».",
        ),
        (
            ["staff", "list", "--role", "letan"],
            "hoinghi staff list: lỗi: --role: không có «letan»; đề nghị chọn một trong: "
            "«office», «checkin».",
        ),
        (
            ["--frob", "check"],
            "hoinghi: lỗi: không có tùy chọn hay đối số nào như thế này: --frob.",
        ),
        (["db", "copy", "--to"], "hoinghi db copy: lỗi: --to: cần một giá trị đi kèm."),
        (
            ["rehearse", "--seed", "x"],
            "hoinghi rehearse: lỗi: --seed: cần một số nguyên, «x» không phải số nguyên.",
        ),
        (
            ["purge", "--dry-run", "--yes"],
            "hoinghi purge: lỗi: -y/--yes: không dùng cùng lúc với --dry-run.",
        ),
        (
            ["purge", "--dr"],
            "hoinghi purge: lỗi: «--dr» chưa rõ là tùy chọn nào: --drafts, --dry-run.",
        ),
    ],
)
def test_a_mistyped_command_is_answered_in_vietnamese_with_its_usage_and_where_help_is(
    argv: list[str], said: str, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = refused(argv, capsys)
    assert lines[0].startswith("cách dùng: hoinghi")
    assert said in lines
    prog = said.split(": lỗi:")[0]
    assert lines[-1] == f"Xem hướng dẫn: {prog} -h"


def test_help_reads_in_vietnamese_with_no_english_heading(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["staff", "add", "-h"])
    assert exited.value.code == 0
    shown = capsys.readouterr().out
    assert shown.startswith(
        "cách dùng: hoinghi staff add [-h] [--role {office,checkin}] [--same-meeting]"
    )
    assert "\nđối số:\n" in shown and "\ntùy chọn:\n" in shown
    assert "-h, --help" in shown and "hiện hướng dẫn này rồi thoát" in shown
    for english in ("usage:", "positional arguments", "options:", "show this help"):
        assert english not in shown


def test_a_choice_is_read_as_newer_pythons_write_it_too() -> None:
    assert in_vietnamese("argument LỆNH: invalid choice: lis (choose from add, remove)") == (
        "LỆNH: không có «lis»; đề nghị chọn một trong: «add», «remove»."
    )


def test_a_message_of_a_shape_not_known_is_kept_as_it_came() -> None:
    assert in_vietnamese("argument --x: something new") == "--x: something new"
    assert in_vietnamese("something else") == "something else"


def leaf_commands(parser: argparse.ArgumentParser, prefix: str = "") -> dict[str, set[str]]:
    """Every sub-command of ``parser`` by its words, with the options it takes."""
    found: dict[str, set[str]] = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found |= leaf_commands(sub, f"{prefix} {name}".strip())
    if not found and prefix:
        found[prefix] = {option for action in parser._actions for option in action.option_strings}
    return found


def test_every_command_that_opens_the_meeting_takes_same_meeting() -> None:
    """A plan reusing another meeting's code is refused by whatever opens the meeting, and the
    refusal tells the office to add --same-meeting: each such command must take it."""
    without = {
        command
        for command, options in leaf_commands(_parser()).items()
        if "--same-meeting" not in options
    }
    # These never open the meeting: the plan alone, the database as a whole, a rehearsal's own.
    assert without == {"check", "db upgrade", "db backup", "db copy", "rehearse"}
