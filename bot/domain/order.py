"""Protocol order, the order of precedence of officials (not :class:`typing.Protocol`): groups
in the plan's order, then rank within the group, then code."""

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


_LAST = 10**9


def protocol_key(group_order: dict[str, int]) -> Callable[[Ranked], tuple[int, int, str]]:
    """A sort key; unknown groups and unranked delegates go last."""

    def key(item: Ranked) -> tuple[int, int, str]:
        rank = _LAST if item.rank is None else item.rank
        return (group_order.get(item.group_key, _LAST), rank, item.code)

    return key
