"""Long texts cut into messages a platform accepts: at line breaks, never inside an HTML entity."""

from __future__ import annotations

from collections.abc import Iterable


def split_lines(lines: Iterable[str], limit: int) -> list[str]:
    """Join lines into messages of at most ``limit`` characters, splitting at line breaks.

    A single line longer than the limit (a long paragraph someone typed) is cut at a space,
    never inside an HTML entity; rendered lines never carry a tag across such a cut because
    person-typed text is escaped and tags wrap only short labels.
    """
    messages: list[str] = []
    current: list[str] = []
    size = 0
    for whole in lines:
        for line in _cut(whole, limit):
            extra = len(line) + (1 if current else 0)
            if current and size + extra > limit:
                messages.append("\n".join(current))
                current, size = [], 0
                extra = len(line)
            current.append(line)
            size += extra
    if current:
        messages.append("\n".join(current))
    return messages


def _cut(line: str, limit: int) -> list[str]:
    pieces = []
    while len(line) > limit:
        cut = line.rfind(" ", 0, limit)
        if cut <= 0:
            cut = limit
        entity = line.rfind("&", 0, cut)
        if entity != -1 and ";" not in line[entity:cut]:
            cut = entity  # do not split "&amp;" in two
        pieces.append(line[:cut])
        line = line[cut:].lstrip(" ")
    pieces.append(line)
    return pieces
