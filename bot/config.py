"""The meeting plan and the bot's settings: one TOML file, validated as a whole.

Secrets never live in the file: the bot token comes from ``TELEGRAM_BOT_TOKEN``. Loading reports
every problem at once, each with the key that is wrong, so an office fixes its file in one pass.
"""

from __future__ import annotations

import ipaddress
import itertools
import json
import os
import re
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from bot.delegate_file import MAX_CODE_CHARS, MAX_DATA_ROWS, MAX_ROWS_CEILING
from bot.domain.quotas import ChannelQuota
from bot.domain.timespec import TimeSpec, TimeSpecError, parse_clock, parse_local_datetime

CONFIG_ENV = "HOINGHI_CONFIG"
TOKEN_ENV = "TELEGRAM_BOT_TOKEN"  # noqa: S105 (a variable name, not a secret)
DEFAULT_CONFIG = Path("config.toml")
DEFAULT_DB_FILE = "hoinghi.db"
# The office ids config.example.toml ships with: a plan still carrying them has no real office.
EXAMPLE_ADMIN_IDS = frozenset({100000001, 100000002})
EXAMPLE_CHAT_ID = -1001000000001
# A meeting over more calendar days than this is likely an end date typed wrong: `check` says so.
MAX_PLAUSIBLE_DAYS = 3

# Stands in for a time that could not be read, so later checks do not report it twice.
_PLACEHOLDER = datetime(2000, 1, 1, tzinfo=UTC)
_SLUG = re.compile(r"^[a-z0-9][a-z0-9_]{0,39}$")
_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$")


def _time_spec(value: Any) -> TimeSpec:
    if isinstance(value, TimeSpec):
        return value
    if isinstance(value, date) and not isinstance(value, datetime):  # TOML's own date alone
        raise PydanticCustomError("time_date_alone", "no time: {value}", {"value": str(value)})
    if not isinstance(value, str):
        raise PydanticCustomError("time_unreadable", "not a time: {value}", {"value": repr(value)})
    try:
        return TimeSpec.parse(value)
    except TimeSpecError as exc:
        raise PydanticCustomError(exc.code, "bad time: {value}", {"value": value}) from None


def _clock(value: Any) -> time:
    if isinstance(value, time):
        return value
    try:
        return parse_clock(str(value))
    except TimeSpecError as exc:
        raise PydanticCustomError(exc.code, "bad clock: {value}", {"value": str(value)}) from None


PlanTime = Annotated[TimeSpec, BeforeValidator(_time_spec)]
Clock = Annotated[time, BeforeValidator(_clock)]
Text = Annotated[str, Field(min_length=1, max_length=500)]
# TOML writes numbers and true/false as themselves: a setting of the wrong kind (true for
# seconds, "30" in quotes for a count, 2.5 for a count) is reported, not guessed at. A whole
# number is still a decimal setting's value (latitude = 21).
Int = Annotated[int, Strict()]
_NUMBER = re.compile(r"[+-]?\d+(?:\.\d+)?")
Number = Annotated[float, Strict()]
Flag = Annotated[bool, Strict()]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)


class Venue(_Section):
    """Where the meeting is held."""

    name: Text
    address: Text
    latitude: Number = Field(ge=-90, le=90)
    longitude: Number = Field(ge=-180, le=180)

    @property
    def map_url(self) -> str:
        """A map link that opens in any phone's browser or maps app."""
        return f"https://maps.google.com/?q={self.latitude:.6f},{self.longitude:.6f}"


class Meeting(_Section):
    """The meeting itself; times are stored in UTC and shown in ``timezone``."""

    code: str
    plan_number: Text
    organizer: Text
    title: Text
    short_title: Text | None = None
    timezone: str
    starts_at: datetime
    ends_at: datetime
    capacity: Int = Field(gt=0, le=100_000)
    rsvp_deadline: PlanTime
    locale: Literal["vi", "en"] = "vi"
    venue: Venue

    @field_validator("code")
    @classmethod
    def _code_is_safe(cls, value: str) -> str:
        if not _CODE.fullmatch(value):
            raise PydanticCustomError("bad_code", "bad code: {value}", {"value": value})
        return value

    @field_validator("timezone")
    @classmethod
    def _zone_exists(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise PydanticCustomError(
                "bad_timezone", "unknown zone: {value}", {"value": value}
            ) from None
        return value

    @field_validator("starts_at", "ends_at", mode="before")
    @classmethod
    def _local_to_utc(cls, value: Any, info: ValidationInfo) -> Any:
        zone_name = info.data.get("timezone")
        if zone_name is None:  # the zone has its own error already
            return _PLACEHOLDER
        zone = ZoneInfo(zone_name)
        if info.field_name == "ends_at":
            spec = _time_spec(value)
            if spec.is_relative:
                start = info.data.get("starts_at")
                return _PLACEHOLDER if start is None else spec.resolve(start, zone)
        if isinstance(value, datetime):  # TOML's own local date-times
            local = value if value.tzinfo is not None else value.replace(tzinfo=zone)
            return local.astimezone(UTC)
        try:
            return parse_local_datetime(str(value), zone)
        except TimeSpecError as exc:  # a TOML date alone (2024-05-28) is refused here too
            raise PydanticCustomError(
                exc.code, "bad time: {value}", {"value": str(value)}
            ) from None

    @field_validator("ends_at")
    @classmethod
    def _ends_after_start(cls, value: datetime, info: ValidationInfo) -> datetime:
        start = info.data.get("starts_at")
        if start is not None and value != _PLACEHOLDER and value <= start:
            raise PydanticCustomError("ends_before_start", "the meeting ends before it starts")
        return value

    @field_validator("rsvp_deadline")
    @classmethod
    def _deadline_before_start(cls, value: TimeSpec, info: ValidationInfo) -> TimeSpec:
        start, zone = info.data.get("starts_at"), info.data.get("timezone")
        if start is None or zone is None or start == _PLACEHOLDER:
            return value  # the start has its own error
        if value.resolve(start, ZoneInfo(zone)) > start:
            raise PydanticCustomError("rsvp_after_start", "the deadline is after the start")
        return value

    @property
    def zone(self) -> ZoneInfo:
        """The meeting's IANA zone."""
        return ZoneInfo(self.timezone)

    @property
    def display_title(self) -> str:
        """The short title where one is given."""
        return self.short_title or self.title

    @property
    def rsvp_deadline_at(self) -> datetime:
        """The RSVP deadline as a UTC instant."""
        return self.resolve(self.rsvp_deadline)

    def resolve(self, spec: TimeSpec) -> datetime:
        """A plan time as a UTC instant for this meeting."""
        return spec.resolve(self.starts_at, self.zone)

    def local(self, instant: datetime) -> datetime:
        """A UTC instant in the meeting's local time."""
        return instant.astimezone(self.zone)

    @property
    def several_days(self) -> bool:
        """Whether the meeting ends on another day than it starts, in its local time."""
        return self.days > 1

    @property
    def days(self) -> int:
        """How many calendar days the meeting is held on, in its local time."""
        return len(self.dates)

    def day_date(self, day: int) -> date:
        """The local date of the meeting's ``day`` (1 = the first)."""
        return self.local(self.starts_at).date() + timedelta(days=day - 1)

    def on_meeting_day(self, instant: datetime) -> bool:
        """Whether ``instant`` falls on a day the meeting is held, in its local time."""
        day = self.local(instant).date()
        return self.local(self.starts_at).date() <= day <= self.local(self.ends_at).date()

    def day_begun(self, instant: datetime) -> bool:
        """Whether ``instant`` falls on the meeting's first day or later, in its local time (the
        days :meth:`on_meeting_day` counts, and every day after)."""
        return self.local(instant).date() >= self.local(self.starts_at).date()

    def ended(self, instant: datetime) -> bool:
        """Whether the meeting is over at ``instant`` (its end time passed)."""
        return instant >= self.ends_at

    @property
    def dates(self) -> list[date]:
        """The meeting's days, first to last, in its local time (one for a one-day meeting)."""
        first, last = self.local(self.starts_at).date(), self.local(self.ends_at).date()
        return [date.fromordinal(n) for n in range(first.toordinal(), last.toordinal() + 1)]

    def meeting_day(self, instant: datetime) -> date:
        """The meeting day a check-in made at ``instant`` belongs to: its local date, held to
        the meeting's days (a desk's trial the evening before is the first day's, a late entry
        after the last day the last day's). A one-day meeting has one: a check-in per meeting."""
        days = self.dates
        return min(max(self.local(instant).date(), days[0]), days[-1])

    def counting_day(self, instant: datetime) -> date | None:
        """The meeting day whose check-ins the hall's figures read at ``instant`` (today's on a
        meeting of several days, the last day's after it); None for a one-day meeting: every
        check-in, as there is one day."""
        return self.meeting_day(instant) if self.several_days else None

    def figures_day(self, instant: datetime) -> date | None:
        """The meeting day whose check-ins «who came» reads at ``instant``: the counting day
        (:meth:`counting_day`) while the meeting is held; None once it has ended — every day's
        check-ins, so that after a meeting of several days «came» means on at least one day
        and «chưa đến» on none (the hall's figures, the report, the notices' audiences)."""
        return None if self.ended(instant) else self.counting_day(instant)


class Office(_Section):
    """The office that runs the meeting."""

    name: Text
    contact: Text
    admin_ids: list[Int] = Field(default_factory=list)
    chat_id: Int | None = None

    @field_validator("admin_ids")
    @classmethod
    def _ids_are_users(cls, value: list[int]) -> list[int]:
        for user_id in value:
            if user_id <= 0:
                raise PydanticCustomError("bad_user_id", "bad user id: {value}", {"value": user_id})
        return value

    @field_validator("chat_id")
    @classmethod
    def _chat_is_group(cls, value: int | None) -> int | None:
        if value is not None and value >= 0:
            raise PydanticCustomError("bad_group_id", "bad group id: {value}", {"value": value})
        return value


# The HTTP clients the bot can reach the Telegram Bot API through ([telegram] http_client).
HttpClient = Literal["aiohttp", "httpx"]


class TelegramSettings(_Section):
    """Where the Bot API lives (a self-hosted server may replace the public one)."""

    api_base_url: str = "https://api.telegram.org/bot"
    file_base_url: str = "https://api.telegram.org/file/bot"
    # Updates handled at once (one chat's updates always in turn); 1 = strictly one at a time.
    concurrent_updates: Int = Field(default=32, ge=1, le=512)
    # Updates one chat may send within a minute; those over it are dropped without a reply (a
    # flood, not a person). 0 = no limit.
    chat_updates_per_minute: Int = Field(default=30, ge=0, le=10_000)
    # Bot API requests other than messages (toasts answering taps, the command menus) in flight
    # at once; more wait their turn. Messages are paced by the sending budget instead. Over a
    # round trip it bounds the taps answered a second (32 per round trip). At most half of
    # PTB's pool of 256 connections, which the messages and downloads share.
    concurrent_requests: Int = Field(default=32, ge=1, le=128)
    # The HTTP client the requests go through: aiohttp (0.3 ms of CPU a request, httpx 0.8), or
    # python-telegram-bot's own httpx, for a network where aiohttp does not work.
    http_client: HttpClient = "aiohttp"

    @field_validator("api_base_url", "file_base_url")
    @classmethod
    def _is_http_url(cls, value: str) -> str:
        if not re.match(r"^https?://[^\s/]+", value):
            raise PydanticCustomError("bad_url", "bad url: {value}", {"value": value})
        return value


# Zalo counts a bot's month in Vietnam time, whatever the meeting's own zone.
ZALO_QUOTA_ZONE = "Asia/Ho_Chi_Minh"
# The environment variable of an extra bot's token: upper-case letters, digits, underscores.
_ENV_NAME = re.compile(r"^[A-Z][A-Z0-9_]{0,63}$")
# The first bot's token variable (bot.app.ZALO); an extra bot must name another.
ZALO_TOKEN_ENV = "ZALO_BOT_TOKEN"  # noqa: S105 (a variable name, not a secret)
# At most this many bots for one meeting (9 × 50 people is well past any meeting's list).
MAX_ZALO_BOTS = 9


def _http_url_or_empty(value: str) -> str:
    """A bot's link as the config gives it: empty, or an http(s) address."""
    if value and not re.fullmatch(r"https?://[^\s/?#]+\S*", value):
        raise PydanticCustomError("bad_url", "bad url: {value}", {"value": value})
    return value


class ZaloBot(_Section):
    """One more Zalo bot for the same meeting (``[[zalo.bots]]``): the environment variable
    holding its token, and how people are told to find it. Its limits are the ``[zalo]``
    ones."""

    token_env: str
    bot_name: str = Field(default="", max_length=100)
    bot_link: str = ""

    @field_validator("token_env")
    @classmethod
    def _is_env_name(cls, value: str) -> str:
        if not _ENV_NAME.fullmatch(value):
            raise PydanticCustomError("bad_env_name", "bad variable: {value}", {"value": value})
        return value

    @field_validator("bot_link")
    @classmethod
    def _is_http_url_or_empty(cls, value: str) -> str:
        return _http_url_or_empty(value)


class ZaloSettings(_Section):
    """The Zalo bot (``[zalo]``; it runs when ``ZALO_BOT_TOKEN`` is set): where its Bot API
    lives, how fast it may send, whether updates come by webhook, and how people are told to
    find it (its name in Zalo's search and its link: the page shows "Mở Zalo, tìm …, gửi mã …"
    only with a link)."""

    bot_name: str = Field(default="", max_length=100)
    bot_link: str = ""
    api_base_url: str = "https://bot-api.zaloplatforms.com"
    # Zalo publishes no rate limit for bots. 5 a second is a sixth of what Telegram allows: a
    # notice to 300 delegates takes a minute, and the free plan's reported 3,000 messages a
    # month run out long before speed matters. Raise it only once the platform is known to
    # take more; a 429 pauses the channel whatever this says.
    messages_per_second: Number = Field(default=5.0, gt=0, le=100)
    # True: Zalo POSTs updates to the web server ([web] required, the secret in
    # ZALO_WEBHOOK_SECRET); False: long polling (getUpdates), which needs no public address.
    webhook: Flag = False
    # A free bot's reported allowance (unverified: shared/reference, competitors.md (c)): the
    # office is warned once past ``warn_at`` of either, and again at the limit.
    monthly_messages: Int = Field(default=3000, ge=1, le=10_000_000)
    linked_people: Int = Field(default=50, ge=1, le=1_000_000)
    warn_at: Number = Field(default=0.8, gt=0, lt=1)
    # More bots for the same meeting (each its own token variable): channels zalo2, zalo3…
    bots: list[ZaloBot] = Field(default_factory=list, max_length=MAX_ZALO_BOTS - 1)

    @field_validator("bots")
    @classmethod
    def _distinct_tokens(cls, bots: list[ZaloBot]) -> list[ZaloBot]:
        seen = {ZALO_TOKEN_ENV}
        for bot in bots:
            if bot.token_env in seen:
                raise PydanticCustomError(
                    "duplicate_key", "{value} appears twice", {"value": bot.token_env}
                )
            seen.add(bot.token_env)
        return bots

    def channels(self) -> list[str]:
        """Each bot's channel name, the first bot's ``zalo`` first, then ``zalo2``, ``zalo3``…
        (no colon: a place is ``channel:address``)."""
        return ["zalo", *(f"zalo{number}" for number in range(2, len(self.bots) + 2))]

    def channel(self, number: int) -> str:
        """The channel bot ``number`` runs as (0: ``[zalo]``'s, ``zalo``; 1: ``zalo2``…)."""
        channels = self.channels()
        return channels[number] if 0 <= number < len(channels) else ""

    def finding(self, number: int) -> tuple[str, str]:
        """How people find bot ``number`` (0 for ``[zalo]``'s, 1 for the first of
        ``[[zalo.bots]]``…): its name and its link."""
        if number == 0:
            return self.bot_name, self.bot_link
        bot = self.bots[number - 1]
        return bot.bot_name, bot.bot_link

    def quotas(self) -> list[ChannelQuota]:
        """Each bot's limits, in the order of :meth:`channels`."""
        return [
            ChannelQuota(
                channel=channel,
                label="Zalo" if number == 1 else f"Zalo {number}",
                monthly_messages=self.monthly_messages,
                linked_people=self.linked_people,
                warn_at=self.warn_at,
                zone=ZALO_QUOTA_ZONE,
            )
            for number, channel in enumerate(self.channels(), start=1)
        ]

    @field_validator("api_base_url")
    @classmethod
    def _is_http_url(cls, value: str) -> str:
        if not re.match(r"^https?://[^\s/]+", value):
            raise PydanticCustomError("bad_url", "bad url: {value}", {"value": value})
        return value.rstrip("/")

    @field_validator("bot_link")
    @classmethod
    def _is_http_url_or_empty(cls, value: str) -> str:
        return _http_url_or_empty(value)


class WebSettings(_Section):
    """The web server: what people open (``base_url``, behind the office's reverse proxy) and
    where the process listens. Personal pages, and Telegram's webhook when it is used."""

    base_url: str
    listen: str = "127.0.0.1"
    port: Int = Field(default=8080, ge=1, le=65535)
    # How long an office staff member stays signed in to the dashboard: a working day.
    office_session_hours: Int = Field(default=10, ge=1, le=168)
    # Prometheus metrics on /metrics: off unless asked for, and then answered only to clients
    # in ``metrics_from`` (addresses or networks) that came straight to the server, not
    # through the reverse proxy: the world reaches /metrics only through the proxy.
    metrics: Flag = False
    metrics_from: list[str] = Field(default_factory=lambda: ["127.0.0.1", "::1"])

    @field_validator("metrics_from")
    @classmethod
    def _are_networks(cls, value: list[str]) -> list[str]:
        for network in value:
            try:
                ipaddress.ip_network(network, strict=False)
            except ValueError:
                raise PydanticCustomError(
                    "bad_network", "bad network: {value}", {"value": network}
                ) from None
        return value

    def may_scrape(self, address: str) -> bool:
        """Whether a client at ``address`` may read /metrics."""
        try:
            client = ipaddress.ip_address(address)
        except ValueError:
            return False
        return self.metrics and any(
            client in ipaddress.ip_network(network, strict=False) for network in self.metrics_from
        )

    @field_validator("base_url")
    @classmethod
    def _is_site_url(cls, value: str) -> str:
        if not re.fullmatch(r"https?://[^\s/?#]+(/[^\s?#]*)?", value):
            raise PydanticCustomError("bad_url", "bad url: {value}", {"value": value})
        return value.rstrip("/")

    @field_validator("listen")
    @classmethod
    def _is_host(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9.:\[\]-]{1,253}", value):
            raise PydanticCustomError("bad_host", "bad host: {value}", {"value": value})
        return value

    def link(self, token: str) -> str:
        """The personal page of ``token``."""
        return f"{self.base_url}/{token}"

    @property
    def secure(self) -> bool:
        """Served over HTTPS (behind the office's reverse proxy): cookies are then Secure."""
        return self.base_url.startswith("https://")

    def office_url(self, path: str = "") -> str:
        """An address of the office's dashboard."""
        return f"{self.base_url}/office/{path}"

    def calendar_url(self, token: str) -> str:
        """The meeting's .ics as a download from ``token``'s page (the file a chat channel that
        carries no files links to instead)."""
        return f"{self.base_url}/{token}/lich.ics"

    @staticmethod
    def document_path(token: str, document_id: int) -> str:
        """Where a published document downloads under ``token``'s page, from the site's root
        (the page's own link to it)."""
        return f"/{token}/tai-lieu/{document_id}"

    def document_url(self, token: str, document_id: int) -> str:
        """A published document as a download from ``token``'s page (/tailieu's links)."""
        return f"{self.base_url}{self.document_path(token, document_id)}"


class LoggingSettings(_Section):
    """How the process writes its log (``[logging]``): ``text`` lines for a person, or
    ``json`` lines for a log collector."""

    format: Literal["text", "json"] = "text"


class ImportSettings(_Section):
    """Reading the office's delegate list (``[import]``)."""

    # Rows with content under the heading row; a longer file is refused at the first row over.
    max_rows: Int = Field(default=MAX_DATA_ROWS, ge=1, le=MAX_ROWS_CEILING)


class DatabaseSettings(_Section):
    """The database URL; empty means an SQLite file next to the config."""

    url: str | None = None


class Reminders(_Section):
    """Automatic messages. Chasing offsets count from the RSVP deadline; the others from the
    meeting start. An empty list or ``""`` turns a kind off."""

    rsvp_chase: list[PlanTime] = Field(
        default_factory=lambda: [TimeSpec.parse("-3d@08:00"), TimeSpec.parse("-1d@08:00")]
    )
    day_before: PlanTime | None = Field(default_factory=lambda: TimeSpec.parse("-1d@16:00"))
    meeting_morning: PlanTime | None = Field(default_factory=lambda: TimeSpec.parse("0d@06:30"))
    # Overdue preparation tasks are reported to the office chat every morning at this time.
    task_escalation: Clock | None = Field(default_factory=lambda: time(8, 0))

    @field_validator("day_before", "meeting_morning", "task_escalation", mode="before")
    @classmethod
    def _empty_is_off(cls, value: Any) -> Any:
        return None if value == "" else value


class OutboxSettings(_Section):
    """How fast and how stubbornly bulk messages are sent."""

    rate_per_second: Number = Field(default=30.0, gt=0, le=1000)
    batch_size: Int = Field(default=30, ge=1, le=1000)
    max_attempts: Int = Field(default=10, ge=1, le=50)
    tick_seconds: Number = Field(default=2.0, gt=0, le=3600)
    # PostgreSQL, several processes: how long a claimed delivery stays another's without renewal
    # (renewed every third of it); a killed process's batch waits this long to be taken back.
    lease_seconds: Number = Field(default=30.0, ge=1, le=3600)


class CheckinSettings(_Section):
    """The reception desk on the meeting day (``[checkin]``)."""

    # How long after a check-in the desk that made it (or the office, at any time within it)
    # may undo it: a mistaken tap is noticed at once, a later correction is the office's.
    undo_minutes: Int = Field(default=5, ge=1, le=60)


class AgendaItem(_Section):
    """One item of the programme (section III), in local wall-clock time."""

    start: Clock
    end: Clock
    title: Text
    presenter: Text | None = None
    # The meeting's day the item is on (1 = the first), for a meeting of several days: written
    # on the first item of each day, the items below it are on that day too.
    day: Int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _ends_after_start(self) -> AgendaItem:
        if self.end <= self.start:
            raise PydanticCustomError("ends_before_start", "the item ends before it starts")
        return self


def _person_code(value: str) -> str:
    """A code as the delegate list allows one (no space; at most 32 characters): «DB 031» in
    the plan would name no one the list can hold."""
    if len(value) > MAX_CODE_CHARS or re.search(r"\s", value) or not value.isprintable():
        raise PydanticCustomError("bad_person_code", "bad person code: {value}", {"value": value})
    return value


PersonCode = Annotated[str, Field(min_length=1), AfterValidator(_person_code)]


class Theme(_Section):
    """A discussion theme for speeches (section IV) and who is asked to speak on it."""

    key: Annotated[str, Field(min_length=1, max_length=16)]
    title: Text
    # Codes of people from the imported list; the office may add more with /phancong.
    speakers: list[PersonCode] = Field(default_factory=list)
    # When this theme's drafts are due, if not at [drafts] deadline (counted from the start).
    deadline: PlanTime | None = None


def _default_draft_reminders() -> list[TimeSpec]:
    return [TimeSpec.parse(text) for text in ("-3d@08:00", "-1d@08:00", "0d@08:00")]


class DraftSettings(_Section):
    """Speech drafts (tham luận): where uploads are kept, when they are due, when to remind."""

    # Relative to the config file's folder; files are stored by content hash, never by a name
    # a user chose.
    directory: Annotated[str, Field(min_length=1, max_length=500)] = "tham-luan"
    # Counted from the meeting start.
    deadline: PlanTime = Field(default_factory=lambda: TimeSpec.parse("-7d@17:00"))
    # Counted from the draft deadline; speakers who have sent nothing yet are reminded.
    reminders: list[PlanTime] = Field(default_factory=_default_draft_reminders)


class Group(_Section):
    """An invitee group (section II.3) with its place in protocol order."""

    key: str
    label: Text
    order: Int = Field(ge=0)
    # Where the group sits in the hall ("Khu A, hàng 1–2"), shown at the reception desk.
    area: Annotated[str, Field(min_length=1, max_length=100)] | None = None

    @field_validator("key")
    @classmethod
    def _key_is_slug(cls, value: str) -> str:
        if not _SLUG.fullmatch(value):
            raise PydanticCustomError("bad_key", "bad key: {value}", {"value": value})
        return value


def _default_task_reminders() -> list[TimeSpec]:
    return [TimeSpec.parse(text) for text in ("-7d@08:00", "-3d@08:00", "-1d@08:00", "0d@08:00")]


class Task(_Section):
    """A preparation task of section VI, the people who answer for it, and its reminders."""

    key: Annotated[str, Field(min_length=1, max_length=16)]
    title: Text
    description: Annotated[str, Field(max_length=2000)] = ""
    owner: Text
    deliverable: Text | None = None
    deadline: PlanTime
    # Counted from the task's deadline, not the meeting.
    reminders: list[PlanTime] = Field(default_factory=_default_task_reminders)
    # Codes of people from the imported list, or "group:<key>" for every delegate of a group.
    contacts: list[Annotated[str, Field(min_length=1, max_length=48)]] = Field(default_factory=list)

    @field_validator("contacts")
    @classmethod
    def _group_contacts_name_a_key(cls, value: list[str]) -> list[str]:
        for contact in value:
            kind, _, key = contact.partition(":")
            if kind == "group" and not _SLUG.fullmatch(key):
                raise PydanticCustomError("bad_key", "bad key: {value}", {"value": contact})
            if kind != "group":
                _person_code(contact)
        return value


def _due_before_start(spec: TimeSpec, info: ValidationInfo) -> None:
    meeting = info.data.get("meeting")
    if meeting is None or meeting.starts_at == _PLACEHOLDER:
        return  # the meeting has its own error
    if meeting.resolve(spec) > meeting.starts_at:
        raise PydanticCustomError("drafts_after_start", "drafts are due after the start")


def _unique(items: Sequence[Any], attribute: str) -> None:
    seen: set[Any] = set()
    for item in items:
        value = getattr(item, attribute)
        if value in seen:
            raise PydanticCustomError(
                "duplicate_key", "{value} appears twice", {"value": str(value)}
            )
        seen.add(value)


class Config(_Section):
    """The whole file."""

    meeting: Meeting
    office: Office
    telegram: TelegramSettings = TelegramSettings()
    zalo: ZaloSettings = ZaloSettings()
    database: DatabaseSettings = DatabaseSettings()
    web: WebSettings | None = None
    reminders: Reminders = Field(default_factory=Reminders)
    outbox: OutboxSettings = OutboxSettings()
    checkin: CheckinSettings = Field(default_factory=CheckinSettings)
    logging: LoggingSettings = Field(default_factory=LoggingSettings)
    # "import" is a Python keyword: the attribute is ``imports``, the TOML table ``[import]``.
    imports: ImportSettings = Field(default_factory=ImportSettings, alias="import")
    agenda: list[AgendaItem] = Field(min_length=1)
    themes: list[Theme] = Field(default_factory=list)
    drafts: DraftSettings = Field(default_factory=DraftSettings)
    groups: list[Group] = Field(min_length=1)
    tasks: list[Task] = Field(default_factory=list)

    def quotas(self) -> list[ChannelQuota]:
        """Every chat bot's monthly allowance, for the core to count and warn about."""
        return self.zalo.quotas()

    @field_validator("themes", "groups", "tasks")
    @classmethod
    def _keys_are_unique(cls, value: list[Any]) -> list[Any]:
        _unique(value, "key")
        return value

    @model_validator(mode="after")
    def _task_groups_exist(self) -> Config:
        keys = {group.key for group in self.groups}
        for task in self.tasks:
            for contact in task.contacts:
                kind, _, key = contact.partition(":")
                if kind == "group" and key not in keys:
                    raise PydanticCustomError(
                        "unknown_group", "unknown group: {value}", {"value": contact}
                    )
        return self

    @field_validator("drafts")
    @classmethod
    def _drafts_due_before_start(cls, value: DraftSettings, info: ValidationInfo) -> DraftSettings:
        _due_before_start(value.deadline, info)
        return value

    @field_validator("themes")
    @classmethod
    def _theme_drafts_due_before_start(
        cls, value: list[Theme], info: ValidationInfo
    ) -> list[Theme]:
        for theme in value:
            if theme.deadline is not None:
                _due_before_start(theme.deadline, info)
        return value

    @field_validator("agenda")
    @classmethod
    def _agenda_days_in_the_meeting(
        cls, value: list[AgendaItem], info: ValidationInfo
    ) -> list[AgendaItem]:
        meeting = info.data.get("meeting")
        days = None if meeting is None else meeting.days
        last = 1
        for number, item in enumerate(value, start=1):
            if item.day is None:
                continue
            params = {"number": number, "day": item.day, "days": days or 0, "before": last}
            if days is not None and item.day > days:
                raise PydanticCustomError("agenda_day_after_end", "day after the end", params)
            if item.day < last:
                raise PydanticCustomError("agenda_day_back", "day before the one above", params)
            last = item.day
        return value

    def agenda_days(self) -> list[tuple[int, list[AgendaItem]]]:
        """The programme by the meeting's day (1 = the first), each day's items as written: an
        item's ``day``, else the day of the item above it (the first items: day 1)."""
        days: list[tuple[int, list[AgendaItem]]] = []
        for item in self.agenda:
            day = item.day or (days[-1][0] if days else 1)
            if not days or days[-1][0] != day:
                days.append((day, []))
            days[-1][1].append(item)
        return days

    def agenda_by_day(self) -> bool:
        """Whether the programme says its days: a meeting of several days whose agenda puts
        items on more than one day, or on another day than the first (headings then, and a
        programme each morning that has items)."""
        days = self.agenda_days()
        return self.meeting.several_days and (len(days) > 1 or days[0][0] != 1)

    def day_hours(self, day: int) -> tuple[datetime, datetime]:
        """When the meeting's ``day`` (1 = the first) is held, in its local time: from the
        first item of that day's programme to the end of its last when the programme says its
        days, else the meeting's hours (its start's time to its end's) that day."""
        meeting = self.meeting
        opens, closes = (
            meeting.local(meeting.starts_at).time(),
            meeting.local(meeting.ends_at).time(),
        )
        if self.agenda_by_day():
            items = dict(self.agenda_days()).get(day)
            if items:
                opens, closes = items[0].start, max(item.end for item in items)
        on = meeting.day_date(day)
        return (
            datetime.combine(on, opens, tzinfo=meeting.zone),
            datetime.combine(on, closes, tzinfo=meeting.zone),
        )

    def day_closed(self, instant: datetime) -> datetime | None:
        """At a meeting of several days, when today's session closed (its local time) if it has
        and the meeting goes on another day — the evening of day one of two: the hall's figures
        are that day's result, not a hall still filling; None otherwise."""
        meeting = self.meeting
        today = meeting.local(instant).date()
        if not meeting.several_days or today not in meeting.dates[:-1]:
            return None
        _, closes = self.day_hours(meeting.dates.index(today) + 1)
        return closes if instant >= closes else None

    def draft_deadline(self, theme_key: str) -> datetime:
        """When drafts on a theme are due: the theme's own deadline, else [drafts] deadline."""
        theme = next((t for t in self.themes if t.key == theme_key), None)
        spec = theme.deadline if theme is not None and theme.deadline else self.drafts.deadline
        return self.meeting.resolve(spec)

    @field_validator("groups")
    @classmethod
    def _orders_are_unique(cls, value: list[Group]) -> list[Group]:
        _unique(value, "order")
        return value

    @property
    def groups_in_order(self) -> list[Group]:
        """Invitee groups in protocol order."""
        return sorted(self.groups, key=lambda group: group.order)

    def group(self, key: str) -> Group | None:
        """The group with this key, if any."""
        return next((group for group in self.groups if group.key == key), None)


@dataclass(frozen=True)
class ConfigProblem:
    """One thing wrong with the config file: where, and a catalog code with parameters."""

    key: str
    code: str
    params: dict[str, Any] = field(default_factory=dict)


class ConfigError(Exception):
    """The config file cannot be used; ``problems`` lists everything that is wrong."""

    def __init__(self, path: Path, problems: list[ConfigProblem]) -> None:
        super().__init__(f"{path}: {len(problems)} problem(s)")
        self.path = path
        self.problems = problems


@dataclass(frozen=True)
class LoadedConfig:
    """A validated config and the file it came from."""

    path: Path
    config: Config

    @property
    def database_url(self) -> str:
        """The configured URL, or an SQLite file next to the config."""
        if self.config.database.url:
            return self.config.database.url
        return f"sqlite+aiosqlite:///{(self.path.parent / DEFAULT_DB_FILE).resolve()}"

    @property
    def drafts_dir(self) -> Path:
        """Where uploaded speech drafts are stored (relative paths count from the config)."""
        return (self.path.parent / self.config.drafts.directory).resolve()


def plan_warnings(config: Config, now: datetime) -> list[ConfigProblem]:
    """What a valid plan says that its office probably did not mean: a meeting already over,
    a deadline already past, a meeting of many days, the example's placeholder ids."""
    warnings = []
    meeting = config.meeting
    if meeting.ended(now):
        warnings.append(
            ConfigProblem("meeting.starts_at", "meeting_past", {"start": meeting.starts_at})
        )
    elif meeting.starts_at > now:  # once it is under way, every deadline is past anyway
        warnings += _deadlines_past(config, now)
    if meeting.days > MAX_PLAUSIBLE_DAYS:  # an end typed a week or a month off
        params = {"start": meeting.starts_at, "end": meeting.ends_at, "days": meeting.days}
        warnings.append(ConfigProblem("meeting.ends_at", "meeting_long", params))
    warnings += _agenda_outside_hours(config)
    warnings += _agenda_out_of_order(config)
    warnings += _agenda_first_day_empty(config)
    warnings += _tasks_without_contacts(config)
    if config.web is not None and base_url_is_local(config.web.base_url):
        warnings.append(
            ConfigProblem("web.base_url", "base_url_local", {"url": config.web.base_url})
        )
    placeholders = [i for i in config.office.admin_ids if i in EXAMPLE_ADMIN_IDS]
    if placeholders:
        ids = ", ".join(str(i) for i in placeholders)
        warnings.append(ConfigProblem("office.admin_ids", "example_admin_ids", {"ids": ids}))
    if config.office.chat_id == EXAMPLE_CHAT_ID:
        warnings.append(
            ConfigProblem("office.chat_id", "example_chat_id", {"chat": EXAMPLE_CHAT_ID})
        )
    warnings += _reminders_never_sent(config)
    return warnings


def _agenda_outside_hours(config: Config) -> list[ConfigProblem]:
    """The programme's items that lie outside a one-day meeting's hours: the agenda is written
    in wall-clock times apart from ``starts_at``, so a meeting moved to the afternoon keeps its
    morning programme on every page, in the morning pack and in the calendar file unless said.
    An item may end as the meeting opens (the reception) or start as it closes; a meeting of
    several days is not judged (the items do not say which day they are on)."""
    meeting = config.meeting
    starts, ends = meeting.local(meeting.starts_at), meeting.local(meeting.ends_at)
    if starts.date() != ends.date():
        return []
    opens, closes = starts.time(), ends.time()
    outside = [item for item in config.agenda if item.end < opens or item.start > closes]
    if not outside:
        return []
    params = {
        "count": len(outside),
        "items": ", ".join(f"{item.start:%H:%M}–{item.end:%H:%M}" for item in outside),
        "hours": f"{opens:%H:%M}–{closes:%H:%M}",
    }
    return [ConfigProblem("agenda", "agenda_outside_hours", params)]


def _agenda_first_day_empty(config: Config) -> list[ConfigProblem]:
    """A programme whose first item is on a later day than the meeting's first: that morning
    has no programme to send (none is sent), which an office that meant the meeting to begin
    on that later day should hear before the first morning."""
    days = config.agenda_days()
    if not config.meeting.several_days or not days or days[0][0] == 1:
        return []
    return [ConfigProblem("agenda", "agenda_first_day_empty", {"day": days[0][0]})]


def _agenda_out_of_order(config: Config) -> list[ConfigProblem]:
    """Each programme item that starts before the item written above it: the pages, the
    morning pack and the calendar show the items in the order written, so «16:30 Kết luận»
    typed above «15:00 Thảo luận» reads so everywhere. Not sorted silently: the hour may be
    the mistake (15:30 typed 16:30). A meeting of several days is judged day by day when its
    items say their days (``day``), not at all otherwise: its second day's morning comes after
    the first day's afternoon."""
    if config.meeting.several_days and not config.agenda_by_day():
        return []
    days = [day for day, items in config.agenda_days() for _ in items]
    return [
        ConfigProblem(
            # Named by its title too: an office does not count [[agenda]] blocks.
            f"agenda[{number}] ({_shortened(item.title)})",
            "agenda_out_of_order",
            {"start": f"{item.start:%H:%M}", "before": f"{above.start:%H:%M}"},
        )
        for number, (above, item) in enumerate(itertools.pairwise(config.agenda), start=2)
        if item.start < above.start and days[number - 1] == days[number - 2]
    ]


def _shortened(text: str, limit: int = 40) -> str:
    """``text`` on one line, cut to ``limit`` characters with «…»: a title named in a key."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _tasks_without_contacts(config: Config) -> list[ConfigProblem]:
    """Each preparation task that names no contact: nobody is reminded of it nor reports on it,
    and nobody is told when it is overdue but the office."""
    return [
        ConfigProblem(f"tasks[{number}] ({task.key}).contacts", "task_without_contacts", {})
        for number, task in enumerate(config.tasks, start=1)
        if not task.contacts
    ]


def base_url_is_local(url: str) -> bool:
    """Whether the personal pages' address opens only on the server itself (127.0.0.1,
    localhost, 0.0.0.0): every link and QR code handed out with it opens nowhere else."""
    host = (urlsplit(url).hostname or "").rstrip(".").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_unspecified


# How long before the meeting a task's deadline may be and still be meant (issue of s36's
# review: a past deadline within it is the preparation going as planned, not a typo).
TASK_DEADLINE_FAR = timedelta(days=60)


def _deadlines_past(config: Config, now: datetime) -> list[ConfigProblem]:
    """Deadlines of a meeting still to come that are already past: the RSVP deadline (the
    personal pages then offer no answers), the speech drafts', and a task's more than
    :data:`TASK_DEADLINE_FAR` before the meeting (no reminder goes: a date typed a year off is
    otherwise first heard of in the next morning's overdue report)."""
    meeting = config.meeting
    warnings = []
    if meeting.rsvp_deadline_at <= now:
        params = {"deadline": meeting.rsvp_deadline_at}
        warnings.append(ConfigProblem("meeting.rsvp_deadline", "rsvp_deadline_past", params))
    for key, spec in _draft_deadlines(config).items():
        if (deadline := meeting.resolve(spec)) <= now:
            warnings.append(ConfigProblem(key, "drafts_deadline_past", {"deadline": deadline}))
    for number, task in enumerate(config.tasks, start=1):
        deadline = meeting.resolve(task.deadline)
        # A task due some weeks before the meeting is past in the normal course of preparation:
        # only one far earlier (a year or a month typed wrong) is warned, or every `check`
        # names every task done and the warnings that matter drown.
        if deadline <= now and deadline < meeting.starts_at - TASK_DEADLINE_FAR:
            key = f"tasks[{number}] ({task.key}).deadline"
            warnings.append(ConfigProblem(key, "task_deadline_past", {"deadline": deadline}))
    return warnings


def _draft_deadlines(config: Config) -> dict[str, TimeSpec]:
    """The drafts' deadlines where each is written: a theme's own, else [drafts] for the themes
    without (none without themes: the drafts' deadline is never used)."""
    written: dict[str, TimeSpec] = {}
    for number, theme in enumerate(config.themes, start=1):
        if theme.deadline is not None:
            written[f"themes[{number}] ({theme.key}).deadline"] = theme.deadline
        else:
            written.setdefault("drafts.deadline", config.drafts.deadline)
    return written


def fixed_deadlines(config: Config) -> list[ConfigProblem]:
    """The plan's deadlines written as dates, which stay where they are when the meeting moves:
    each one said, and one now after the start said as such (the RSVP's and the drafts' cannot
    be: the plan is refused)."""
    meeting = config.meeting
    written = {"meeting.rsvp_deadline": meeting.rsvp_deadline, **_draft_deadlines(config)}
    for number, task in enumerate(config.tasks, start=1):
        written[f"tasks[{number}] ({task.key}).deadline"] = task.deadline
    problems = []
    for key, spec in written.items():
        if spec.is_relative:
            continue
        deadline = meeting.resolve(spec)
        code = "deadline_after_start" if deadline > meeting.starts_at else "deadline_fixed"
        params = {"deadline": deadline, "start": meeting.starts_at}
        problems.append(ConfigProblem(key, code, params))
    return problems


# Where each kind of planned reminder is set in the plan, for a warning about it.
_REMINDER_KEYS = {
    "rsvp_reminder": "reminders.rsvp_chase",
    "day_before": "reminders.day_before",
    "morning_agenda": "reminders.meeting_morning",
    "draft_reminder": "drafts.reminders",
}


def _reminders_never_sent(config: Config) -> list[ConfigProblem]:
    """Reminders planned for after the moment they stop making sense (a chase after the RSVP
    deadline, a draft reminder after the draft's deadline): the outbox would skip them."""
    from bot.domain.reminders import planned_messages  # the plan's messages, from a valid plan

    # A task's reminders are written on the task: named by its number and key, as its deadline.
    tasks = {
        f"task:{task.key}": f"tasks[{number}] ({task.key}).reminders"
        for number, task in enumerate(config.tasks, start=1)
    }
    return [
        ConfigProblem(
            tasks.get(message.audience) or _REMINDER_KEYS.get(message.kind, "reminders"),
            "reminder_after_window",
            {"when": message.due_at, "until": message.expires_at},
        )
        for message in planned_messages(config)
        # Due at its deadline is past it by the time a tick looks: skipped too.
        if message.due_at >= message.expires_at
    ]


def config_path(explicit: str | Path | None, environ: dict[str, str] | None = None) -> Path:
    """``--config``, else ``$HOINGHI_CONFIG``, else ``./config.toml``."""
    env = os.environ if environ is None else environ
    if explicit:
        return Path(explicit)
    if env.get(CONFIG_ENV):
        return Path(env[CONFIG_ENV])
    return DEFAULT_CONFIG


def load_config(path: Path) -> LoadedConfig:
    """Read and validate ``path`` or raise ConfigError with every problem found."""
    if path.is_dir():  # Windows says «permission denied» of a folder opened as a file
        raise ConfigError(path, [ConfigProblem("", "is_a_folder", {"path": str(path)})])
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(
            path, [ConfigProblem("", "file_not_found", {"path": str(path)})]
        ) from None
    except OSError as exc:
        problem = ConfigProblem("", "file_unreadable", {"path": str(path), "reason": exc.strerror})
        raise ConfigError(path, [problem]) from None
    try:
        # Notepad's «UTF-8 with BOM» puts U+FEFF first, which TOML does not allow.
        text = raw.decode("utf-8").removeprefix("\ufeff")
        data = tomllib.loads(text)
    except UnicodeDecodeError:
        raise ConfigError(path, [ConfigProblem("", "not_utf8", {"path": str(path)})]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(path, [_syntax_problem(text, str(exc))]) from None
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(path, [_problem(error, data) for error in exc.errors()]) from None
    return LoadedConfig(path=path, config=config)


def _syntax_problem(text: str, detail: str) -> ConfigProblem:
    """A TOML syntax error where it is: its line number and that line as written, which say
    more to an office than tomllib's English (kept in ``detail`` for the technician)."""
    where = re.search(r"at line (\d+), column (\d+)", detail)
    if where is None:
        return ConfigProblem("", "toml_syntax", {"detail": detail})
    number = int(where.group(1))
    lines = text.split("\n")  # TOML's lines: splitlines() would also break at \x0c, \u2028…
    written = lines[number - 1].strip() if 0 < number <= len(lines) else ""
    return ConfigProblem(
        "",
        "toml_syntax_at",
        {"detail": detail, "line": number, "column": int(where.group(2)), "text": written[:120]},
    )


def _param(value: object) -> str | int:
    """A pydantic error's detail as the message shows it: a bound of a decimal setting (90.0,
    0.5) as a number one writes, anything else as text."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else f"{value:g}"
    return str(value)


def _problem(error: Any, data: dict[str, Any]) -> ConfigProblem:
    """Turn one pydantic error into a problem keyed like the TOML file (1-based tables)."""
    parts: list[str] = []
    node: Any = data
    for loc in error["loc"]:
        if isinstance(loc, int):
            parts[-1] = f"{parts[-1]}[{loc + 1}]"
            node = node[loc] if isinstance(node, list) and loc < len(node) else None
            if isinstance(node, dict) and isinstance(node.get("key"), str):
                parts[-1] += f" ({node['key']})"
            continue
        if not isinstance(loc, str) or loc.startswith(("function-", "function_")):
            continue
        parts.append(loc)
        node = node.get(loc) if isinstance(node, dict) else None
    params: dict[str, str | int] = {"detail": error.get("msg", "")}
    params.update({k: _param(v) for k, v in (error.get("ctx") or {}).items()})
    if error["type"] == "literal_error" and isinstance(params.get("expected"), str):
        params["expected"] = _choices(str(params["expected"]))
    if "input" in error and not isinstance(error["input"], dict | list):
        params.setdefault("value", _param(error["input"]))
    elif isinstance(error.get("input"), list):  # as the file writes it: ["vi"], not nothing
        params.setdefault("value", json.dumps(error["input"], ensure_ascii=False))
    return ConfigProblem(key=".".join(parts), code=_kind(error), params=params)


def _choices(expected: str) -> str:
    """The values a setting may take as TOML writes them ("vi", "en"), from pydantic's English
    list of them ("'vi' or 'en'", "'a', 'b' or 'c'")."""
    values = re.split(r", | or ", expected)
    return ", ".join(f'"{v[1:-1]}"' if len(v) > 1 and v[0] == v[-1] == "'" else v for v in values)


def _kind(error: Any) -> str:
    """The catalog's name for an error: a number of the wrong kind is named by what was
    written instead, which says how to mend it."""
    code, given = str(error["type"]), error.get("input")
    if code not in ("int_type", "float_type"):
        return code
    if isinstance(given, bool):
        return "number_not_flag"
    if isinstance(given, float):
        return "int_from_float"
    if isinstance(given, str) and _NUMBER.fullmatch(given.strip()):
        return "number_quoted"
    return code
