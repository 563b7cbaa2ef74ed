"""Property-based fuzzing of the real bot: random updates from every kind of sender, in and
out of the middle of a conversation, never crash it and never make it break the Bot API.

Each test builds one bot (the ``harness`` fixture is expensive) and lets hypothesis drive its
generated examples through that same bot, so state carries over between examples as it would
in production: a property that holds must hold whatever happened before.

After every update:

- nothing reached the application's error handlers (a recorder sits next to
  ``errors.on_error``) and the office chat never got the "⚠️ Bot gặp lỗi" note;
- the fake Bot API recorded no violation (every call was valid against the official list);
- a private text, command, document, photo or sticker got at least one message back;
- a callback query was answered exactly once, and Telegram accepted the answer;
- the documented silences stayed silent: edited messages, chatter in groups from non-admins,
  channel posts and update types the bot does not handle get no message at all.

After every example the outbox ticks once, so what the bot queued (office notes, relayed
comments, notices) is sent through the same checks.

What people give — names, positions and units from the delegate list, typed reasons, substitute
names, task notes and links, file names of deliverables and drafts, draft comments both ways,
notice bodies — is sent full of markup along each flow, and every HTML message and caption it
reaches must show it exactly as given: escaped text parses (the fake refuses what Telegram would)
and is displayed as typed, never as a tag or a live link.

Examples are fixed (``derandomize``) so CI is deterministic. To explore further locally:
``HOINGHI_FUZZ_EXAMPLES=500 HOINGHI_FUZZ_RANDOM=1 pytest tests/test_fuzz.py``.

The bugs it found are fixed, and the inputs that triggered them are generated too: ids outside
64-bit integers and non-ASCII digits in button data, ``/phancong`` with very long arguments,
U+0000 in text, and a deliverable's link in a message of 301 to 500 characters.
"""

from __future__ import annotations

import itertools
import os
import traceback
from collections.abc import Awaitable, Iterator
from dataclasses import dataclass, replace
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from bot.delegate_file import Group as FileGroup
from bot.delegate_file import parse_delegate_file
from bot.domain.outbound import MessageKind
from bot.domain.rsvp import a_name_alone
from bot.services.queueing import queue_to_person
from storage.models import ChannelIdentity, TaskEvidence
from storage.uow import unit_of_work
from tests.conftest import ROOT, local
from tests.fakes.telegram_api import FakeBotApi, FakeGroup, FakeUser
from tests.harness import ADMIN_ID, OFFICE_CHAT, BotHarness
from tests.samples import docx

JsonDict = dict[str, Any]
T = TypeVar("T")

CONTACTS_FILE = ROOT / "examples" / "contacts.csv"
OTHER_GROUP = -100123
ERROR_NOTE = "⚠️ Bot gặp lỗi"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
MEETING_MORNING = local(2024, 5, 28, 7, 45)  # after every deadline of the example plan

# People of the example plan by what the bot knows them as: delegates who are neither speakers
# nor task contacts, speakers of section IV, and task contacts (examples/contacts.csv).
DELEGATES = [f"DB{n:03d}" for n in range(1, 31)]
SPEAKERS = ["DB031", "DB033", "DB036", "DB038", "DB040", "DB042", "DB045", "DB050", "DB055"]
CONTACTS = ["NV01", "NV02", "NV03", "NV04", "NV06"]

FUZZ = settings(
    max_examples=int(os.environ.get("HOINGHI_FUZZ_EXAMPLES", "40")),
    deadline=None,
    derandomize=not os.environ.get("HOINGHI_FUZZ_RANDOM"),
    database=None,  # nothing written next to the sources
    print_blob=False,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,  # one bot per test, shared on purpose
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
    ],
)


# --- what the fuzzer types ----------------------------------------------------------------------

VIETNAMESE = [
    "Trùng lịch tiếp đoàn công tác của Trung ương",
    "Nguyễn Thị Hương",
    "Phó Chủ tịch Hội LHPN quận Đống Đa",
    "Xin cảm ơn đồng chí ạ!",
    "Đồng ý",
    "tham dự",
    "Hủy",
    "28/5 08:00",
    "27/05/2024 15:30",
    "https://drive.google.com/file/d/abc",
]
HTML_LIKE = [
    "<b>",
    "</i>",
    "&amp;",
    "&",
    "<",
    ">",
    "&lt;b&gt;",
    "&#0;",
    "&#x110000;",
    '<a href="javascript:alert(1)">x</a>',
    "<script>alert(1)</script>",
    "<tg-spoiler>",
    "</b></i></code>",
    "<pre><code>",
]
RTL = ["مرحبا بالعالم", "שלום עולם", "\u202e", "\u200f", "\u202b"]
ZERO_WIDTH = ["\u200b", "\u200c", "\u200d", "\ufeff", "\u2060", "\u00ad"]
EMOJI = ["👍", "🇻🇳", "👩‍👩‍👧‍👦", "❤️", "🤷🏽‍♀️", "𝕳𝖔𝖎"]
WHITESPACE = ["", " ", "\n", "\t", "\u00a0", "\u3000", "  \n \t "]
FRAGMENTS = VIETNAMESE + HTML_LIKE + RTL + ZERO_WIDTH + EMOJI + WHITESPACE
# Any code point but lone surrogates (Telegram cannot carry them).
ALPHABET = st.characters(codec="utf-8")
CONTROL = st.characters(min_codepoint=1, max_codepoint=31) | st.sampled_from(["\x7f", "\x85"])

pieces = st.one_of(
    st.sampled_from(FRAGMENTS),
    CONTROL,
    st.text(ALPHABET, max_size=12),
)
mixed_text = st.lists(pieces, max_size=25).map("".join)
huge_text = st.builds(
    lambda piece, size: (piece * (size // len(piece) + 1))[:size],
    st.sampled_from([p for p in FRAGMENTS if p] + ["x", "Ế", "🇻🇳"]),
    st.integers(min_value=3000, max_value=10_000),
)


LONG_LINK = "Em gửi dự thảo báo cáo ạ: https://drive.google.com/file/d/abc " + "x" * 300

texts = st.one_of(
    st.sampled_from([*WHITESPACE, LONG_LINK, "Đi công tác\x00"]),
    mixed_text,
    huge_text,
    st.text(ALPHABET, max_size=300),
)

COMMAND_NAMES = [
    "start",
    "trangthai",
    "lich",
    "baocao",
    "help",
    "trogiup",
    "id",
    "thongke",
    "chuatraloi",
    "thongbao",
    "lichthongbao",
    "nhiemvu",
    "thamluan",
    "phancong",
    "xyz",
    "START",
    "start@hoinghi_test_bot",
    "start@another_bot",
    "",
]
COMMAND_ARGS = [
    "DB001 1.1",
    "huy DB031 1.1",
    "DB999 9.9",
    "huy",
    "DB001",
    "a b c",
    "x" * 40,
    "DB001 " + "x" * 3400,
]
commands = st.one_of(
    st.builds(
        lambda name, args: f"/{name} {args}" if args else f"/{name}",
        st.sampled_from(COMMAND_NAMES),
        st.one_of(st.sampled_from(["", *COMMAND_ARGS]), mixed_text, huge_text),
    ),
    mixed_text.map(lambda rest: "/" + rest),
)

ACTIONS = {
    "rsvp:": ["attend", "decline", "decline_skip", "substitute", "cancel", "attend_everyone"],
    "task:": ["done", "progress", "help", "file", "close", "getfile", "cancel", "delete"],
    "dr:": [
        "compose",
        "finish",
        "cancel",
        "reply",
        "noreply",
        "pick",
        "final",
        "revise",
        "getfile",
    ],
    "bc:": ["aud", "groups", "now", "later", "cancel", "resend", "delete"],
}
NUMBERS = st.one_of(
    st.integers(min_value=-3, max_value=12).map(str),
    st.integers(min_value=-(10**25), max_value=10**25).map(str),  # beyond any database integer
    st.sampled_from(["", " 1", "1 ", "+1", "1_0", "0x1", "1.0", "NaN", "-0", "٣", "１", "²"]),
)
AUDIENCES = ["linked", "present", "no_answer", "declined", "group:xyz", "office", "person:1", ""]
STALE_AND_FORGED = [
    "rsvp:attend",
    "rsvp:",
    "task:close:999",
    "task:getfile:1",
    "dr:final:1",
    "dr:revise:1",
    "dr:getfile:1",
    "dr:pick:1:2",
    "bc:resend:5",
    "bc:cancel",
    "bc:aud:1:linked",
    "bc:aud:1:group:" + "x" * 50,
    "delegate:1:attend",
    "",
    "x" * 64,
    "x" * 300,
    "rsvp:attend" * 10,
    "✅ Tham dự",
]


def _action_data(prefix: str, action: str, parts: list[str]) -> str:
    return ":".join([prefix + action, *parts])


callback_data = st.one_of(
    st.sampled_from(STALE_AND_FORGED),
    st.sampled_from(sorted(ACTIONS)).flatmap(
        lambda prefix: st.builds(
            _action_data,
            st.just(prefix),
            st.sampled_from(ACTIONS[prefix]),
            st.lists(NUMBERS | st.sampled_from(AUDIENCES), max_size=3),
        )
    ),
    st.builds(lambda prefix, rest: prefix + rest, st.sampled_from(["", *ACTIONS]), mixed_text),
    st.text(max_size=80),
)

NAME_PARTS = [
    "Tham luận",
    "bản cuối",
    "../../etc/passwd",
    "..\\..\\boot.ini",
    "C:\\Users\\An\\Desktop\\",
    "/tmp/",
    "CON",
    "COM¹",
    " ",
    ".",
    "😀",
    "مرحبا",
    "x" * 200,
    "Báo cáo <b>&amp;",
]
SUFFIXES = ["", ".docx", ".DOCX", ".doc", ".pdf", ".odt", ".rtf", ".txt", ".exe", ".docx.exe", "."]
file_names = st.one_of(
    st.none(),
    st.builds(
        lambda parts, suffix: "".join(parts) + suffix,
        st.lists(st.sampled_from(NAME_PARTS) | st.text(ALPHABET, max_size=10), max_size=4),
        st.sampled_from(SUFFIXES),
    ),
)
MAGIC = [b"", b"PK\x03\x04", b"%PDF-1.7\n", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", b"{\\rtf1", b"MZ"]
contents = st.builds(
    lambda magic, body, padding: magic + body + b"\x00" * padding,
    st.sampled_from(MAGIC),
    st.binary(max_size=512),
    st.sampled_from([0, 0, 100, 4096, 60_000]),  # at most ~64 KB: the suite stays fast
)
MIME_TYPES = [DOCX, "application/pdf", "application/msword", "application/x-msdownload", ""]
announced_sizes = st.one_of(
    st.none(),
    st.sampled_from([0, 1, 20 * 1024 * 1024, 20 * 1024 * 1024 + 1, 50 * 1024 * 1024, 2**31]),
)


@dataclass(frozen=True)
class Document:
    """A generated document message."""

    name: str | None
    content: bytes
    mime: str
    announced_size: int | None

    def __repr__(self) -> str:
        return (
            f"Document(name={self.name!r}, content={len(self.content)} bytes starting "
            f"{self.content[:8]!r}, mime={self.mime!r}, announced_size={self.announced_size})"
        )


documents = st.builds(Document, file_names, contents, st.sampled_from(MIME_TYPES), announced_sizes)


def short(text: str) -> str:
    """A generated string as a failure message shows it."""
    return f"{text[:80]!r}" + (f"… ({len(text)} chars)" if len(text) > 80 else "")


# --- the bot under fuzzing ----------------------------------------------------------------------


class Fuzzed:
    """The harness with an error recorder, and senders in every conversation state."""

    def __init__(self, harness: BotHarness) -> None:
        self.harness = harness
        self.errors: list[str] = []
        self._cycles: dict[str, Iterator[str]] = {}

    def __repr__(self) -> str:  # hypothesis prints the arguments of a failing example
        return "Fuzzed(<the bot>)"

    @property
    def fake(self) -> FakeBotApi:
        """The fake Bot API."""
        return self.harness.fake

    async def record_error(self, update: object, context: Any) -> None:
        """An extra error handler: whatever reaches it is a bug the fuzzer found."""
        error = context.error
        trace = "".join(traceback.format_exception(error)) if error else "no exception"
        self.errors.append(f"{update!r:.600}\n{trace}")

    def _error_notes(self) -> list[str]:
        return [
            str(m.get("text"))
            for m in self.fake.messages_to(OFFICE_CHAT)
            if str(m.get("text", "")).startswith(ERROR_NOTE)
        ]

    async def _checked(self, what: str, action: Awaitable[T]) -> T:
        """Run ``action``; then nothing new crashed, no new error note went to the office, and
        no new invalid call was made (earlier failures are not blamed on this example)."""
        self.errors.clear()
        violations, notes = len(self.fake.violations), len(self._error_notes())
        result = await action
        assert self.errors == [], f"{what} reached the error handler:\n" + "\n".join(self.errors)
        new_notes = self._error_notes()[notes:]
        assert new_notes == [], f"{what}: the office was told the bot failed: {new_notes}"
        new_violations = self.fake.violations[violations:]
        assert new_violations == [], f"{what}: Bot API violations {new_violations}"
        return result

    async def send(self, update: JsonDict, what: str) -> None:
        """Deliver ``update`` and check that the bot survived it cleanly."""
        await self._checked(what, self.harness.send(update))

    async def settle(self, what: str) -> None:
        """One outbox tick: what the example queued goes out, through the same checks."""
        await self._checked(f"the outbox after {what}", self.harness.tick())

    def _next(self, codes: list[str]) -> str:
        return next(self._cycles.setdefault(codes[0], itertools.cycle(codes)))

    async def linked(self, code: str) -> FakeUser:
        """The account linked to ``code`` (opening the invitation the first time)."""
        if code in self.harness.linked:
            return self.harness.user_for(code)
        return await self._checked(
            f"{code} opening the invitation", self.harness.open_invitation(code)
        )

    async def tap_button(self, user: FakeUser, data_prefix: str) -> None:
        """Tap the newest button in ``user``'s chat whose data starts with ``data_prefix``
        (none after a deadline: the user then stays in whatever state they were)."""
        for message, button in reversed(buttons_in(user.messages)):
            if button["callback_data"].startswith(data_prefix):
                update = user.tap(button["text"], message=message)
                await expect_one_answer(self, update, f"tapping {data_prefix}")
                return

    async def sender(self, role: str) -> FakeUser:
        """A private-chat user in the conversation state ``role`` names."""
        harness = self.harness
        if role == "stranger":
            return harness.new_user("Người lạ")
        if role == "admin":
            return harness.admin()
        if role == "admin_writing_notice":
            admin = harness.admin()
            await self.send(admin.command("/thongbao"), "/thongbao")
            return admin
        if role in ("delegate", "giving_reason", "naming_substitute"):
            user = await self.linked(self._next(DELEGATES))
            if role != "delegate":
                await self.send(user.command("/trangthai"), "/trangthai")
                wanted = "rsvp:decline" if role == "giving_reason" else "rsvp:substitute"
                await self.tap_button(user, wanted)
            return user
        if role in ("speaker", "typing_draft"):
            user = await self.linked(self._next(SPEAKERS))
            if role == "typing_draft":
                await self.send(user.command("/thamluan"), "/thamluan")
                await self.tap_button(user, "dr:compose:")
            return user
        if role in ("contact", "writing_task_note", "sending_task_file"):
            user = await self.linked(self._next(CONTACTS))
            if role != "contact":
                await self.send(user.command("/nhiemvu"), "/nhiemvu")
                wanted = "task:progress:" if role == "writing_task_note" else "task:file:"
                await self.tap_button(user, wanted)
            return user
        raise ValueError(role)


def buttons_in(messages: list[JsonDict]) -> list[tuple[JsonDict, JsonDict]]:
    """Every (message, inline button with callback data) in ``messages``, oldest first."""
    return [
        (message, button)
        for message in messages
        for row in message.get("reply_markup", {}).get("inline_keyboard", [])
        for button in row
        if "callback_data" in button
    ]


PRIVATE_ROLES = [
    "stranger",
    "delegate",
    "giving_reason",
    "naming_substitute",
    "speaker",
    "typing_draft",
    "contact",
    "writing_task_note",
    "sending_task_file",
    "admin",
    "admin_writing_notice",
]
roles = st.sampled_from(PRIVATE_ROLES)


@pytest.fixture
async def fuzzed(harness: BotHarness) -> Fuzzed:
    """The example plan with its task contacts imported (the import assigns the tasks and
    speeches), and an error recorder next to the bot's own error handler."""
    services = harness.services
    groups = [FileGroup(g.key, g.label) for g in services.config.groups]
    parsed = parse_delegate_file(CONTACTS_FILE, groups)
    assert parsed.problems == []
    await services.delegates.import_rows(parsed.rows, actor="test")
    harness.tokens.update({link.code: link.token for link in await services.invitations.links()})
    fuzzed = Fuzzed(harness)
    harness.app.add_error_handler(fuzzed.record_error)
    return fuzzed


# What the bot waits for from each role that names a conversation state (identity.pending_input).
PENDING_OF_ROLE = {
    "giving_reason": "decline_reason",
    "naming_substitute": "substitute_name",
    "typing_draft": "draft_text",
    "writing_task_note": "task_note",
    "sending_task_file": "task_file",
}


async def test_every_fuzzed_role_is_really_in_the_conversation_state_it_names(
    fuzzed: Fuzzed,
) -> None:
    # Otherwise the fuzzing "in the middle of a flow" would quietly fuzz idle users only.
    for role, pending in PENDING_OF_ROLE.items():
        user = await fuzzed.sender(role)
        async with fuzzed.harness.services.ctx.sessions() as session:
            waiting = await session.scalar(
                select(ChannelIdentity.pending_input).where(
                    ChannelIdentity.external_id == str(user.id)
                )
            )
        assert waiting == pending, f"{role} waits for {waiting!r}, not {pending!r}"
    admin = await fuzzed.sender("admin_writing_notice")
    assert admin.last_text().startswith("📢 Soạn thông báo")


async def expect_answer(fuzzed: Fuzzed, user: FakeUser, update: JsonDict, what: str) -> None:
    """Deliver a private message and require at least one message back in that chat."""
    before = len(fuzzed.fake.messages_to(user.id))
    await fuzzed.send(update, what)
    assert len(fuzzed.fake.messages_to(user.id)) > before, f"no answer to {what}"


async def expect_silence(fuzzed: Fuzzed, update: JsonDict, what: str) -> None:
    """Deliver an update the bot deliberately ignores: no message to any chat."""
    before = fuzzed.fake.sent_counts()
    await fuzzed.send(update, what)
    assert fuzzed.fake.sent_counts() == before, f"{what} was answered; it should be ignored"


async def expect_one_answer(fuzzed: Fuzzed, update: JsonDict, what: str) -> None:
    """Deliver a callback query and require exactly one accepted answerCallbackQuery for it."""
    query_id = update["callback_query"]["id"]
    await fuzzed.send(update, what)
    answers = [
        call
        for call in fuzzed.fake.calls_to("answerCallbackQuery")
        if str(call.params["callback_query_id"]) == query_id
    ]
    assert len(answers) == 1, f"{what} was answered {len(answers)} times, not once"
    assert answers[0].error is None, f"{what}: Telegram refused the answer: {answers[0].error}"


# --- private messages ---------------------------------------------------------------------------


@FUZZ
@given(role=roles, text=texts, as_reply=st.booleans())
async def test_any_private_text_in_any_conversation_state_gets_an_answer_and_never_crashes(
    fuzzed: Fuzzed, role: str, text: str, as_reply: bool
) -> None:
    user = await fuzzed.sender(role)
    earlier = user.messages
    update = user.reply(earlier[-1], text) if as_reply and earlier else user.text(text)
    what = f"text {short(text)} from {role}"
    await expect_answer(fuzzed, user, update, what)
    await fuzzed.settle(what)


@FUZZ
@given(role=roles, command=commands)
async def test_any_command_in_private_gets_an_answer_and_never_crashes(
    fuzzed: Fuzzed, role: str, command: str
) -> None:
    user = await fuzzed.sender(role)
    what = f"command {short(command)} from {role}"
    await expect_answer(fuzzed, user, user.command(command), what)
    await fuzzed.settle(what)


@FUZZ
@given(role=roles, document=documents)
async def test_any_document_in_private_gets_an_answer_and_none_over_20_mb_is_fetched(
    fuzzed: Fuzzed, role: str, document: Document
) -> None:
    # Fetching a file over 20 MB is itself a violation in the fake (getFile would refuse it).
    user = await fuzzed.sender(role)
    update = user.document(
        document.name, document.content, document.mime, announced_size=document.announced_size
    )
    what = f"{document!r} from {role}"
    await expect_answer(fuzzed, user, update, what)
    await fuzzed.settle(what)


@FUZZ
@given(role=roles, kind=st.sampled_from(["photo", "sticker"]))
async def test_photos_and_stickers_in_private_get_an_answer_and_never_crash(
    fuzzed: Fuzzed, role: str, kind: str
) -> None:
    user = await fuzzed.sender(role)
    update = user.photo() if kind == "photo" else user.sticker()
    await expect_answer(fuzzed, user, update, f"a {kind} from {role}")


@FUZZ
@given(role=roles, original=texts, edited=texts)
async def test_edited_messages_are_silently_ignored_in_any_conversation_state(
    fuzzed: Fuzzed, role: str, original: str, edited: str
) -> None:
    user = await fuzzed.sender(role)
    message = user.text(original)
    await fuzzed.send(message, f"text {short(original)} from {role}")
    edit = user.edited(message["message"], edited)
    await expect_silence(fuzzed, edit, f"an edit to {short(edited)} by {role}")


# --- buttons ------------------------------------------------------------------------------------


@FUZZ
@given(role=roles, data=callback_data, on_first_message=st.booleans())
async def test_any_button_data_is_answered_exactly_once_and_never_crashes(
    fuzzed: Fuzzed, role: str, data: str, on_first_message: bool
) -> None:
    user = await fuzzed.sender(role)
    earlier = user.messages
    message = earlier[0] if on_first_message and earlier else None
    what = f"button data {short(data)} from {role}"
    await expect_one_answer(fuzzed, user.tap_data(data, message=message), what)
    await fuzzed.settle(what)


# --- conversations: random walks through the real buttons, mixed with noise ---------------------

steps = st.one_of(
    st.tuples(st.just("button"), st.integers(min_value=0, max_value=10**6)),
    st.tuples(st.just("button"), st.integers(min_value=0, max_value=10**6)),
    st.tuples(st.just("text"), texts),
    st.tuples(st.just("command"), commands),
    st.tuples(st.just("data"), callback_data),
    st.tuples(st.just("document"), documents),
    st.tuples(st.just("media"), st.sampled_from(["photo", "sticker"])),
)


async def walk(fuzzed: Fuzzed, role: str, plan: list[tuple[str, Any]]) -> None:
    """One user takes the steps of ``plan``; each step is checked against its property."""
    user = await fuzzed.sender(role)
    for kind, value in plan:
        if kind == "button":  # any button the bot ever sent to this chat, stale or not
            offered = buttons_in(user.messages)
            if not offered:
                continue
            message, button = offered[value % len(offered)]
            update = user.tap_data(button["callback_data"], message=message)
            await expect_one_answer(fuzzed, update, f"{role} tapping {button['text']!r}")
        elif kind == "data":
            await expect_one_answer(fuzzed, user.tap_data(value), f"{role} sending {short(value)}")
        elif kind == "text":
            await expect_answer(fuzzed, user, user.text(value), f"{role} typing {short(value)}")
        elif kind == "command":
            await expect_answer(fuzzed, user, user.command(value), f"{role}: {short(value)}")
        elif kind == "document":
            update = user.document(
                value.name, value.content, value.mime, announced_size=value.announced_size
            )
            await expect_answer(fuzzed, user, update, f"{role} sending {value!r}")
        else:
            update = user.photo() if value == "photo" else user.sticker()
            await expect_answer(fuzzed, user, update, f"{role} sending a {value}")
        await fuzzed.settle(f"{role}'s {kind} step")


@FUZZ
@given(role=roles, plan=st.lists(steps, min_size=1, max_size=6))
async def test_random_walks_through_real_buttons_and_noise_keep_every_promise(
    fuzzed: Fuzzed, role: str, plan: list[tuple[str, Any]]
) -> None:
    await walk(fuzzed, role, plan)


@FUZZ
@given(role=roles, plan=st.lists(steps, min_size=1, max_size=6))
async def test_after_every_deadline_random_walks_still_keep_every_promise(
    fuzzed: Fuzzed, role: str, plan: list[tuple[str, Any]]
) -> None:
    fuzzed.harness.clock.set(MEETING_MORNING)  # answers and drafts are closed by now
    await walk(fuzzed, role, plan)


# --- groups, channels and updates the bot does not handle --------------------------------------


async def office_posts_with_buttons(fuzzed: Fuzzed) -> FakeGroup:
    """The office group, with at least one draft post (verdict buttons) to reply to or tap."""
    office = fuzzed.fake.group(OFFICE_CHAT, "Văn phòng Hội LHPN Hà Nội")
    if not buttons_in(office.messages):
        speaker = await fuzzed.sender("speaker")
        draft = docx("Tham luận")
        await fuzzed.send(speaker.document("Tham luận.docx", draft, DOCX), "a speaker's draft")
        await fuzzed.settle("a speaker's draft")
        assert buttons_in(office.messages), "a new draft version was not posted to the office"
    return office


GROUP_KINDS = ["text", "command", "reply_to_bot", "reply_to_member", "tap_post_button"]


@FUZZ
@given(
    who=st.sampled_from(["stranger", "delegate", "speaker", "admin"]),
    in_office=st.booleans(),
    kind=st.sampled_from(GROUP_KINDS),
    text=texts,
    command=commands,
    pick=st.integers(min_value=0, max_value=10**6),
)
async def test_group_chatter_from_non_admins_is_ignored_and_nothing_in_a_group_crashes(
    fuzzed: Fuzzed, who: str, in_office: bool, kind: str, text: str, command: str, pick: int
) -> None:
    office = await office_posts_with_buttons(fuzzed)
    group = office if in_office else fuzzed.fake.group(OTHER_GROUP, "X")
    user = await fuzzed.sender(who)
    where = "the office group" if in_office else "another group"
    what = f"{kind} {short(text)} / {short(command)} by {who} in {where}"
    if kind == "command":  # /help and /id answer anyone; office commands refuse politely
        await fuzzed.send(group.command(user, command), what)
    elif kind == "tap_post_button":  # the office's verdict buttons, tapped by anyone
        offered = buttons_in(office.messages)
        message, button = offered[pick % len(offered)]
        await expect_one_answer(
            fuzzed, user.tap_data(button["callback_data"], message=message), what
        )
    elif kind == "reply_to_bot":  # a comment on a draft post; non-admins get a reason
        if not group.messages:
            await fuzzed.send(group.command(user, "/id"), "/id in a group")
        posts = group.messages
        await fuzzed.send(group.reply(user, posts[pick % len(posts)], text), what)
    else:
        if kind == "reply_to_member":
            member = fuzzed.harness.new_user("Thành viên")  # never talked to the bot
            earlier = group.text(member, "xin chào")
            await expect_silence(fuzzed, earlier, "a member's greeting in a group")
            update = group.reply(user, earlier["message"], text)
        else:
            update = group.text(user, text)
        if user.id == ADMIN_ID:
            await fuzzed.send(update, what)
        else:
            await expect_silence(fuzzed, update, what)
    await fuzzed.settle(what)


CHANNEL = {"id": -1009999999999, "type": "channel", "title": "Kênh Hội LHPN"}
SOMEONE = {"id": 777000111, "is_bot": False, "first_name": "Ai đó"}
OFFICE_GROUP = {"id": OFFICE_CHAT, "type": "supergroup", "title": "Văn phòng"}
UNHANDLED_KINDS = [
    "channel_post",
    "edited_channel_post",
    "inline_query",
    "chosen_inline_result",
    "poll",
    "poll_answer",
    "chat_join_request",
    "message_reaction",
    "my_chat_member_in_group",
    "a_future_update_type",
]


def unhandled_update(update_id: int, kind: str, text: str) -> JsonDict:
    """A raw update of a kind the bot has no handler for, with the fields Update.de_json needs."""
    date = 1716000000
    if kind in ("channel_post", "edited_channel_post"):
        post: JsonDict = {"message_id": update_id, "date": date, "chat": CHANNEL, "text": text}
        if kind == "edited_channel_post":
            post["edit_date"] = date + 60
        return {"update_id": update_id, kind: post}
    if kind == "my_chat_member_in_group":  # the bot added to, then removed from, a group
        bot = {"id": 123456, "is_bot": True, "first_name": "Hội nghị (test)"}
        change = {
            "chat": {"id": -100777, "type": "group", "title": text[:128] or "Nhóm"},
            "from": SOMEONE,
            "date": date,
            "old_chat_member": {"status": "member", "user": bot},
            "new_chat_member": {"status": "left", "user": bot},
        }
        return {"update_id": update_id, "my_chat_member": change}
    bodies: dict[str, JsonDict] = {
        "inline_query": {"id": str(update_id), "from": SOMEONE, "query": text, "offset": ""},
        "chosen_inline_result": {"result_id": "1", "from": SOMEONE, "query": text},
        "poll": {
            "id": str(update_id),
            "question": text[:300] or "?",
            "options": [
                {"text": "Có", "voter_count": 1, "persistent_id": "a"},
                {"text": "Không", "voter_count": 0, "persistent_id": "b"},
            ],
            "total_voter_count": 1,
            "is_closed": False,
            "is_anonymous": True,
            "type": "regular",
            "allows_multiple_answers": False,
            "allows_revoting": True,
            "members_only": False,
        },
        "poll_answer": {
            "poll_id": "1",
            "user": SOMEONE,
            "option_ids": [0],
            "option_persistent_ids": ["a"],
        },
        "chat_join_request": {
            "chat": OFFICE_GROUP,
            "from": SOMEONE,
            "user_chat_id": SOMEONE["id"],
            "date": date,
        },
        "message_reaction": {
            "chat": OFFICE_GROUP,
            "message_id": 1,
            "user": SOMEONE,
            "date": date,
            "old_reaction": [],
            "new_reaction": [{"type": "emoji", "emoji": "👍"}],
        },
        "a_future_update_type": {"something": text},
    }
    return {"update_id": update_id, kind: bodies[kind]}


@FUZZ
@given(kind=st.sampled_from(UNHANDLED_KINDS), text=st.one_of(texts, commands))
async def test_channel_posts_and_unhandled_update_types_are_ignored_without_a_crash(
    fuzzed: Fuzzed, kind: str, text: str
) -> None:
    update = unhandled_update(fuzzed.fake.next_update_id(), kind, text or "/help")
    await expect_silence(fuzzed, update, f"a {kind} with {short(text)}")


def test_the_fuzzed_bot_starts_before_the_deadlines_and_walks_later_start_after_them(
    config: Any, clock: Any
) -> None:
    # The walks before the deadlines rely on the clock fixture, the later ones on this moment.
    assert clock.now() < config.meeting.rsvp_deadline_at < MEETING_MORNING


# --- what people give, in every HTML message and caption it reaches ----------------------------

# Pieces that mean something to Telegram's HTML parser, joined by single spaces: the bot's own
# tidying of what people type (one line, runs of whitespace collapsed) leaves them as typed, so
# each message that shows them must show them exactly, not as markup and not refused.
HOSTILE_PIECES = [
    *(piece for piece in HTML_LIKE if piece.strip() == piece),
    "a<b",
    "x > y",
    "&#39;",
    '"trích dẫn"',
    "Nguyễn Thị Hương",
]
hostile_texts = st.lists(st.sampled_from(HOSTILE_PIECES), min_size=1, max_size=4).map(" ".join)
ROUTE_FUZZ = settings(FUZZ, max_examples=int(os.environ.get("HOINGHI_FUZZ_EXAMPLES", "8")))
DELEGATE_FILE = ROOT / "examples" / "delegates.csv"


def shown(message: JsonDict) -> str:
    """What a person sees of a message: its text, or the caption of its file."""
    return str(message.get("text") or message.get("caption") or "")


async def shows(
    fuzzed: Fuzzed, chat_id: int, given: str, update: JsonDict | None, what: str
) -> JsonDict:
    """Deliver ``update`` (None: one outbox tick) and require a new message in ``chat_id`` that
    shows ``given`` exactly as the person gave it; returns that message."""
    before = len(fuzzed.fake.messages_to(chat_id))
    if update is None:
        await fuzzed.settle(what)
    else:
        await fuzzed.send(update, what)
    new = fuzzed.fake.messages_to(chat_id)[before:]
    showing = [message for message in new if given in shown(message)]
    assert showing, f"{what}: {short(given)} is not shown as given in {[shown(m) for m in new]}"
    return showing[-1]


def newest_with_button(messages: list[JsonDict], prefix: str) -> tuple[JsonDict, str]:
    """The newest message with a button whose data starts with ``prefix``, and that data."""
    for message, button in reversed(buttons_in(messages)):
        if button["callback_data"].startswith(prefix):
            return message, str(button["callback_data"])
    raise LookupError(f"no button {prefix!r}")


async def tap(fuzzed: Fuzzed, user: FakeUser, data: str, message: JsonDict) -> None:
    """Tap the button with ``data`` on ``message``, answered once."""
    await expect_one_answer(fuzzed, user.tap_data(data, message=message), f"tapping {data}")


async def rename(fuzzed: Fuzzed, codes: set[str], text: str) -> None:
    """The office imports a list in which ``codes`` have ``text`` as name, position and unit."""
    services = fuzzed.harness.services
    groups = [FileGroup(g.key, g.label) for g in services.config.groups]
    rows = [
        replace(row, full_name=text, position=text, organization=text)
        for path in (DELEGATE_FILE, CONTACTS_FILE)
        for row in parse_delegate_file(path, groups).rows
        if row.code in codes
    ]
    assert {row.code for row in rows} == codes
    await services.delegates.import_rows(rows, actor="test")


async def person_id(fuzzed: Fuzzed, user: FakeUser) -> int:
    """The delegate a Telegram user is linked to."""
    async with fuzzed.harness.services.ctx.sessions() as session:
        found = await session.scalar(
            select(ChannelIdentity.delegate_id).where(ChannelIdentity.external_id == str(user.id))
        )
    assert found is not None
    return int(found)


async def newest_evidence_id(fuzzed: Fuzzed) -> int:
    """The id of the deliverable received last."""
    async with fuzzed.harness.services.ctx.sessions() as session:
        return int(await session.scalar(select(func.max(TaskEvidence.id))) or 0)


async def speaker_with_a_post(fuzzed: Fuzzed, text: str) -> tuple[FakeUser, JsonDict]:
    """A speaker who sent a new version, and its post in the office chat."""
    user = await fuzzed.sender("speaker")
    content = docx(f"{text} {len(fuzzed.fake.calls)}")  # a new version every time
    await fuzzed.send(user.document("Tham luận.docx", content, DOCX), "a draft")
    await fuzzed.settle("a draft")
    post, _ = newest_with_button(fuzzed.fake.messages_to(OFFICE_CHAT), "dr:final:")
    return user, post


async def through_the_delegate_list(fuzzed: Fuzzed, text: str) -> None:
    """Names, positions and units of the list: the card, the office's lists and boards, the
    post of a draft."""
    delegate, speaker, contact = (fuzzed._next(c) for c in (DELEGATES, SPEAKERS, CONTACTS))
    await rename(fuzzed, {delegate, speaker, contact}, text)
    admin = fuzzed.harness.admin()
    user = await fuzzed.linked(delegate)
    await shows(fuzzed, user.id, text, user.command("/trangthai"), "the invitation card")
    await shows(fuzzed, admin.id, text, admin.command("/chuatraloi"), "who has not answered")
    await shows(fuzzed, admin.id, text, admin.command("/nhiemvu"), "the task board")
    author = await fuzzed.linked(speaker)
    content = docx(f"{text} {len(fuzzed.fake.calls)}")
    await fuzzed.send(author.document("Tham luận.docx", content, DOCX), "a draft")
    await shows(fuzzed, OFFICE_CHAT, text, None, "the draft's post to the office")
    await shows(fuzzed, admin.id, text, admin.command("/thamluan"), "the drafts board")


async def through_a_decline_reason(fuzzed: Fuzzed, text: str) -> None:
    """A reason for not attending: the receipt and the card."""
    user = await fuzzed.sender("giving_reason")
    await shows(fuzzed, user.id, text, user.text(text), "the recorded reason")
    await shows(fuzzed, user.id, text, user.command("/trangthai"), "the card with the reason")


async def through_a_substitute(fuzzed: Fuzzed, text: str) -> None:
    """A substitute's name, position and unit (her phone skipped): the questions, the
    receipt, the card, the meeting-morning message. A text that is more than a name (a digit,
    a semicolon: :func:`bot.domain.rsvp.a_name_alone`) is said back as refused, and is then her
    position and unit under a plain name."""
    user = await fuzzed.sender("naming_substitute")
    as_name = a_name_alone(text)
    if as_name:
        await shows(fuzzed, user.id, text, user.text(text), "the question for the position")
        await shows(fuzzed, user.id, text, user.text(text), "the question for the unit")
        await shows(fuzzed, user.id, text, user.text(text), "the question for the phone")
    else:
        refused = user.text(text)
        if len(text) <= 80:  # said back whole
            await shows(fuzzed, user.id, text, refused, "the name asked again")
        else:
            await fuzzed.send(refused, "the name asked again")
        await fuzzed.send(user.text("Lê Thị Hoa"), "the name alone")
        await fuzzed.send(user.text(text), "the position")
        await fuzzed.send(user.text(text), "the unit")
    await shows(fuzzed, user.id, text, user.tap("Bỏ qua"), "the recorded substitute")
    await shows(fuzzed, user.id, text, user.command("/trangthai"), "the card with the substitute")
    if not as_name:  # the morning message names her substitute, not her position
        return
    harness = fuzzed.harness
    async with unit_of_work(harness.services.ctx.sessions) as session:
        queue_to_person(
            session,
            meeting_id=harness.services.ctx.meeting_id,
            kind=MessageKind.MORNING_AGENDA,
            person_id=await person_id(fuzzed, user),
            now=harness.clock.now(),
            params={},
            report_to=None,
        )
    await shows(fuzzed, user.id, text, None, "the meeting-morning message")


async def through_task_notes(fuzzed: Fuzzed, text: str) -> None:
    """A progress note and what help is needed: the receipt, the board, the office's note."""
    user = await fuzzed.linked(fuzzed._next(CONTACTS))
    await fuzzed.send(user.command("/nhiemvu"), "/nhiemvu")
    message, data = newest_with_button(user.messages, "task:progress:")
    task = data.rsplit(":", 1)[1]
    await tap(fuzzed, user, data, message)
    await shows(fuzzed, user.id, text, user.text(text), "the task with the progress note")
    admin = fuzzed.harness.admin()
    await shows(fuzzed, admin.id, text, admin.command("/nhiemvu"), "the office's task board")
    await tap(fuzzed, user, f"task:help:{task}", message)  # from in progress to need help
    await fuzzed.send(user.text(text), "what help is needed")
    await shows(fuzzed, OFFICE_CHAT, text, None, "the office's note of the help needed")


async def through_a_task_link(fuzzed: Fuzzed, text: str) -> None:
    """A link sent as a deliverable: the receipt, the office's note, the board."""
    user = await fuzzed.linked(fuzzed._next(CONTACTS))
    await fuzzed.send(user.command("/nhiemvu"), "/nhiemvu")
    await tap(fuzzed, user, *reversed(newest_with_button(user.messages, "task:file:")))
    link = f"{text} https://drive.example/tai-lieu"
    await shows(fuzzed, user.id, link, user.text(link), "the receipt of the link")
    await shows(fuzzed, OFFICE_CHAT, link, None, "the office's note of the link")
    admin = fuzzed.harness.admin()
    await shows(fuzzed, admin.id, link, admin.command("/nhiemvu"), "the office's task board")


async def through_a_deliverable_file_name(fuzzed: Fuzzed, text: str) -> None:
    """A file sent as a deliverable: the receipt, the office's note, the board, the file as the
    office opens it."""
    user = await fuzzed.linked(fuzzed._next(CONTACTS))
    await fuzzed.send(user.command("/nhiemvu"), "/nhiemvu")
    await tap(fuzzed, user, *reversed(newest_with_button(user.messages, "task:file:")))
    name = f"{text}.docx"
    update = user.document(name, docx(text), DOCX)
    await shows(fuzzed, user.id, name, update, "the receipt of the file")
    await shows(fuzzed, OFFICE_CHAT, name, None, "the office's note of the file")
    admin = fuzzed.harness.admin()
    await shows(fuzzed, admin.id, name, admin.command("/nhiemvu"), "the office's task board")
    data = f"task:getfile:{await newest_evidence_id(fuzzed)}"
    board = next(m for m, b in buttons_in(admin.messages) if b["callback_data"] == data)
    await shows(fuzzed, admin.id, name, admin.tap_data(data, message=board), "the file itself")


async def through_a_draft_file_name(fuzzed: Fuzzed, text: str) -> None:
    """A draft's file name, asked about when its speaker has two themes."""
    speaker = fuzzed._next(SPEAKERS)
    user = await fuzzed.linked(speaker)
    other = "1.1" if speaker == "DB042" else "3"
    admin = fuzzed.harness.admin()
    await fuzzed.send(admin.command(f"/phancong {speaker} {other}"), "a second theme")
    update = user.document(f"{text}.docx", docx(text), DOCX)
    message = await shows(fuzzed, user.id, f"{text}.docx", update, "the question of the theme")
    await tap(fuzzed, user, *reversed(newest_with_button([message], "dr:pick:")))


async def through_draft_comments(fuzzed: Fuzzed, text: str) -> None:
    """Comments both ways, the board's quote of the last one, and a file the office sends back
    with its name."""
    user, post = await speaker_with_a_post(fuzzed, text)
    admin, office = fuzzed.harness.admin(), fuzzed.fake.group(OFFICE_CHAT, "Văn phòng")
    await fuzzed.send(office.reply(admin, post, text), "the office's comment")
    comment = await shows(fuzzed, user.id, text, None, "the comment to the speaker")
    await fuzzed.send(user.reply(comment, text), "the speaker's answer")
    await shows(fuzzed, OFFICE_CHAT, text, None, "the answer in the office chat")
    await shows(fuzzed, admin.id, text, admin.command("/thamluan"), "the drafts board")
    edited = fuzzed.fake._incoming(
        OFFICE_CHAT,
        admin.obj,
        {
            "caption": text,
            "document": admin.document(f"{text}.docx", docx(text), DOCX)["message"]["document"],
            "reply_to_message": fuzzed.fake._current(post),
        },
    )
    await fuzzed.send(edited, "the office's edited file")
    await shows(fuzzed, user.id, f"{text}.docx", None, "the office's file to the speaker")


async def through_a_notice(fuzzed: Fuzzed, text: str) -> None:
    """An office notice: the preview, and the notice as delegates get it."""
    user = await fuzzed.linked(fuzzed._next(DELEGATES))
    admin = await fuzzed.sender("admin_writing_notice")
    await fuzzed.send(admin.text(text), "the notice")
    message, data = next(
        (m, str(b["callback_data"]))
        for m, b in buttons_in(admin.messages[-1:])
        if str(b["callback_data"]).endswith(":linked")
    )
    preview = await shows(fuzzed, admin.id, text, admin.tap_data(data, message=message), "preview")
    await tap(fuzzed, admin, *reversed(newest_with_button([preview], "bc:now:")))
    await shows(fuzzed, user.id, text, None, "the notice to a delegate")


ROUTES = [
    through_the_delegate_list,
    through_a_decline_reason,
    through_a_substitute,
    through_task_notes,
    through_a_task_link,
    through_a_deliverable_file_name,
    through_a_draft_file_name,
    through_draft_comments,
    through_a_notice,
]


@pytest.mark.parametrize("route", ROUTES, ids=[route.__name__ for route in ROUTES])
@ROUTE_FUZZ
@given(text=hostile_texts)
async def test_what_people_give_is_shown_exactly_as_given_in_every_html_message_it_reaches(
    fuzzed: Fuzzed, route: Any, text: str
) -> None:
    # Every message and caption is also parsed by the fake Bot API as Telegram would: markup
    # that slipped through unescaped is refused there (a violation) or changes what is shown.
    await route(fuzzed, text)
