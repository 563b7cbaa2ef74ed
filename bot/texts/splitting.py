"""Long texts cut into messages a platform accepts: at line breaks, never inside an HTML entity.

A line longer than a message (a notice typed as one paragraph) has to be cut somewhere. It is
cut where a reader pauses anyway: after a sentence («. », «! », «? », «… »), else after a
clause («; », «: », «, »), else at a space, and only as a last resort inside a run of
characters. In Vietnamese a space separates syllables, not words («đồng chí», «hội nghị»), so a
cut at just any space may part a word in two; a cut at punctuation never does. The cut looks
for a pause in the last :data:`PAUSE_WITHIN` of the room, so a message is not left much shorter
than it could be for it.

Such a line first fills what room the message being built has left (when that is at least
:data:`FILL_AT_LEAST` characters), rather than leaving the lines before it alone in a message
of their own: a notice's heading goes with the start of its text, and a text of 3,400
characters takes two messages, not three — each a message of the person's quota on Zalo.
Lines that fit a message are never cut: a line arrives whole, in one message.
"""

from __future__ import annotations

from collections.abc import Iterable

# Where a reader pauses, best first: after a sentence, after a clause, between words.
_PAUSES = ((". ", "! ", "? ", "… ", ".\u00a0"), ("; ", ": ", ", "), (" ",))
PAUSE_WITHIN = 0.4  # of the room: how far back from its end a pause is looked for
FILL_AT_LEAST = 200  # characters of room left worth filling with a long line's start


def split_lines(lines: Iterable[str], limit: int) -> list[str]:
    """Join lines into messages of at most ``limit`` characters, splitting at line breaks.

    A single line longer than the limit (a long paragraph someone typed) is cut where a
    reader pauses (see the module docstring), never inside an HTML entity; rendered lines
    never carry a tag across such a cut because person-typed text is escaped and tags wrap
    only short labels.
    """
    messages: list[str] = []
    current: list[str] = []
    size = 0
    for line in lines:
        while True:
            joiner = 1 if current else 0
            if size + joiner + len(line) <= limit:
                current.append(line)
                size += joiner + len(line)
                break
            room = limit - size - joiner
            if len(line) <= limit or room < min(FILL_AT_LEAST, limit):
                # A line that fits a message of its own goes whole into the next one; a long
                # one starts the next one when too little room is left here.
                messages.append("\n".join(current))
                current, size = [], 0
                continue
            head, line = _cut(line, room)
            current.append(head)
            messages.append("\n".join(current))
            current, size = [], 0
    if current:
        messages.append("\n".join(current))
    return messages


def _cut(line: str, room: int) -> tuple[str, str]:
    """The start of ``line`` that fits ``room``, cut at the best pause, and the rest."""
    earliest = int(room * (1 - PAUSE_WITHIN))
    cut = -1
    for pauses in _PAUSES:
        # A pause's mark stays with the text before it; the space after it is dropped.
        found = [line.rfind(pause, earliest, room + 1) for pause in pauses]
        ends = [at + len(pause) - 1 for at, pause in zip(found, pauses, strict=True) if at > 0]
        ends = [end for end in ends if end <= room]
        if ends:
            cut = max(ends)
            break
    if cut <= 0:
        cut = line.rfind(" ", 0, room + 1)  # any space at all, however early
    if cut <= 0:
        cut = room
    entity = line.rfind("&", 0, cut)
    if entity > 0 and ";" not in line[entity:cut]:
        cut = entity  # do not split "&amp;" in two
    return line[:cut], line[cut:].lstrip(" ")
