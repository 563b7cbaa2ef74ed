"""Protocol order, the order of precedence of officials (not :class:`typing.Protocol`): groups
in the plan's order, then rank within the group, then code.

The rule is stated twice, once for objects in memory (:func:`protocol_key`) and once for the
database (``bot.services.roster.protocol_key``, which pages the roster with LIMIT): both take
their ``LAST`` from here and compare codes by code point (SQLite's BINARY collation of UTF-8
text orders as Python orders ``str``); ``tests/test_protocol_order.py`` holds them to one order.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol


class Ranked(Protocol):
    """Anything placed in protocol order."""

    @property
    def group_key(self) -> str: ...
    @property
    def rank(self) -> int | None: ...
    @property
    def code(self) -> str: ...


# Where unknown groups and unranked delegates go.
LAST = 10**9


def protocol_key(group_order: dict[str, int]) -> Callable[[Ranked], tuple[int, int, str]]:
    """A sort key; unknown groups and unranked delegates go last."""

    def key(item: Ranked) -> tuple[int, int, str]:
        rank = LAST if item.rank is None else item.rank
        return (group_order.get(item.group_key, LAST), rank, item.code)

    return key
