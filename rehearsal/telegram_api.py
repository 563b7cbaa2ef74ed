"""A simulated Telegram Bot API, in process, that the real python-telegram-bot stack talks to.

The tests run the bot against it, and ``hoinghi rehearse`` runs a whole meeting on it without a
token or a network.

Wire PTB to it through its ordinary HTTP layer, so requests are encoded exactly as in production::

    fake = FakeBotApi()
    app = fake.wire(ApplicationBuilder()).build()        # token, base URLs, both HTTPXRequests
    async with app:
        await deliver(app, fake.user(1001, "An").command("/start abc"))  # rehearsal.telegram's
    fake.assert_no_violations()

Requests are checked against the official method/type list (``api.min.json``); anything real
Telegram would reject because the bot built it wrongly is a *violation*: it is recorded in
``FakeBotApi.violations`` and answered with HTTP 400, so PTB raises ``BadRequest`` just as in
production. State-dependent refusals a correct bot must cope with (blocked user, "message is not
modified", editing a deleted message) are answered the same way but are not violations.

``FakeBotApi(enforce_limits=True)`` also applies Telegram's flood limits to sending methods and
answers a message over them with 429 ``retry_after`` (counted in ``rate_limited``, not a
violation); ``tests.fakes.server.FakeBotApiServer`` serves the fake over loopback HTTP so a bot in
another process can talk to it.

Trouble on the server's side is injected two ways: ``fail_next`` answers the next calls to one
method with a chosen error, and ``chaos`` answers calls at random, from a seed, with 5xx,
timeouts and bursts of 429 (see :class:`Chaos`). Both answer only after the request was
validated, so an injected failure never hides a bug in the request.
"""

from __future__ import annotations

import asyncio
import copy
import functools
import html
import itertools
import json
import math
import os
import random
import re
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlsplit

import httpx
from telegram import Bot
from telegram.ext import ApplicationBuilder
from telegram.request import HTTPXRequest

JsonDict = dict[str, Any]
_B = TypeVar("_B", bound=ApplicationBuilder[Any, Any, Any, Any, Any, Any])

# The official method and type list (Bot API 10.1, MIT licensed, from
# PaulSonOfLars/telegram-bot-api-spec; see botapi/LICENSE), shipped with the bot.
DEFAULT_SPEC_PATH = Path(__file__).resolve().parent / "botapi" / "api.min.json"
SPEC_ENV_VAR = "HOINGHI_BOT_API_SPEC"
TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
CALLBACK_ANSWER_LIMIT = 200
CALLBACK_DATA_MAX_BYTES = 64
# Flood limits (https://core.telegram.org/bots/faq#my-bot-is-hitting-limits-how-do-i-avoid-this).
OVERALL_LIMIT, OVERALL_WINDOW = 30, 1.0  # messages per sliding window (seconds), all chats
PRIVATE_BURST, PRIVATE_RATE = 3, 1.0  # token bucket per private chat: capacity, tokens/second
GROUP_LIMIT, GROUP_WINDOW = 20, 60.0  # messages per sliding window (seconds), per group


class SpecViolation(AssertionError):
    """The bot sent a request that the real Bot API would have rejected."""


@dataclass(frozen=True)
class UploadedFile:
    """One multipart file part: its file name, declared content type and bytes."""

    file_name: str
    mime_type: str
    content: bytes


@dataclass
class ApiCall:
    """One request the bot made, decoded; ``error``/``error_code`` are set if it was refused."""

    method: str
    params: dict[str, Any]
    files: dict[str, bytes] = field(default_factory=dict)
    uploads: dict[str, UploadedFile] = field(default_factory=dict)
    error_code: int | None = None
    error: str | None = None


@dataclass(frozen=True)
class _FieldSpec:
    name: str
    types: tuple[str, ...]
    required: bool


@dataclass(frozen=True, eq=False)
class ApiSpec:
    """The parts of ``api.min.json`` the fake needs: fields of methods and of object types."""

    methods: dict[str, dict[str, _FieldSpec]]
    returns: dict[str, tuple[str, ...]]
    types: dict[str, dict[str, _FieldSpec]]
    subtypes: dict[str, tuple[str, ...]]
    lowercase_methods: dict[str, str]

    @classmethod
    def load(cls, path: Path) -> ApiSpec:
        """Parse the spec file at ``path``."""
        raw = json.loads(path.read_text(encoding="utf-8"))

        def fields(entry: JsonDict) -> dict[str, _FieldSpec]:
            return {
                f["name"]: _FieldSpec(f["name"], tuple(f["types"]), bool(f["required"]))
                for f in entry.get("fields", [])
            }

        return cls(
            methods={name: fields(m) for name, m in raw["methods"].items()},
            returns={name: tuple(m.get("returns", ())) for name, m in raw["methods"].items()},
            types={name: fields(t) for name, t in raw["types"].items()},
            subtypes={name: tuple(t.get("subtypes", ())) for name, t in raw["types"].items()},
            lowercase_methods={name.lower(): name for name in raw["methods"]},
        )

    def canonical_method(self, name: str) -> str | None:
        """The spec spelling of ``name``; the real server matches method names case-blind."""
        return self.lowercase_methods.get(name.lower())

    def concrete(self, type_names: Iterable[str]) -> list[str]:
        """Object type names with abstract ones (e.g. ``InputMedia``) replaced by subtypes."""
        out: list[str] = []
        for name in type_names:
            if name not in self.types:
                continue
            subtypes = self.subtypes.get(name)
            out.extend(self.concrete(subtypes) if subtypes else [name])
        return out


@functools.cache
def _load_spec(path: Path) -> ApiSpec:
    return ApiSpec.load(path)


class _Reject(Exception):
    """Raised while handling a request to answer it with an error."""

    def __init__(
        self, error_code: int, description: str, *, violation: bool, why: str | None = None
    ) -> None:
        super().__init__(description)
        self.error_code = error_code
        self.description = description
        self.violation = violation
        self.why = why or description  # what goes into `violations` when it differs


def _bad(what: str) -> _Reject:
    return _Reject(400, f"Bad Request: {what}", violation=True)


def _refused(error_code: int, description: str) -> _Reject:
    return _Reject(error_code, description, violation=False)


# --- Telegram HTML ---------------------------------------------------------------------------

_TAG_RE = re.compile(
    r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)"
    r"((?:\s+[a-zA-Z-]+(?:\s*=\s*(?:\"[^\"]*\"|'[^']*'|[^\s>\"']+))?)*)\s*/?>"
)
_ATTR_RE = re.compile(r"([a-zA-Z-]+)(?:\s*=\s*(?:\"([^\"]*)\"|'([^']*)'|([^\s>\"']+)))?")
_ENTITY_RE = re.compile(r"&(?:lt|gt|amp|quot|#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6});")
_HTML_TAGS = frozenset(
    {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "span", "tg-spoiler"}
    | {"a", "code", "pre", "blockquote", "tg-emoji"}
)


def _parse_html(text: str) -> str:
    """Plain text of Telegram-HTML ``text``; raises a 400 ``_Reject`` where Telegram would."""
    out: list[str] = []
    open_tags: list[str] = []
    pos = 0
    while pos < len(text):
        char = text[pos]
        if char == "&":
            entity = _ENTITY_RE.match(text, pos)
            if entity is None:
                raise _bad(
                    f"can't parse entities: bare '&' at offset {pos} is not an entity "
                    "(escape it as &amp;)"
                )
            out.append(html.unescape(entity.group()))
            pos = entity.end()
        elif char == "<":
            tag = _TAG_RE.match(text, pos)
            if tag is None:
                raise _bad(
                    f"can't parse entities: '<' at offset {pos} does not start a tag "
                    "(escape it as &lt;)"
                )
            closing, name, attrs = tag.group(1) == "/", tag.group(2).lower(), tag.group(3)
            if name not in _HTML_TAGS:
                raise _bad(f'can\'t parse entities: unsupported tag "{name}" at offset {pos}')
            if closing:
                if not open_tags or open_tags[-1] != name:
                    raise _bad(
                        f'can\'t parse entities: unexpected end tag "{name}" at offset {pos}'
                    )
                open_tags.pop()
            else:
                _check_html_start_tag(name, _html_attrs(attrs), open_tags, pos)
                open_tags.append(name)
            pos = tag.end()
        else:
            # A bare '>' is tolerated by the real server, so it is not flagged here either.
            out.append(char)
            pos += 1
    if open_tags:
        raise _bad(f"can't parse entities: can't find end tag for \"{open_tags[-1]}\"")
    return "".join(out)


def _html_attrs(raw: str) -> dict[str, str]:
    return {
        m.group(1).lower(): html.unescape(next((g for g in m.groups()[1:] if g is not None), ""))
        for m in _ATTR_RE.finditer(raw)
    }


def _check_html_start_tag(name: str, attrs: dict[str, str], open_tags: list[str], pos: int) -> None:
    where = f'tag "{name}" at offset {pos}'
    if name == "a" and not attrs.get("href"):
        raise _bad(f"can't parse entities: {where} has no href")
    if name == "span" and attrs.get("class") != "tg-spoiler":
        raise _bad(f'can\'t parse entities: {where} needs class="tg-spoiler"')
    if name == "tg-emoji" and not attrs.get("emoji-id"):
        raise _bad(f"can't parse entities: {where} has no emoji-id")
    if "code" in open_tags or ("pre" in open_tags and name != "code"):
        raise _bad(f"can't parse entities: {where} is nested inside pre/code")
    if name == "blockquote" and "blockquote" in open_tags:
        raise _bad(f"can't parse entities: {where} is nested inside another blockquote")


def _plain_text(text: str, parse_mode: str | None) -> str:
    """The text Telegram would display for ``text`` sent with ``parse_mode``."""
    if not parse_mode:
        return text
    if parse_mode.upper() == "HTML":
        return _parse_html(text)
    if parse_mode in ("Markdown", "MarkdownV2"):
        return text  # Markdown is not modelled; the project formats with HTML.
    raise _bad(f"unsupported parse_mode {parse_mode!r}")


def _utf16_len(text: str) -> int:
    # Entity offsets and lengths are measured in UTF-16 code units.
    return len(text.encode("utf-16-le")) // 2


# --- request decoding ------------------------------------------------------------------------


def _parse_json_object(body: bytes) -> dict[str, str]:
    """A JSON body's fields as Telegram's server reads them
    (``td::HttpReader::parse_json_parameters``): a string is its text, anything else the JSON
    that spells it, as a form field carries it. Stricter than Telegram, which logs a body it
    cannot parse and goes on with the fields read so far: here that is a 400 and a violation."""
    if not body:
        return {}
    try:
        fields = json.loads(body.decode("utf-8"))
    except ValueError as error:
        raise _bad(f"can't parse JSON: {error}") from None
    if not isinstance(fields, dict):
        raise _bad("JSON object expected")
    return {
        key: value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        for key, value in fields.items()
    }


def _parse_multipart(
    body: bytes, content_type: str
) -> tuple[dict[str, str], dict[str, UploadedFile]]:
    """Split a ``multipart/form-data`` body (httpx's or aiohttp's) into text fields and file
    parts."""
    boundary = re.search(r'boundary="?([^";]+)"?', content_type)
    if boundary is None:
        raise _bad("multipart body without boundary")
    values: dict[str, str] = {}
    uploads: dict[str, UploadedFile] = {}
    for part in body.split(b"--" + boundary.group(1).encode())[1:]:
        if part.startswith(b"--"):
            break
        head, _, content = part.partition(b"\r\n\r\n")
        content = content.removesuffix(b"\r\n")
        headers = head.decode("utf-8")
        name = re.search(r'\bname="([^"]*)"', headers)
        if name is None:
            raise _bad("multipart part without a name")
        file_name = re.search(r'\bfilename="([^"]*)"', headers)
        if file_name is None:
            values[name.group(1)] = content.decode("utf-8")
            continue
        mime = re.search(r"(?im)^content-type:\s*(\S+)", headers)
        uploads[name.group(1)] = UploadedFile(
            file_name.group(1), mime.group(1) if mime else "application/octet-stream", content
        )
    return values, uploads


def _decode_value(raw: str, spec: _FieldSpec | None) -> Any:
    # PTB sends str values verbatim and JSON-dumps everything else, so only fields that can
    # hold a non-string are JSON-decoded; a text "123" must stay a string.
    if spec is not None and set(spec.types) <= {"String", "InputFile"}:
        return raw
    try:
        return json.loads(raw)
    except ValueError:
        return raw


# --- fake chats and users --------------------------------------------------------------------


@dataclass
class _Chat:
    obj: JsonDict
    messages: dict[int, JsonDict] = field(default_factory=dict)
    deleted: set[int] = field(default_factory=set)
    next_message_id: int = 1
    blocked: bool = False
    reply_keyboard: JsonDict | None = None


@dataclass
class _StoredFile:
    file_id: str
    file_unique_id: str
    file_path: str
    content: bytes
    announced_size: int | None = None

    @property
    def size(self) -> int:
        """The size Telegram announces for the file."""
        return len(self.content) if self.announced_size is None else self.announced_size


@dataclass
class _Fault:
    error_code: int
    description: str
    retry_after: int | None
    timeout: bool
    chat_id: int | None = None  # only calls to this chat, if set
    proxy_page: bool = False  # a proxy's HTML page with this status, not the Bot API's JSON
    connect_timeout: bool = False  # timed out connecting: the request never went out
    dropped: bool = False  # the connection closed after the request went out, no answer
    connect_error: bool = False  # the connection never opened: the request never went out


# Never touched by chaos: receiving updates, the bot's identity, file downloads (served apart),
# and the set-up calls a bot makes once at start. Everything else — every reply, toast, send,
# edit or lookup the bot makes while it works — can fail.
CHAOS_EXEMPT = frozenset(
    {
        "getUpdates",
        "getMe",
        "getFile",
        "logOut",
        "close",
        "setMyCommands",
        "deleteMyCommands",
        "getMyCommands",
        "setWebhook",
        "deleteWebhook",
        "getWebhookInfo",
        "setMyName",
        "setMyDescription",
        "setMyShortDescription",
        "setChatMenuButton",
        "setMyDefaultAdministratorRights",
    }
)
CHAOS_KINDS = ("5xx", "timeout", "429")


@dataclass
class Chaos:
    """A seeded bad day of the Bot API, installed with :meth:`FakeBotApi.chaos`.

    Every call to a method outside ``CHAOS_EXEMPT`` takes one roll of ``rng``: with
    ``error_rate`` it is answered 502 Bad Gateway, with ``timeout_rate`` an httpx read timeout is
    raised before the call is executed (nothing reaches the chat), with ``burst_rate`` a burst of
    429s starts. A burst is counted in calls, not seconds, so it is the same for a seed however
    fast the bot runs: the call that starts it and the next ``burst_length - 1`` chaos-eligible
    calls, whatever their method, are answered 429 with ``retry_after`` = ``burst_retry_after``
    (no roll is taken during a burst). The same seed and the same sequence of calls give the same
    faults. ``injected`` counts what was injected by kind (``5xx``, ``timeout``, ``429``),
    ``by_method`` by (method, kind); ``rolls`` is how many calls were eligible.
    """

    rng: random.Random
    error_rate: float = 0.10
    timeout_rate: float = 0.03
    burst_rate: float = 0.01
    burst_length: int = 3
    burst_retry_after: int = 1
    injected: Counter[str] = field(default_factory=Counter, init=False)
    by_method: Counter[tuple[str, str]] = field(default_factory=Counter, init=False)
    rolls: int = field(default=0, init=False)
    _burst_left: int = field(default=0, init=False, repr=False)

    def __post_init__(self) -> None:
        rates = (self.error_rate, self.timeout_rate, self.burst_rate)
        if any(rate < 0 for rate in rates) or sum(rates) > 1:
            raise ValueError(f"chaos rates must be at least 0 and add up to at most 1: {rates}")
        if self.burst_length < 1 or self.burst_retry_after < 1:
            raise ValueError("a burst is at least one call with retry_after of at least 1 s")

    @property
    def total(self) -> int:
        """Every fault injected so far."""
        return sum(self.injected.values())

    def roll(self, method: str) -> _Fault | None:
        """The fault for this call of ``method``, or ``None`` to let it through."""
        if method in CHAOS_EXEMPT:
            return None
        self.rolls += 1
        if self._burst_left > 0:
            self._burst_left -= 1
            return self._count(method, "429")
        roll = self.rng.random()
        if roll < self.error_rate:
            return self._count(method, "5xx")
        roll -= self.error_rate
        if roll < self.timeout_rate:
            return self._count(method, "timeout")
        roll -= self.timeout_rate
        if roll < self.burst_rate:
            self._burst_left = self.burst_length - 1
            return self._count(method, "429")
        return None

    def _count(self, method: str, kind: str) -> _Fault:
        self.injected[kind] += 1
        self.by_method[method, kind] += 1
        if kind == "5xx":
            return _Fault(502, "Bad Gateway", None, timeout=False)
        if kind == "timeout":
            return _Fault(0, "timeout", None, timeout=True)
        wait = self.burst_retry_after
        return _Fault(429, f"Too Many Requests: retry after {wait}", wait, timeout=False)


class _FakeChatView:
    """What the bot sent to one chat, as seen by a test."""

    def __init__(self, fake: FakeBotApi, chat_id: int) -> None:
        self._fake = fake
        self.id = chat_id
        self.chat_id = chat_id

    @property
    def messages(self) -> list[JsonDict]:
        """Messages the bot sent to this chat, current state, oldest first."""
        return self._fake.messages_to(self.id)

    @property
    def last_message(self) -> JsonDict:
        """The most recent message the bot sent to this chat."""
        messages = self.messages
        if not messages:
            raise LookupError(f"the bot has sent nothing to chat {self.id}")
        return messages[-1]

    def last_text(self) -> str:
        """Text (or caption) of the most recent bot message in this chat."""
        message = self.last_message
        return str(message.get("text", message.get("caption", "")))

    def _latest_with_keyboard(self) -> JsonDict:
        for message in reversed(self.messages):
            if message.get("reply_markup", {}).get("inline_keyboard"):
                return message
        raise LookupError(f"no bot message with an inline keyboard in chat {self.id}")

    @property
    def reply_keyboard(self) -> JsonDict | None:
        """The reply keyboard currently shown in this chat (``None`` once removed)."""
        return copy.deepcopy(self._fake._chat(self.id).reply_keyboard)


class FakeUser(_FakeChatView):
    """A Telegram user in a private chat with the bot; its methods build incoming updates."""

    def __init__(self, fake: FakeBotApi, obj: JsonDict) -> None:
        super().__init__(fake, int(obj["id"]))
        self.obj = obj

    def text(self, text: str) -> JsonDict:
        """A plain text message update from this user."""
        return self._fake._incoming(self.id, self.obj, {"text": text})

    def command(self, text: str) -> JsonDict:
        """A command message update such as ``/start abc`` with its bot_command entity."""
        return self._fake._command(self.id, self.obj, text)

    def tap(self, button_text: str, *, message: JsonDict | None = None) -> JsonDict:
        """A callback_query update for the inline button labelled ``button_text``."""
        target = self._fake._current(message) if message else self._latest_with_keyboard()
        rows = target.get("reply_markup", {}).get("inline_keyboard", [])
        buttons = [button for row in rows for button in row]
        for button in buttons:
            if button["text"] == button_text:
                if "callback_data" not in button:
                    raise LookupError(f"button {button_text!r} has no callback_data: {button}")
                return self._fake._callback(self.obj, target, str(button["callback_data"]))
        labels = [button["text"] for button in buttons]
        raise LookupError(
            f"no button {button_text!r} on message {target['message_id']} in chat "
            f"{target['chat']['id']}; available: {labels}"
        )

    def tap_data(self, data: str, *, message: JsonDict | None = None) -> JsonDict:
        """A callback_query update with arbitrary (possibly forged) ``data``."""
        if message is not None:
            return self._fake._callback(self.obj, self._fake._current(message), data)
        sent = self.messages
        return self._fake._callback(self.obj, sent[-1] if sent else None, data)

    def share_contact(self, phone_number: str, *, own: bool = True) -> JsonDict:
        """A contact message; ``own=False`` shares somebody else's contact card."""
        contact: JsonDict = {
            "phone_number": phone_number,
            "first_name": self.obj["first_name"] if own else "Someone Else",
            "user_id": self.id if own else self.id + 1_000_000,
        }
        if own and "last_name" in self.obj:
            contact["last_name"] = self.obj["last_name"]
        return self._fake._incoming(self.id, self.obj, {"contact": contact})

    def sticker(self) -> JsonDict:
        """A sticker message update."""
        stored = self._fake._register_file("stickers", ".webp", b"RIFF\x00\x00\x00\x00WEBP")
        sticker = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "emoji": "👍",
        }
        return self._fake._incoming(self.id, self.obj, {"sticker": sticker})

    def photo(self) -> JsonDict:
        """A photo message update (two sizes, as Telegram sends them)."""
        sizes = []
        for width, height in ((90, 67), (800, 600)):
            stored = self._fake._register_file("photos", ".jpg", b"\xff\xd8\xff\xe0JFIF")
            sizes.append(
                {
                    "file_id": stored.file_id,
                    "file_unique_id": stored.file_unique_id,
                    "width": width,
                    "height": height,
                    "file_size": len(stored.content),
                }
            )
        return self._fake._incoming(self.id, self.obj, {"photo": sizes})

    def document(
        self,
        file_name: str | None,
        content: bytes,
        mime_type: str,
        *,
        announced_size: int | None = None,
    ) -> JsonDict:
        """A document message update; the bot can fetch it with getFile and download it.

        ``file_name=None`` sends a document without a name (Telegram allows that);
        ``announced_size`` makes Telegram announce a size other than the content's (a file
        over the 20 MB download limit without building one in memory).
        """
        suffix = PurePosixPath(file_name).suffix if file_name else ""
        stored = self._fake._register_file("documents", suffix, content)
        if announced_size is not None:
            stored.announced_size = announced_size
        document = _document_obj(stored, file_name, mime_type)
        return self._fake._incoming(self.id, self.obj, {"document": document})

    def reply(self, to: JsonDict, text: str) -> JsonDict:
        """A text message replying to ``to`` (a message in this chat)."""
        return self._fake._incoming(
            self.id, self.obj, {"text": text, "reply_to_message": self._fake._current(to)}
        )

    def edited(self, message: JsonDict, new_text: str) -> JsonDict:
        """An edited_message update for one of this user's earlier text messages."""
        return self._fake._edited(message, new_text)


class FakeGroup(_FakeChatView):
    """A group chat the bot is in; messages come from a given ``FakeUser``."""

    def __init__(self, fake: FakeBotApi, obj: JsonDict) -> None:
        super().__init__(fake, int(obj["id"]))
        self.obj = obj

    def text(self, user: FakeUser, text: str) -> JsonDict:
        """A plain text message update from ``user`` in this group."""
        return self._fake._incoming(self.id, user.obj, {"text": text})

    def command(self, user: FakeUser, text: str) -> JsonDict:
        """A command message update from ``user`` in this group."""
        return self._fake._command(self.id, user.obj, text)

    def reply(self, user: FakeUser, to: JsonDict, text: str) -> JsonDict:
        """``user`` replies to ``to`` (a message in this group) with text."""
        return self._fake._incoming(
            self.id, user.obj, {"text": text, "reply_to_message": self._fake._current(to)}
        )


# Bots may download files of at most 20 MB (https://core.telegram.org/bots/api#getfile).
BOT_DOWNLOAD_LIMIT = 20 * 1024 * 1024


def _document_obj(stored: _StoredFile, file_name: str | None, mime_type: str) -> JsonDict:
    document: JsonDict = {
        "file_id": stored.file_id,
        "file_unique_id": stored.file_unique_id,
        "mime_type": mime_type,
        "file_size": stored.size,
    }
    if file_name is not None:
        document["file_name"] = file_name
    return document


_CONTENT_KEYS = ("text", "caption", "document", "photo", "sticker", "contact", "location", "venue")
_INLINE_BUTTON_DECOR = frozenset({"text", "icon_custom_emoji_id", "style"})
_BOT_COMMAND_RE = re.compile(r"[a-z0-9_]{1,32}")


# Senders whose result is not a message in the chat (a typing status, a draft preview).
_NOT_MESSAGES = frozenset({"sendChatAction", "sendMessageDraft", "sendRichMessageDraft"})


def _is_sending(method: str) -> bool:
    """Whether ``method`` delivers a message, so it counts towards the flood limits."""
    if method in ("copyMessage", "forwardMessage"):
        return True
    return method.startswith("send") and method not in _NOT_MESSAGES


def _chat_number(chat_id: Any) -> int | None:
    # "@channelusername" chat ids have no number; only the overall limit applies to them.
    try:
        return int(chat_id)
    except (TypeError, ValueError):
        return None


def _whole_seconds(wait: float) -> int:
    # Float noise from clock arithmetic must not round 1.0000000001 up to a whole extra second.
    return max(1, math.ceil(wait - 1e-9))


def _window_wait(window: deque[float] | None, now: float, limit: int, length: float) -> float:
    """Seconds until a sliding ``length``-second ``window`` has room for one more message."""
    if window is None:
        return 0.0
    while window and window[0] <= now - length:
        window.popleft()
    return window[0] + length - now if len(window) >= limit else 0.0


class _FloodLimits:
    """Telegram's flood limits: overall and per-group sliding windows, per-user token buckets.

    A message over a limit is refused with ``retry_after``, and so is every message that the
    limit covers until that time has passed (Telegram keeps refusing a bot that ignores
    retry_after): one chat's messages for a chat's own limit, every chat's for the overall one.
    """

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._overall: deque[float] = deque()
        self._groups: dict[int, deque[float]] = {}
        self._buckets: dict[int, tuple[float, float]] = {}  # chat id -> (tokens, as of when)
        self._penalty_until = -math.inf  # every chat
        self._chat_penalty_until: dict[int, float] = {}

    def retry_after(self, chat_id: int | None) -> int | None:
        """Whole seconds the bot must wait before this message, or ``None`` if it may go now."""
        now = self._clock()
        penalty = self._penalty_until
        if chat_id is not None:
            penalty = max(penalty, self._chat_penalty_until.get(chat_id, -math.inf))
        if now < penalty:
            return _whole_seconds(penalty - now)
        overall = _window_wait(self._overall, now, OVERALL_LIMIT, OVERALL_WINDOW)
        own = 0.0
        if chat_id is not None and chat_id > 0:
            own = (1.0 - self._tokens(chat_id, now)) / PRIVATE_RATE
        elif chat_id is not None and chat_id < 0:
            own = _window_wait(self._groups.get(chat_id), now, GROUP_LIMIT, GROUP_WINDOW)
        wait = max(overall, own)
        if wait <= 0:
            return None
        seconds = _whole_seconds(wait)
        if overall > 0 or chat_id is None:
            self._penalty_until = now + seconds
        else:
            self._chat_penalty_until[chat_id] = now + seconds
        return seconds

    def delivered(self, chat_id: int | None) -> None:
        """Charge one delivered message to the limits."""
        now = self._clock()
        self._overall.append(now)
        if chat_id is not None and chat_id > 0:
            self._buckets[chat_id] = (self._tokens(chat_id, now) - 1.0, now)
        elif chat_id is not None and chat_id < 0:
            self._groups.setdefault(chat_id, deque()).append(now)

    def _tokens(self, chat_id: int, now: float) -> float:
        tokens, since = self._buckets.get(chat_id, (float(PRIVATE_BURST), now))
        return min(float(PRIVATE_BURST), tokens + (now - since) * PRIVATE_RATE)


class _Transport(httpx.AsyncBaseTransport):
    def __init__(self, fake: FakeBotApi) -> None:
        self._fake = fake

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            return await self._fake._handle(request)
        finally:
            self._fake._notify_activity()


class FakeBotApi:
    """The fake Bot API server: records calls, validates them and keeps chat state."""

    def __init__(
        self,
        *,
        token: str = "123456:TEST-TOKEN-of-the-simulated-bot-api",  # noqa: S107 (made up)
        bot_id: int = 123456,
        bot_username: str = "hoinghi_test_bot",
        spec_path: Path | None = None,
        enforce_limits: bool = False,
        clock: Callable[[], float] | None = None,
    ) -> None:
        """``enforce_limits`` turns on Telegram's flood limits, timed by ``clock`` (seconds)."""
        self.token = token
        self.base_url = "https://fake-bot-api.test/bot"
        self.base_file_url = "https://fake-bot-api.test/file/bot"
        self.transport: httpx.AsyncBaseTransport = _Transport(self)
        self.calls: list[ApiCall] = []
        self.violations: list[str] = []
        self.enforce_limits = enforce_limits
        self.rate_limited = 0
        self._limits = _FloodLimits(clock or time.monotonic)
        self._sent: Counter[int] = Counter()
        self.bot_user: JsonDict = {
            "id": bot_id,
            "is_bot": True,
            "first_name": "Hội nghị (test)",
            "username": bot_username,
        }
        self.spec = _load_spec(spec_path or Path(os.environ.get(SPEC_ENV_VAR, DEFAULT_SPEC_PATH)))
        self.commands: dict[tuple[str, str], list[JsonDict]] = {}
        self.webhook_url = ""
        self._chats: dict[int, _Chat] = {}
        self._files: dict[str, _StoredFile] = {}
        self._file_ids = itertools.count(1)
        self._update_ids = itertools.count(1)
        self._callback_ids = itertools.count(1)
        self._callbacks_answered: dict[str, bool] = {}
        self._faults: dict[str, deque[_Fault]] = {}
        self._chaos: Chaos | None = None
        self._queue: list[JsonDict] = []
        self.highest_update_returned = 0  # the newest update_id getUpdates has returned
        # Events bind to the running loop on first wait, so building the fake outside a loop
        # (e.g. in a sync fixture) is fine.
        self._queue_changed = asyncio.Event()
        self._poller_waiting = asyncio.Event()
        self._activity = asyncio.Event()

    # --- wiring PTB --------------------------------------------------------------------------

    def make_request(self) -> HTTPXRequest:
        """A fresh HTTPXRequest that talks to this fake (PTB needs one per Bot and for polling)."""
        return HTTPXRequest(httpx_kwargs={"transport": self.transport})

    def make_bot(self) -> Bot:
        """A real ``telegram.Bot`` wired to this fake, including getUpdates."""
        return Bot(
            self.token,
            base_url=self.base_url,
            base_file_url=self.base_file_url,
            request=self.make_request(),
            get_updates_request=self.make_request(),
        )

    def wire(self, builder: _B) -> _B:
        """Point an ``ApplicationBuilder`` at this fake: token, URLs and both requests."""
        builder.token(self.token).base_url(self.base_url).base_file_url(self.base_file_url)
        builder.request(self.make_request()).get_updates_request(self.make_request())
        return builder

    # --- inspecting what the bot did --------------------------------------------------------

    def assert_no_violations(self) -> None:
        """Raise ``SpecViolation`` listing every violation seen so far."""
        if self.violations:
            raise SpecViolation(
                f"{len(self.violations)} Bot API violation(s):\n" + "\n".join(self.violations)
            )

    def calls_to(self, method: str) -> list[ApiCall]:
        """Every recorded call to ``method``, including refused ones."""
        return [call for call in self.calls if call.method == method]

    def sent_counts(self) -> Counter[int]:
        """Messages delivered by sending methods, per chat id (refused calls not counted)."""
        return Counter(self._sent)

    def messages_to(self, chat_id: int) -> list[JsonDict]:
        """Messages the bot sent to ``chat_id``, with edits applied, oldest first."""
        chat = self._chats.get(chat_id)
        if chat is None:
            return []
        bot_id = self.bot_user["id"]
        return [copy.deepcopy(m) for m in chat.messages.values() if m["from"]["id"] == bot_id]

    # --- building the world -----------------------------------------------------------------

    def user(
        self,
        user_id: int,
        first_name: str,
        *,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = "vi",
    ) -> FakeUser:
        """Register a user with a private chat to the bot."""
        if user_id <= 0:
            raise ValueError(f"user ids are positive, got {user_id}")
        optional = {"last_name": last_name, "username": username}
        names = {"first_name": first_name} | {k: v for k, v in optional.items() if v is not None}
        obj: JsonDict = {"id": user_id, "is_bot": False, **names}
        if language_code is not None:
            obj["language_code"] = language_code
        self._chats.setdefault(user_id, _Chat({"id": user_id, "type": "private", **names}))
        return FakeUser(self, obj)

    def group(self, chat_id: int, title: str) -> FakeGroup:
        """Register a group (``-100…`` ids become supergroups) that the bot is a member of."""
        if chat_id >= 0:
            raise ValueError(f"group chat ids are negative, got {chat_id}")
        kind = "supergroup" if chat_id <= -1_000_000_000_000 else "group"
        obj: JsonDict = {"id": chat_id, "type": kind, "title": title}
        self._chats.setdefault(chat_id, _Chat(obj))
        return FakeGroup(self, obj)

    def block(self, user_id: int) -> JsonDict:
        """Make the user block the bot; returns the my_chat_member update telling the bot so."""
        self._chat(user_id).blocked = True
        return self._my_chat_member(user_id, old="member", new="kicked")

    def unblock(self, user_id: int) -> JsonDict:
        """Undo ``block``; returns the my_chat_member update telling the bot so."""
        self._chat(user_id).blocked = False
        return self._my_chat_member(user_id, old="kicked", new="member")

    def fail_next(
        self,
        method: str,
        *,
        error_code: int = 400,
        description: str = "Bad Request: injected failure",
        retry_after: int | None = None,
        times: int = 1,
        timeout: bool = False,
        chat_id: int | None = None,
        proxy_page: bool = False,
        connect_timeout: bool = False,
        dropped: bool = False,
        connect_error: bool = False,
    ) -> None:
        """Answer the next ``times`` calls to ``method`` (to ``chat_id`` only, if given) with
        this error (or an httpx read timeout; ``connect_timeout``: httpx's connect timeout,
        over the transport only, the loopback server having accepted the connection), or
        (``proxy_page``) a company proxy's HTML error page with ``error_code`` as its status,
        or (``dropped``) no answer at all: the connection closed after the request went out
        (httpx's ``RemoteProtocolError``; the loopback server hangs up), or
        (``connect_error``) httpx's ``ConnectError``, over the transport only."""
        fault = _Fault(
            error_code, description, retry_after, timeout, chat_id, proxy_page, connect_timeout,
            dropped, connect_error,
        )  # fmt: skip
        self._faults.setdefault(method, deque()).extend([fault] * times)

    def chaos(
        self,
        rng: random.Random,
        *,
        error_rate: float = 0.10,
        timeout_rate: float = 0.03,
        burst_rate: float = 0.01,
        burst_length: int = 3,
        burst_retry_after: int = 1,
    ) -> Chaos:
        """From now on, answer calls at random with 5xx, timeouts and 429 bursts (see
        :class:`Chaos`); returns it, to read what was injected. ``fail_next`` still goes first."""
        self._chaos = Chaos(
            rng,
            error_rate=error_rate,
            timeout_rate=timeout_rate,
            burst_rate=burst_rate,
            burst_length=burst_length,
            burst_retry_after=burst_retry_after,
        )
        return self._chaos

    def next_update_id(self) -> int:
        """A fresh, increasing update_id."""
        return next(self._update_ids)

    def enqueue(self, update: JsonDict) -> None:
        """Queue ``update`` for getUpdates, waking a waiting long poll."""
        self._queue.append(update)
        self._queue_changed.set()

    def unconfirmed(self) -> list[int]:
        """The ids of the queued updates the bot has not confirmed (getUpdates with a higher
        ``offset``): Telegram delivers them again."""
        return [update["update_id"] for update in self._queue]

    async def wait_until(self, condition: Callable[[], bool], *, limit: float = 10.0) -> None:
        """Return once ``condition()`` holds, re-checking after every call the bot makes.

        This waits on the bot's own requests, never on a fixed sleep; ``limit`` only bounds
        a test that would otherwise hang (in seconds).
        """
        async with asyncio.timeout(limit):
            while not condition():
                self._activity.clear()
                await self._activity.wait()

    def _notify_activity(self) -> None:
        self._activity.set()

    async def wait_for_poller(self) -> None:
        """Return once a getUpdates long poll is waiting for updates."""
        await self._poller_waiting.wait()

    # --- HTTP entry point -------------------------------------------------------------------

    async def _handle(self, request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        path = request.url.path
        file_prefix = f"{urlsplit(self.base_file_url).path}{self.token}/"
        if request.method == "GET" and path.startswith(file_prefix):
            return self._serve_file(path.removeprefix(file_prefix))
        api_prefix = f"{urlsplit(self.base_url).path}{self.token}/"
        if not path.startswith(api_prefix):
            self.violations.append(f"request to {path!r}: wrong token or URL")
            return _error_response(401, "Unauthorized")
        name = path.removeprefix(api_prefix)
        method = self.spec.canonical_method(name)
        fields = self.spec.methods.get(method or "", {})

        values: dict[str, str] = {}
        uploads: dict[str, UploadedFile] = {}
        content_type = request.headers.get("content-type", "")
        try:
            # Which bodies Telegram's server reads, and how (td::HttpReader::read_next).
            kind = content_type.lower()
            if "multipart/form-data" in kind:
                values, uploads = _parse_multipart(body, content_type)
            elif "application/x-www-form-urlencoded" in kind:
                values = dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
            elif "application/json" in kind:
                values = _parse_json_object(body)
            elif body:
                raise _bad(f"a body of type {content_type or 'none'!r} is not read")
        except (_Reject, UnicodeDecodeError) as error:
            self.violations.append(f"{name}: undecodable request body: {error}")
            return _error_response(400, "Bad Request: undecodable request body")
        params = {key: _decode_value(raw, fields.get(key)) for key, raw in values.items()}
        call = ApiCall(
            method=method or name,
            params=params,
            files={key: upload.content for key, upload in uploads.items()},
            uploads=uploads,
        )
        self.calls.append(call)

        fault = self._next_fault(call)
        try:
            if method is None:
                raise _Reject(404, "Not Found", violation=True, why=f"unknown method {name!r}")
            self._validate(method, call)
        except _Reject as reject:
            self._record(call, reject)
            if fault is None:
                return _error_response(reject.error_code, reject.description)
        if fault is None and self._chaos is not None:
            fault = self._chaos.roll(call.method)  # only a valid call gets here
        if fault is not None:
            # Validation still ran above, so an injected failure never hides a bot bug.
            return self._inject(call, fault, request)
        sending = _is_sending(call.method) and "chat_id" in call.params
        chat_number = _chat_number(call.params.get("chat_id"))
        if sending and self.enforce_limits:
            retry_after = self._limits.retry_after(chat_number)
            if retry_after is not None:
                self.rate_limited += 1
                call.error_code = 429
                call.error = f"Too Many Requests: retry after {retry_after}"
                return _error_response(429, call.error, retry_after)
        try:
            result = await self._execute(method or name, call)
        except _Reject as reject:
            self._record(call, reject)
            return _error_response(reject.error_code, reject.description)
        if sending and self.enforce_limits:
            # sendMediaGroup delivers one message per item; the limits charge it as one call.
            self._limits.delivered(chat_number)
        if sending and chat_number is not None:
            self._sent[chat_number] += len(result) if isinstance(result, list) else 1
        return httpx.Response(200, json={"ok": True, "result": result})

    def _next_fault(self, call: ApiCall) -> _Fault | None:
        """The first fault waiting for this call (its method, and its chat if it names one)."""
        faults = self._faults.get(call.method, deque())
        chat = _chat_number(call.params.get("chat_id"))
        for fault in faults:
            if fault.chat_id is None or fault.chat_id == chat:
                faults.remove(fault)
                return fault
        return None

    def _record(self, call: ApiCall, reject: _Reject) -> None:
        call.error_code, call.error = reject.error_code, reject.description
        if reject.violation:
            self.violations.append(f"{call.method}: {reject.why}")

    def _inject(self, call: ApiCall, fault: _Fault, request: httpx.Request) -> httpx.Response:
        if fault.connect_timeout:
            call.error = "connect timeout"
            raise httpx.ConnectTimeout("injected connect timeout", request=request)
        if fault.connect_error:
            call.error = "connect error"
            raise httpx.ConnectError("injected connect error", request=request)
        if fault.timeout:
            call.error = "timeout"
            raise httpx.ReadTimeout("injected timeout", request=request)
        if fault.dropped:
            call.error = "dropped"
            raise httpx.RemoteProtocolError(
                "Server disconnected without sending a response.", request=request
            )
        if fault.proxy_page:
            call.error_code, call.error = fault.error_code, "proxy page"
            page = f"<html><body><h1>{fault.error_code} {fault.description}</h1></body></html>"
            return httpx.Response(
                fault.error_code, text=page, headers={"content-type": "text/html"}
            )
        call.error_code, call.error = fault.error_code, fault.description
        return _error_response(fault.error_code, fault.description, fault.retry_after)

    def _serve_file(self, file_path: str) -> httpx.Response:
        for stored in self._files.values():
            if stored.file_path == file_path:
                return httpx.Response(200, content=stored.content)
        self.violations.append(f"file download: no file at {file_path!r}")
        return _error_response(404, "Not Found")

    # --- validation -------------------------------------------------------------------------

    def _validate(self, method: str, call: ApiCall) -> None:
        fields = self.spec.methods[method]
        attached = {
            value.removeprefix("attach://")
            for value in _strings_in(call.params)
            if value.startswith("attach://")
        }
        for name in call.params.keys() | call.uploads.keys():
            if name not in fields and name not in attached:
                raise _bad(f"unknown parameter {name!r} for {method}")
        for spec in fields.values():
            if spec.required and spec.name not in call.params and spec.name not in call.uploads:
                raise _bad(f"parameter {spec.name!r} is required for {method}")
        for name, value in call.params.items():
            self._check_value(value, fields[name].types, name)

        parse_mode = call.params.get("parse_mode")
        if method in ("sendMessage", "editMessageText"):
            _check_text(call.params["text"], parse_mode, "message text", TEXT_LIMIT)
        if "caption" in call.params:
            _check_text(call.params["caption"], parse_mode, "message caption", CAPTION_LIMIT)
        # An album (sendMediaGroup) or a replaced file (editMessageMedia) carries its captions,
        # each with its own parse_mode, inside the media objects.
        media = call.params.get("media")
        items = media if isinstance(media, list) else [media]
        for index, item in enumerate(items):
            if isinstance(item, dict) and "caption" in item:
                what = f"media[{index}] caption"
                _check_text(str(item["caption"]), item.get("parse_mode"), what, CAPTION_LIMIT)
        addressed = {"chat_id", "message_id"} <= call.params.keys()
        inline = "inline_message_id" in call.params
        if method.startswith("editMessage") and not (addressed or inline):
            raise _bad(f"{method} needs chat_id and message_id, or inline_message_id")
        answer = call.params.get("text")
        if method == "answerCallbackQuery" and answer and len(answer) > CALLBACK_ANSWER_LIMIT:
            raise _bad(f"callback answer text is {len(answer)} characters, max 200")

    def _check_value(self, value: Any, types: Sequence[str], where: str) -> None:
        """Check ``value`` against spec ``types``: arrays, object field names, button rules."""
        items = [t.removeprefix("Array of ") for t in types if t.startswith("Array of ")]
        if isinstance(value, list):
            if not items:
                raise _bad(f"{where}: an array is not allowed here")
            for index, item in enumerate(value):
                self._check_value(item, items, f"{where}[{index}]")
            return
        candidates = self.spec.concrete(types)
        if not candidates:
            return  # Scalars: PTB types them correctly, only structure is checked.
        if isinstance(value, dict):
            self._check_object(value, candidates, where)
        elif isinstance(value, str) and "KeyboardButton" in candidates:
            if not value:
                raise _bad(f"{where}: keyboard button text is empty")
        elif not isinstance(value, str) or "String" not in types:
            raise _bad(f"{where}: can't parse {value!r} as {'/'.join(candidates)}")

    def _check_object(self, value: JsonDict, candidates: list[str], where: str) -> None:
        fitting = [c for c in candidates if _required(self.spec.types[c]) <= value.keys()]
        if not fitting:
            missing = sorted(_required(self.spec.types[candidates[0]]) - value.keys())
            raise _bad(f"{where}: {candidates[0]} is missing field(s) {missing}")
        exact = [c for c in fitting if value.keys() <= self.spec.types[c].keys()]
        if not exact:
            unknown = sorted(value.keys() - self.spec.types[fitting[0]].keys())
            raise _bad(f"{where}: unknown field(s) {unknown} in {fitting[0]}")
        type_name = exact[0]
        for key, item in value.items():
            self._check_value(item, self.spec.types[type_name][key].types, f"{where}.{key}")
        if type_name == "InlineKeyboardButton":
            _check_inline_button(value, where)
        elif type_name == "KeyboardButton" and not value.get("text"):
            raise _bad(f"{where}: keyboard button text is empty")
        elif type_name == "BotCommand":
            _check_bot_command(value, where)

    # --- method implementations -------------------------------------------------------------

    async def _execute(self, method: str, call: ApiCall) -> Any:
        if method == "getUpdates":
            return await self._get_updates(call.params)
        chat_id = call.params.get("chat_id")
        if chat_id is not None:
            # Every chat-addressed method needs a chat the fake knows; a blocked user refuses
            # everything but getChat.
            chat = self._chat(chat_id)
            if chat.blocked and method != "getChat":
                raise _refused(403, "Forbidden: bot was blocked by the user")
        handler = getattr(self, f"_m_{method}", None)
        if handler is not None:
            return handler(call.params, call)
        # Unmodelled senders (sendPhoto, sendMediaGroup…) still get Messages PTB can parse,
        # carrying only the text/caption; other methods just succeed.
        returns = self.spec.returns.get(method)
        if returns == ("Message",) and chat_id is not None:
            return self._bot_message(chat_id, self._content(call.params), call.params)
        if returns == ("Array of Message",) and chat_id is not None:
            media = call.params.get("media", [])
            return [self._bot_message(chat_id, self._content(item), {}) for item in media]
        return True

    def _m_getMe(self, params: JsonDict, call: ApiCall) -> JsonDict:
        return self.bot_user | {
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }

    def _m_sendMessage(self, params: JsonDict, call: ApiCall) -> JsonDict:
        return self._bot_message(params["chat_id"], self._content(params), params)

    def _m_sendDocument(self, params: JsonDict, call: ApiCall) -> JsonDict:
        upload = call.uploads.get("document")
        if upload is not None:
            suffix = PurePosixPath(upload.file_name).suffix
            stored = self._register_file("documents", suffix, upload.content)
            document = _document_obj(stored, upload.file_name, upload.mime_type)
        elif (known := self._files.get(str(params["document"]))) is not None:
            document = _document_obj(known, PurePosixPath(known.file_path).name, "")
        else:
            raise _bad("wrong file identifier/HTTP URL specified")
        return self._bot_message(
            params["chat_id"], {**self._content(params), "document": document}, params
        )

    def _m_sendLocation(self, params: JsonDict, call: ApiCall) -> JsonDict:
        location = {"latitude": params["latitude"], "longitude": params["longitude"]}
        return self._bot_message(params["chat_id"], {"location": location}, params)

    def _m_sendVenue(self, params: JsonDict, call: ApiCall) -> JsonDict:
        location = {"latitude": params["latitude"], "longitude": params["longitude"]}
        venue = {"location": location, "title": params["title"], "address": params["address"]}
        return self._bot_message(params["chat_id"], {"location": location, "venue": venue}, params)

    def _m_forwardMessage(self, params: JsonDict, call: ApiCall) -> JsonDict:
        source = self._message(params["from_chat_id"], params["message_id"], "to forward")
        content = {key: source[key] for key in _CONTENT_KEYS if key in source}
        origin = {"type": "user", "sender_user": source["from"], "date": source["date"]}
        return self._bot_message(params["chat_id"], {**content, "forward_origin": origin}, {})

    def _m_copyMessage(self, params: JsonDict, call: ApiCall) -> JsonDict:
        source = self._message(params["from_chat_id"], params["message_id"], "to copy")
        content = {key: source[key] for key in _CONTENT_KEYS if key in source}
        if "caption" in params and "text" not in content:
            content["caption"] = _plain_text(params["caption"], params.get("parse_mode"))
        copied = self._bot_message(params["chat_id"], content, params)
        return {"message_id": copied["message_id"]}

    def _m_deleteMessage(self, params: JsonDict, call: ApiCall) -> bool:
        chat = self._chat(params["chat_id"])
        message_id = int(params["message_id"])
        if message_id in chat.deleted:
            raise _refused(400, "Bad Request: message to delete not found")
        if chat.messages.pop(message_id, None) is None:
            raise _bad(f"message to delete not found: {message_id} never existed")
        chat.deleted.add(message_id)
        return True

    def _m_editMessageText(self, params: JsonDict, call: ApiCall) -> JsonDict | bool:
        if "inline_message_id" in params:
            return True  # Inline messages are not modelled.
        message = self._editable(params)
        if "text" not in message:
            raise _bad("there is no text in the message to edit")
        # Like the real server, an edit without reply_markup drops the inline keyboard.
        return self._apply_edit(
            message, _plain_text(params["text"], params.get("parse_mode")), params
        )

    def _m_editMessageReplyMarkup(self, params: JsonDict, call: ApiCall) -> JsonDict | bool:
        if "inline_message_id" in params:
            return True
        message = self._editable(params)
        return self._apply_edit(message, None, params)

    def _m_answerCallbackQuery(self, params: JsonDict, call: ApiCall) -> bool:
        query_id = str(params["callback_query_id"])
        if query_id not in self._callbacks_answered:
            raise _bad(f"query id {query_id!r} was never issued")
        if self._callbacks_answered[query_id]:
            # What Telegram answers when a redelivered update is answered again: a refusal the
            # bot must cope with, not a bug in the request.
            raise _refused(
                400,
                "Bad Request: query is too old and response timeout expired or query ID is invalid",
            )
        self._callbacks_answered[query_id] = True
        return True

    def _m_getFile(self, params: JsonDict, call: ApiCall) -> JsonDict:
        stored = self._files.get(str(params["file_id"]))
        if stored is None:
            raise _bad(f"wrong file_id {params['file_id']!r}")
        if stored.size > BOT_DOWNLOAD_LIMIT:
            # What Telegram answers; a bot that reads file_size first never asks.
            self.violations.append(f"getFile for a file of {stored.size} bytes (over 20 MB)")
            raise _refused(400, "Bad Request: file is too big")
        return {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": stored.size,
            "file_path": stored.file_path,
        }

    def _m_setMyCommands(self, params: JsonDict, call: ApiCall) -> bool:
        self.commands[_commands_key(params)] = list(params["commands"])
        return True

    def _m_deleteMyCommands(self, params: JsonDict, call: ApiCall) -> bool:
        self.commands.pop(_commands_key(params), None)
        return True

    def _m_getMyCommands(self, params: JsonDict, call: ApiCall) -> list[JsonDict]:
        return self.commands.get(_commands_key(params), [])

    def _m_setWebhook(self, params: JsonDict, call: ApiCall) -> bool:
        self.webhook_url = str(params["url"])
        return True

    def _m_deleteWebhook(self, params: JsonDict, call: ApiCall) -> bool:
        self.webhook_url = ""
        if params.get("drop_pending_updates"):
            self._queue.clear()
        return True

    def _m_getWebhookInfo(self, params: JsonDict, call: ApiCall) -> JsonDict:
        return {
            "url": self.webhook_url,
            "has_custom_certificate": False,
            "pending_update_count": len(self._queue),
        }

    def _m_getChat(self, params: JsonDict, call: ApiCall) -> JsonDict:
        chat = self._chat(params["chat_id"])
        gifts = dict.fromkeys(self.spec.types["AcceptedGiftTypes"], False)
        return chat.obj | {
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": gifts,
        }

    async def _get_updates(self, params: JsonDict) -> list[JsonDict]:
        if self.webhook_url:
            raise _refused(409, "Conflict: can't use getUpdates method while webhook is active")
        offset = int(params.get("offset", 0))
        if offset > 0:  # Asking from `offset` confirms (drops) every earlier update.
            self._queue = [u for u in self._queue if u["update_id"] >= offset]
        limit = int(params.get("limit", 100))
        deadline = asyncio.get_running_loop().time() + float(params.get("timeout", 0))
        while not self._queue:
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                return []
            self._queue_changed.clear()
            self._poller_waiting.set()
            try:
                await asyncio.wait_for(self._queue_changed.wait(), remaining)
            except TimeoutError:
                return []
            finally:
                self._poller_waiting.clear()
        returned = self._queue[:limit]
        self.highest_update_returned = max(
            self.highest_update_returned, *(update["update_id"] for update in returned)
        )
        return returned

    # --- state helpers ----------------------------------------------------------------------

    def _chat(self, chat_id: Any) -> _Chat:
        try:
            chat = self._chats[int(chat_id)]
        except (KeyError, ValueError, TypeError):
            raise _bad(f"chat not found: {chat_id!r}") from None
        return chat

    def _message(self, chat_id: Any, message_id: Any, purpose: str) -> JsonDict:
        chat = self._chat(chat_id)
        message = chat.messages.get(int(message_id))
        if message is None:
            if int(message_id) in chat.deleted:
                raise _refused(400, f"Bad Request: message {purpose} not found")
            raise _bad(f"message {purpose} not found: {message_id} never existed in {chat_id}")
        return message

    def _editable(self, params: JsonDict) -> JsonDict:
        message = self._message(params["chat_id"], params["message_id"], "to edit")
        if message["from"]["id"] != self.bot_user["id"]:
            raise _bad("message can't be edited: it was not sent by the bot")
        return message

    def _apply_edit(self, message: JsonDict, text: str | None, params: JsonDict) -> JsonDict:
        markup = params.get("reply_markup")
        new_markup = markup if markup and "inline_keyboard" in markup else None
        new_text = message.get("text") if text is None else text
        if new_text == message.get("text") and new_markup == message.get("reply_markup"):
            raise _refused(
                400,
                "Bad Request: message is not modified: specified new message content and "
                "reply markup are exactly the same as a current content and reply markup "
                "of the message",
            )
        if text is not None:
            message["text"] = text
        if new_markup is None:
            message.pop("reply_markup", None)
        else:
            message["reply_markup"] = new_markup
        message["edit_date"] = int(time.time())
        return copy.deepcopy(message)

    @staticmethod
    def _content(params: JsonDict) -> JsonDict:
        content: JsonDict = {}
        for key in ("text", "caption"):
            if key in params:
                content[key] = _plain_text(params[key], params.get("parse_mode"))
        return content

    def _bot_message(self, chat_id: Any, content: JsonDict, params: JsonDict) -> JsonDict:
        chat = self._chat(chat_id)
        markup = params.get("reply_markup")
        if isinstance(markup, dict):
            # Only inline keyboards are echoed in Message; reply keyboards are chat state.
            if "inline_keyboard" in markup:
                content = {**content, "reply_markup": markup}
            elif "keyboard" in markup:
                chat.reply_keyboard = markup
            elif "remove_keyboard" in markup:
                chat.reply_keyboard = None
        return copy.deepcopy(self._store(chat, self.bot_user, content))

    def _store(self, chat: _Chat, sender: JsonDict, content: JsonDict) -> JsonDict:
        message: JsonDict = {
            "message_id": chat.next_message_id,
            "from": sender,
            "chat": chat.obj,
            "date": int(time.time()),
            **content,
        }
        chat.next_message_id += 1
        chat.messages[message["message_id"]] = message
        return message

    def _current(self, message: JsonDict) -> JsonDict:
        """The stored state of ``message`` (callers may hold a stale copy)."""
        chat = self._chats.get(message["chat"]["id"])
        stored = chat.messages.get(message["message_id"]) if chat else None
        if stored is None:
            raise LookupError(f"message {message['message_id']} is not (or no longer) stored")
        return copy.deepcopy(stored)

    def _register_file(self, folder: str, suffix: str, content: bytes) -> _StoredFile:
        number = next(self._file_ids)
        stored = _StoredFile(
            file_id=f"FAKE-FILE-{number}",
            file_unique_id=f"fake-unique-{number}",
            file_path=f"{folder}/file_{number}{suffix}",
            content=content,
        )
        self._files[stored.file_id] = stored
        return stored

    def _incoming(self, chat_id: int, sender: JsonDict, content: JsonDict) -> JsonDict:
        message = self._store(self._chat(chat_id), sender, content)
        return {"update_id": self.next_update_id(), "message": copy.deepcopy(message)}

    def _command(self, chat_id: int, sender: JsonDict, text: str) -> JsonDict:
        if not text.startswith("/"):
            raise ValueError(f"commands start with '/', got {text!r}")
        command = text.split(maxsplit=1)[0]
        entity = {"type": "bot_command", "offset": 0, "length": _utf16_len(command)}
        return self._incoming(chat_id, sender, {"text": text, "entities": [entity]})

    def _edited(self, message: JsonDict, new_text: str) -> JsonDict:
        stored = self._message(message["chat"]["id"], message["message_id"], "to edit")
        if stored["from"]["id"] == self.bot_user["id"] or "text" not in stored:
            raise ValueError("only a user's own text message can be edited by the user")
        stored["text"] = new_text
        stored.pop("entities", None)
        stored["edit_date"] = int(time.time())
        return {"update_id": self.next_update_id(), "edited_message": copy.deepcopy(stored)}

    def _callback(self, sender: JsonDict, message: JsonDict | None, data: str) -> JsonDict:
        query_id = f"{sender['id']}:{next(self._callback_ids)}"
        self._callbacks_answered[query_id] = False
        query: JsonDict = {
            "id": query_id,
            "from": sender,
            "chat_instance": f"instance-{sender['id']}",
            "data": data,
        }
        if message is not None:
            query["message"] = message
        return {"update_id": self.next_update_id(), "callback_query": query}

    def _my_chat_member(self, user_id: int, *, old: str, new: str) -> JsonDict:
        chat = self._chat(user_id)
        new_member: JsonDict = {"status": new, "user": self.bot_user}
        if new == "kicked":
            new_member["until_date"] = 0
        change = {
            "chat": chat.obj,
            "from": {"id": user_id, "is_bot": False, "first_name": chat.obj["first_name"]},
            "date": int(time.time()),
            "old_chat_member": {"status": old, "user": self.bot_user}
            | ({"until_date": 0} if old == "kicked" else {}),
            "new_chat_member": new_member,
        }
        return {"update_id": self.next_update_id(), "my_chat_member": change}


def _error_response(
    error_code: int, description: str, retry_after: int | None = None
) -> httpx.Response:
    # The real server mirrors error_code in the HTTP status, and PTB dispatches on the status.
    payload: JsonDict = {"ok": False, "error_code": error_code, "description": description}
    if retry_after is not None:
        payload["parameters"] = {"retry_after": retry_after}
    return httpx.Response(error_code, json=payload)


def _required(fields: dict[str, _FieldSpec]) -> set[str]:
    return {name for name, spec in fields.items() if spec.required}


def _strings_in(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings_in(item)


def _check_text(raw: str, parse_mode: str | None, what: str, limit: int) -> None:
    # Telegram counts characters (code points) of the text as displayed, tags excluded.
    plain = _plain_text(raw, parse_mode)
    if not plain.strip() and what == "message text":  # an empty caption is merely absent
        raise _bad("message text is empty")
    if len(plain) > limit:
        raise _bad(
            f"{what} is too long: {len(plain)} characters after entities parsing, max {limit}"
        )


def _check_inline_button(button: JsonDict, where: str) -> None:
    if not button.get("text"):
        raise _bad(f"{where}: button text is empty")
    actions = sorted(button.keys() - _INLINE_BUTTON_DECOR)
    if len(actions) != 1:
        raise _bad(f"{where}: a button needs exactly one action field, got {actions}")
    if "callback_data" in button:
        size = len(str(button["callback_data"]).encode("utf-8"))
        if not 1 <= size <= CALLBACK_DATA_MAX_BYTES:
            raise _bad(f"BUTTON_DATA_INVALID: {where}.callback_data is {size} bytes, must be 1-64")


def _check_bot_command(command: JsonDict, where: str) -> None:
    if not _BOT_COMMAND_RE.fullmatch(str(command["command"])):
        raise _bad(f"BOT_COMMAND_INVALID: {where}.command {command['command']!r}")
    if not 1 <= len(str(command["description"])) <= 256:
        raise _bad(f"{where}.description must be 1-256 characters")


def _commands_key(params: JsonDict) -> tuple[str, str]:
    scope = params.get("scope") or {"type": "default"}
    return json.dumps(scope, sort_keys=True), str(params.get("language_code", ""))
