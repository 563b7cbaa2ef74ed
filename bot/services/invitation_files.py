"""The office's invitation files, built the same for ``hoinghi invites export`` / ``invites
print`` and for the dashboard's downloads: the table of everyone's personal links and codes,
and the printable slips (one page per delegate, a QR code of their link and their code)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bot.config import Config
from bot.documents.workbook import Cell, Link
from bot.domain.phones import display_phone, first_phone
from bot.domain.sms import sms_parts
from bot.domain.tokens import format_link_code
from bot.services.invitations import InviteLink, SentMark
from bot.texts import Catalog
from bot.texts.formatting import short_moment
from bot.texts.presenters import deadline_text, plain_when_where, sent_via

LinkMaker = Callable[[str], str]
# The most SMS an invitation's short form may take (UCS-2: 3 × 67 characters).
SMS_PARTS = 3


def links_table(
    catalog: Catalog,
    config: Config,
    people: Sequence[InviteLink],
    paper: LinkMaker,
    others: Mapping[str, LinkMaker],
    bots: Mapping[str, int] | None = None,
    chats: Mapping[str, str] | None = None,
) -> tuple[list[str], list[list[Cell]]]:
    """The headings and rows of the links export: ``paper`` makes the link that goes on paper,
    ``others`` each other channel's (a column each), the personal code last; with several Zalo
    bots (``bots``: each person's code → their bot's place), the bot each person writes to;
    then where to send the code, in the invitation's words (:func:`code_line`, by the rule of
    her slip: ``chats`` the chat channels running), for a mail-merge letter to say it."""
    labels = {g.key: g.label for g in config.groups}
    names = ("code", "name", "position", "organization", "group", "phone", "link")
    headings = [catalog.plain(f"export.heading.{name}") for name in names]
    # The paper link first; each other channel's link (the bot's, next to the web page's)
    # in a column of its own.
    headings += [catalog.plain(f"export.heading.link_{channel}") for channel in others]
    # The personal code last: what a person types where no link opens (Zalo).
    headings.append(catalog.plain("export.heading.link_code"))
    # Several Zalo bots: the one each person is told to write to, after the code.
    if bots:
        headings.append(catalog.plain("export.heading.zalo_bot"))
    # Where to send the code, as her slip and her invitation say (empty: no chat takes it).
    headings.append(catalog.plain("export.heading.code_line"))
    # The office's «đã gửi» mark (time and how), last: empty for a link not sent yet.
    headings.append(catalog.plain("export.heading.sent"))
    quotas = config.quotas()
    rows: list[list[Cell]] = [
        [
            link.code,
            link.full_name,
            link.position,
            link.organization,
            labels.get(link.group_key)
            or (catalog.plain("export.contact") if link.role == "contact" else link.group_key),
            display_phone(link.phone) if link.phone else None,
            Link(paper(link.token)),
            *(Link(make(link.token)) for make in others.values()),
            format_link_code(link.link_code),
            *(
                (config.zalo.finding(bots[link.code])[0] or quotas[bots[link.code]].label,)
                if bots
                else ()
            ),
            code_line(
                catalog,
                config,
                format_link_code(link.link_code),
                bot=bots.get(link.code, 0) if bots else 0,
                chats=chats,
            )
            or None,
            _sent(catalog, config, link.sent),
        ]
        for link in people
    ]
    return headings, rows


def _sent(catalog: Catalog, config: Config, mark: SentMark | None) -> str | None:
    """The links export's «Đã gửi giấy mời» cell: "08:12, 5/12 qua Zalo", or empty."""
    if mark is None:
        return None
    time = short_moment(catalog, config.meeting.local(mark.at))
    return catalog.plain("export.sent", time=time, via=sent_via(catalog, mark.via))


def slips_document(
    catalog: Catalog,
    config: Config,
    people: Sequence[InviteLink],
    paper: LinkMaker,
    bots: Mapping[str, int] | None = None,
    chats: Mapping[str, str] | None = None,
) -> tuple[bytes, int]:
    """The printable slips (.docx) of the delegates among ``people`` and how many there are.
    The words around each code name the chat that takes it as her invitation message does
    (:func:`code_chat`: her Zalo bot among several, ``bots``; else the plan's Zalo bot, else
    the Telegram bot of ``chats`` by its @username with ``/start``); with no chat, the code
    alone: it serves at the reception desk."""
    # Here, not at the top: python-docx and segno are for `invites print` alone, and every
    # other command that lists links would pay their import at start-up.
    from bot.documents.slips import Slip, SlipTexts, build_slips
    from bot.documents.wordml import word_language

    slips = [
        Slip(
            code=link.code,
            full_name=link.full_name,
            position=link.position,
            organization=link.organization,
            link=paper(link.token),
            link_code=format_link_code(link.link_code),
            code_hint=code_hint(catalog, config, bot=bots.get(link.code, 0), chats=chats)
            if bots
            else "",
        )
        for link in people
        if link.role == "delegate"  # task contacts get no paper invitation
    ]
    texts = SlipTexts(
        title=config.meeting.title,
        when_where=plain_when_where(catalog, config),
        greeting=catalog.template("slips.greeting"),
        instruction=catalog.plain("slips.instruction"),
        link_hint=catalog.template("slips.link_hint"),
        deadline=catalog.plain("slips.deadline", deadline=deadline_text(catalog, config)),
        contact=catalog.plain("slips.contact", contact=config.office.contact),
        author=config.office.name,
        language=word_language(catalog.locale),
        code_hint=code_hint(catalog, config, chats=chats),
    )
    return build_slips(slips, texts), len(slips)


@dataclass(frozen=True)
class Invitation:
    """A person's invitation as its message and its SMS both say it: her personal ``link``,
    her personal code ``link_code`` (as stored), the Zalo bot ``bot`` she is given (named as
    on her slip and her page: :meth:`bot.services.quotas.QuotaService.bot_of`), the chat
    channels this process runs (``chats``, as :func:`code_line` takes them), and whether
    answers are still open (``answers_open``). Built once, it makes both forms."""

    link: str
    link_code: str
    bot: int = 0
    chats: Mapping[str, str] | None = None
    answers_open: bool = True

    def message(self, catalog: Catalog, config: Config, *, name: str) -> str:
        """The message an office sends ``name`` with her personal link (by Zalo, or copied):
        who invites her (the meeting's organizer, as her page says) to what, when and where,
        the link, her personal code for a chat where no link opens, the answer's deadline and
        whom to call. Plain text, several lines. Once answers are closed it asks her to call
        the office's contact instead of answering before a deadline gone by. The code's line:
        :func:`code_line`."""
        meeting = config.meeting
        line = code_line(
            catalog, config, format_link_code(self.link_code), bot=self.bot, chats=self.chats
        )
        return catalog.plain(
            "dash.invite.message" if self.answers_open else "dash.invite.message_closed",
            name=name,
            organizer=meeting.organizer,
            title=meeting.title,
            when_where=plain_when_where(catalog, config),
            deadline=deadline_text(catalog, config),
            link=self.link,
            code_line=f"\n{line}" if line else "",
            contact=config.office.contact,
        )

    def sms(self, catalog: Catalog, config: Config) -> str:
        """The short form of :meth:`message` for an SMS (with diacritics, 67 characters a
        part): who invites, the meeting's day, the deadline, the link, the code where a chat
        takes it (as :func:`code_line`: her Zalo bot named, or chats running) and the office's
        phone (the first number in ``[office] contact``; left out without one). Once answers
        are closed it asks her to call that phone instead, and gives the link alone.

        It is cut down until it goes in :data:`SMS_PARTS` SMS, the least needed first: the
        organizer invites, as in the message, else the office (in whose name the SMS is
        sent); then the office's phone goes (her page has it; not once answers are closed:
        then it is what she is asked to use), then the polite wording, in a shorter form;
        never the link or the code. Past that, the shortest form, in as many SMS as it
        takes."""
        meeting = config.meeting
        starts = meeting.local(meeting.starts_at)
        deadline = meeting.local(meeting.rsvp_deadline_at)
        found = first_phone(config.office.contact)
        params: dict[str, object] = {
            "day": starts.day,
            "month": starts.month,
            "deadline": short_moment(catalog, deadline),
            "link": self.link,
            "code": (
                catalog.plain("dash.invite.sms_code", code=format_link_code(self.link_code))
                # As the invitation's code line: where no chat takes the code, it is not given.
                if code_line(catalog, config, self.link_code, bot=self.bot, chats=self.chats)
                else ""
            ),
            "phone": display_phone(found[0]) if found is not None else "",
        }
        base = "dash.invite.sms_text"
        if self.answers_open:
            keys = [base, f"{base}_no_phone", f"{base}_short"][found is None :]
        elif found is None:
            keys = [f"{base}_closed_no_phone", f"{base}_closed_no_phone_short"]
        else:
            keys = [f"{base}_closed", f"{base}_closed_short"]
        texts = [
            catalog.plain(key, inviter=inviter, **params)
            for key in keys
            for inviter in (meeting.organizer, config.office.name)
        ]
        return next((text for text in texts if sms_parts(text) <= SMS_PARTS), texts[-1])


def invitation_message(catalog: Catalog, config: Config, *, name: str, **fields: Any) -> str:
    """:meth:`Invitation.message` to ``name``, of the invitation ``fields`` name (keywords)."""
    return Invitation(**fields).message(catalog, config, name=name)


def invitation_sms(catalog: Catalog, config: Config, **fields: Any) -> str:
    """:meth:`Invitation.sms`, of the invitation ``fields`` name (keywords)."""
    return Invitation(**fields).sms(catalog, config)


def code_line(
    catalog: Catalog,
    config: Config,
    code: str,
    *,
    bot: int = 0,
    chats: Mapping[str, str] | None = None,
) -> str:
    """The invitation's line about the personal code ``code`` (as printed): where to send it
    when the link will not open. ``bot``: the Zalo bot she is given, named as on her slip and
    her page (:meth:`bot.services.quotas.QuotaService.bot_of`); else ``chats``, the chat
    channels this process runs, each with the name its bot goes by where known (Telegram's
    username, which takes the code after ``/start``). Empty when no chat runs: the code then
    serves at the reception desk alone, where her page shows it on the day."""
    found = code_chat(config, bot=bot, chats=chats)
    if found is None:
        return ""
    kind, name = found
    return catalog.plain(_CODE_LINE[kind], bot=name, code=code)


# The words for each chat that takes the code (:func:`code_chat`): the invitation's line, and
# the slip's hint around the code printed under its QR code (a template with {code}).
_CODE_LINE = {
    "zalo": "dash.invite.code_line_zalo",
    "telegram": "dash.invite.code_line_telegram",
    "chat": "dash.invite.code_line",
}
_CODE_HINT = {
    "zalo": "slips.code_hint_zalo",
    "telegram": "slips.code_hint_telegram",
    "chat": "slips.code_hint_chat",
}


def code_chat(
    config: Config, *, bot: int = 0, chats: Mapping[str, str] | None = None
) -> tuple[str, str] | None:
    """Which chat takes a personal code, by one rule for the invitation message, its SMS and
    the printed slip: the Zalo bot ``bot`` (her place among the plan's bots; 0: ``[zalo]``'s)
    when the plan names it and it is among ``chats`` (``("zalo", name)``); else, of ``chats``
    (the chat channels running, each with its bot's name where known), Telegram's bot by its
    username (``("telegram", username)``: it takes the code after ``/start``); else a chat
    whose bot has no name (``("chat", "")``); None when no chat runs. A bot the plan names
    whose token is not set runs nowhere: a delegate told to write to it would wait for an
    answer that never comes, so it is not named."""
    running = chats or {}
    if (name_of_bot := config.zalo.finding(bot)[0]) and config.zalo.channel(bot) in running:
        return "zalo", name_of_bot
    if username := running.get("telegram", "").lstrip("@"):
        return "telegram", username
    if running:
        return "chat", ""
    return None


def code_hint(
    catalog: Catalog, config: Config, *, bot: int = 0, chats: Mapping[str, str] | None = None
) -> str:
    """The words around the code on a slip (a template with ``{code}``), naming the chat that
    takes it as :func:`code_line` does for the message; with no chat, «Mã cá nhân:» alone (the
    code then serves at the reception desk)."""
    found = code_chat(config, bot=bot, chats=chats)
    if found is None:
        return catalog.template("slips.code_hint")
    kind, name = found
    return catalog.template(_CODE_HINT[kind]).replace("{bot}", name)
