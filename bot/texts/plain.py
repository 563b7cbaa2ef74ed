"""Messages for a channel that shows plain text only, has no buttons and carries no files: the
catalog's HTML as text, choices as a numbered menu, a place as its address and map link, a file
as a link to the person's web page (or a word on how to get it). Long texts are cut at line
ends to the channel's limit. Nothing a person typed can change another message's meaning here:
the HTML is read by a parser, entities are decoded once, and no markup survives."""

from __future__ import annotations

from html.parser import HTMLParser

from bot.domain.channels import Capabilities
from bot.domain.outbound import Button, FilePart, Outbound, SharedFilePart, TextPart, VenuePart
from bot.texts import Catalog
from bot.texts.splitting import split_lines


class _Text(HTMLParser):
    """The text of the catalog's HTML subset; a link shows its address after its words."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self._href: str | None = None
        self._label: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self._href = dict(attrs).get("href") or ""
            self._label = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._href is not None:
            label = "".join(self._label)
            self.out.append(label if label == self._href else f"{label} ({self._href})")
            self._href = None

    def handle_data(self, data: str) -> None:
        (self._label if self._href is not None else self.out).append(data)


def to_text(markup: str) -> str:
    """The catalog's HTML as plain text."""
    parser = _Text()
    parser.feed(markup)
    parser.close()
    return "".join(parser.out)


def menu_text(catalog: Catalog, rows: tuple[tuple[Button, ...], ...]) -> str:
    """Choices as one numbered line: "Trả lời 1 – Tham dự · 2 – Không tham dự"."""
    buttons = [button for row in rows for button in row]
    options = catalog.plain("menu.separator").join(
        catalog.plain("menu.option", number=number, label=button.label)
        for number, button in enumerate(buttons, start=1)
    )
    return catalog.plain("menu.prompt", options=options)


def render_plain(outbound: Outbound, catalog: Catalog, capabilities: Capabilities) -> list[str]:
    """The messages a plain-text channel sends for ``outbound``, in order."""
    texts: list[str] = []
    for part in outbound.parts:
        if isinstance(part, TextPart):
            body = to_text(part.html)
        elif isinstance(part, VenuePart):
            body = catalog.plain(
                "venue.text",
                title=part.title,
                address=part.address,
                map_url=f"https://maps.google.com/?q={part.latitude:.6f},{part.longitude:.6f}",
            )
        elif isinstance(part, FilePart | SharedFilePart):
            caption = to_text(part.caption_html) or (
                part.filename if isinstance(part, FilePart) else ""
            )
            if part.download_url:
                body = catalog.plain("file.link", caption=caption, url=part.download_url)
            else:
                body = catalog.plain("file.no_link", caption=caption)
        choices = () if isinstance(part, VenuePart) else part.buttons
        if choices:
            body = f"{body}\n\n{menu_text(catalog, choices)}"
        texts += split_lines(body.split("\n"), capabilities.max_text)
    return texts
