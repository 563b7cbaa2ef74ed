"""The core's messages as Zalo messages: plain text of at most 2,000 characters, cut at line
ends; choices as a numbered menu the person answers by typing; a place as its address and a
map link; a file (the .ics, a draft, a deliverable) as a link to the person's web page.

All of it is :func:`bot.texts.plain.render_plain`, the catalog's plain rendering: Zalo shows
text as it is sent, so nothing here formats, and nothing a person typed can change another
message's meaning (the HTML is parsed, entities decoded once, no markup survives).
"""

from __future__ import annotations

from bot.domain.channels import Capabilities
from bot.domain.outbound import Outbound, Part, TextPart, VenuePart
from bot.texts import Catalog
from bot.texts.plain import render_plain

MESSAGE_LIMIT = 2000  # characters of a sendMessage text (and a photo's caption)

CAPABILITIES = Capabilities(
    buttons=False,
    files_out=False,
    files_in=False,
    reply_threads=False,
    location_pins=False,
    html=False,
    max_text=MESSAGE_LIMIT,
    groups=False,
    phone_request=False,
    start_payload=False,
)


def texts(outbound: Outbound, catalog: Catalog) -> list[str]:
    """The texts Zalo sends for ``outbound``, in order, each within the limit."""
    return [text for text in render_plain(outbound, catalog, CAPABILITIES) if text.strip()]


def prepare(outbound: Outbound, catalog: Catalog) -> list[Part]:
    """Each message Zalo shows, as a text part; a part's choices ride on its last piece, so the
    outbox remembers them as the person's menu (the numbers typed answer it)."""
    parts: list[Part] = []
    for part in outbound.parts:
        pieces = texts(Outbound((part,)), catalog)
        if not pieces:
            continue
        choices = () if isinstance(part, VenuePart) else part.buttons
        parts += [TextPart(text) for text in pieces[:-1]]
        parts.append(TextPart(pieces[-1], choices))
    return parts
