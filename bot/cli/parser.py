"""argparse in Vietnamese: the command line's own words (its usage line, its headings, the help
option, and what it says of a command it cannot take) in the language of the rest of its answers.

argparse writes its messages in English before handing them to :meth:`ArgumentParser.error`;
the parser reads them back by their shape, and one it has no words for is shown as it came
rather than lost.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable, Iterable
from typing import Any, NoReturn

USAGE = "cách dùng: "
ERROR = "{prog}: lỗi: {message}\nXem hướng dẫn: {prog} -h\n"
HELP = "hiện hướng dẫn này rồi thoát"
POSITIONALS = "đối số"
OPTIONALS = "tùy chọn"


def _listed(quoted: str) -> str:
    """argparse's ``'a', 'b'`` as «a», «b»."""
    items = re.findall(r"'([^']*)'", quoted) or quoted.split(", ")  # Python 3.14 quotes none
    return ", ".join(f"«{item}»" for item in items)


# What argparse says (Python 3.11 to 3.14), read back by its shape, in the office's words.
_SAID: tuple[tuple[re.Pattern[str], Callable[[re.Match[str]], str]], ...] = (
    (
        re.compile(r"the following arguments are required: (?P<names>.+)"),
        lambda m: f"còn thiếu {m['names']}.",
    ),
    (
        re.compile(r"unrecognized arguments: (?P<words>.+)"),
        lambda m: f"không có tùy chọn hay đối số nào như thế này: {m['words']}.",
    ),
    (
        re.compile(r"invalid choice: '?(?P<value>.*?)'? \(choose from (?P<choices>.+)\)"),
        lambda m: f"không có «{m['value']}»; đề nghị chọn một trong: {_listed(m['choices'])}.",
    ),
    (re.compile(r"expected one argument"), lambda m: "cần một giá trị đi kèm."),
    (
        re.compile(r"invalid (?P<type>\S+) value: '(?P<value>.*)'"),
        lambda m: (
            f"cần một số nguyên, «{m['value']}» không phải số nguyên."
            if m["type"] == "int"
            else f"giá trị «{m['value']}» không hợp lệ."
        ),
    ),
    (
        re.compile(r"ambiguous option: (?P<option>\S+) could match (?P<matches>.+)"),
        lambda m: f"«{m['option']}» chưa rõ là tùy chọn nào: {m['matches']}.",
    ),
    (
        re.compile(r"ignored explicit argument '(?P<value>.*)'"),
        lambda m: f"không nhận giá trị «{m['value']}».",
    ),
    (
        re.compile(r"not allowed with argument (?P<other>.+)"),
        lambda m: f"không dùng cùng lúc với {m['other']}.",
    ),
    (
        re.compile(r"one of the arguments (?P<names>.+) is required"),
        lambda m: f"cần một trong các tùy chọn: {m['names']}.",
    ),
)
_ARGUMENT = re.compile(r"argument (?P<name>\S+?): (?P<rest>.+)", re.DOTALL)


def in_vietnamese(message: str) -> str:
    """argparse's ``message`` in Vietnamese where its shape is known, else as it is."""
    named = _ARGUMENT.fullmatch(message)
    rest = named["rest"] if named else message
    for shape, say in _SAID:
        found = shape.fullmatch(rest)
        if found:
            rest = say(found)
            break
    return f"{named['name']}: {rest}" if named else rest


class _Formatter(argparse.HelpFormatter):
    def add_usage(
        self,
        usage: str | None,
        actions: Iterable[argparse.Action],
        groups: Iterable[argparse._MutuallyExclusiveGroup],
        prefix: str | None = None,
    ) -> None:
        super().add_usage(usage, actions, groups, USAGE if prefix is None else prefix)


class Parser(argparse.ArgumentParser):
    """An ArgumentParser that speaks Vietnamese; its sub-commands' parsers are of its kind."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _Formatter)
        helping = kwargs.get("add_help", True)
        kwargs["add_help"] = False  # its own -h, with its help in Vietnamese
        super().__init__(*args, **kwargs)
        self._positionals.title = POSITIONALS
        self._optionals.title = OPTIONALS
        if helping:
            self.add_argument("-h", "--help", action="help", help=HELP)

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(2, ERROR.format(prog=self.prog, message=in_vietnamese(message)))
