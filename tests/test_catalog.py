"""The text catalog: complete in every locale, and every key the code uses exists."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.config import Config, load_config
from bot.domain.outbound import SkipReason
from bot.domain.rsvp import RsvpStatus
from bot.domain.timespec import TimeSpec
from bot.services.invitations import SENT_VIA, LinkOutcome
from bot.services.rsvp import RsvpChoice
from bot.texts import LOCALES, Html, load_catalog, placeholders
from bot.texts.presenters import _wall_moment, deadline_text
from handlers.telegram.app import DELEGATE_COMMANDS, OFFICE_COMMANDS
from tests.conftest import ROOT

VI = load_catalog("vi")


@pytest.mark.parametrize("locale", [loc for loc in LOCALES if loc != "vi"])
def test_every_key_exists_in_every_locale_with_the_same_placeholders(locale: str) -> None:
    other = load_catalog(locale)
    assert VI.all_keys() == other.all_keys()
    mismatched = [
        key
        for key in VI.all_keys()
        if placeholders(VI.template(key)) != placeholders(other.template(key))
    ]
    assert mismatched == []


def _literal_keys() -> set[str]:
    pattern = re.compile(r'\.(?:html|plain)\(\s*"([a-z_][a-z0-9_.]*)"')
    keys: set[str] = set()
    for folder in ("bot", "handlers", "rehearsal"):
        for path in (ROOT / folder).rglob("*.py"):
            keys.update(pattern.findall(path.read_text(encoding="utf-8")))
    return keys


def test_every_literal_key_used_in_the_code_exists() -> None:
    keys = _literal_keys()
    assert len(keys) > 60  # the scan really found the call sites
    assert sorted(keys - VI.all_keys()) == []


def test_the_chat_reads_no_key_of_the_dashboard() -> None:
    """/caplai said how the invitation was sent with the dashboard's keys
    (dash.invite.via_phrase): rewording the dashboard changed the chat. The chat's texts are
    its own, or shared ones with a neutral name (sent_via_phrase)."""
    found = {
        path.name: re.findall(r'"(dash\.[a-z_.{]*)', path.read_text(encoding="utf-8"))
        for path in (ROOT / "bot" / "chat").rglob("*.py")
    }
    assert {name: keys for name, keys in found.items() if keys} == {}


def _rehearsal_reasons() -> set[str]:
    """The reasons the rehearsal gives for a part it did not play (written as string literals
    in ``_not_played``)."""
    source = (ROOT / "rehearsal" / "checks.py").read_text(encoding="utf-8")
    body = source.split("def _not_played", 1)[1].split("\nasync def ", 1)[0]
    reasons = set(re.findall(r'"(no_[a-z_]+|one_speaker)"', body))
    assert len(reasons) >= 7  # the scan really found them
    return reasons


def test_every_computed_key_exists() -> None:
    computed = (
        [f"status.{s.value}" for s in RsvpStatus]
        + [f"buttons.{c.value}" for c in RsvpChoice]
        # Another meeting's link is answered by start.other_* (whose it is, then what follows).
        + [
            f"start.{o.value}"
            for o in LinkOutcome
            if o not in (LinkOutcome.LINKED, LinkOutcome.OTHER_MEETING)
        ]
        + [f"rsvp.recorded_{s.value}" for s in RsvpStatus]
        + [f"commands.{name}" for name in DELEGATE_COMMANDS + OFFICE_COMMANDS]
        + [f"date.weekday.{day}" for day in range(7)]
        + [f"duration.{unit}" for unit in ("days", "hours", "minutes")]
        + [f"report_sheet.message_skipped.{r.value}" for r in SkipReason]
        + [f"rehearsal.not_sent.{r.value}" for r in SkipReason]
        + [f"broadcast.skipped.{r.value}" for r in SkipReason]
        + [f"rehearsal.{verdict}" for verdict in ("passed", "passed_partly", "failed")]
        + [f"rehearsal.why.{why}" for why in _rehearsal_reasons()]
        + [f"sent_via_phrase.{via}" for via in SENT_VIA]
        # When the meeting is, by bot.texts.formatting.meeting_time: one day, or several.
        + [
            f"{key}{days}"
            for key in ("card.when_where", "check.when", "web.when", "slips.when_where")
            for days in ("", "_days")
        ]
    )
    assert sorted(set(computed) - VI.all_keys()) == []


def test_vietnamese_texts_carry_full_diacritics() -> None:
    unaccented = re.compile(r"\b(?:dong chi|hoi nghi|tham du|xac nhan|lien he|van phong)\b", re.I)
    assert [key for key in VI.all_keys() if unaccented.search(VI.template(key))] == []


# The meeting may open at any hour (an afternoon one at 14:00, s33 N12): the programme sent on
# the day and the check-in are «trong ngày họp», not «sáng ngày họp».
MORNING_WORDS = {
    "vi": re.compile(r"sáng ngày (?:họp|hội nghị)|chương trình (?:buổi )?sáng", re.IGNORECASE),
    "en": re.compile(r"morning programme|meeting[- ]morning|meeting's morning", re.IGNORECASE),
}


@pytest.mark.parametrize("locale", sorted(MORNING_WORDS))
def test_texts_about_the_meeting_day_fit_a_meeting_at_any_hour(locale: str) -> None:
    catalog = load_catalog(locale)
    words = MORNING_WORDS[locale]
    assert [key for key in sorted(catalog.all_keys()) if words.search(catalog.template(key))] == []


# The sections whose texts reach people in chat, on whatever channel they use (Telegram, the
# personal web page, Zalo, a channel without buttons): the command line's, the plan check's and
# the rehearsal's own lines are Telegram's business where they say so.
CHAT_SECTIONS = (
    "audience", "broadcast", "buttons", "card", "day_before", "draft", "draft_assigned",
    "draft_board", "draft_comment", "draft_mine", "draft_missing", "draft_office", "draft_post",
    "draft_reminder", "draft_status", "draft_verdict", "errors", "file", "help", "hint", "kind",
    "meeting_pack", "menu", "morning_agenda", "office", "reminder", "report", "report_file",
    "rsvp", "start", "status", "task", "task_board", "task_note", "task_overdue",
    "task_reminder", "task_state", "task_status", "venue",
)  # fmt: skip
# Texts really about Telegram: sharing one's phone number is its feature, and the office help
# names its /id command as Telegram's.
TELEGRAM_ONLY = frozenset(
    {"start.welcome", "start.phone_not_own", "buttons.share_phone", "help.office"}
)
# How a channel lets people choose is the channel's to say, not the catalog's.
CHANNEL_WORDS = {
    "vi": re.compile(r"Telegram|\bnút\b|\bbấm\b", re.IGNORECASE),
    "en": re.compile(r"Telegram|\bbuttons?\b|\bpress\b|\btap\b", re.IGNORECASE),
}


@pytest.mark.parametrize("locale", sorted(CHANNEL_WORDS))
def test_texts_sent_in_chat_say_choose_and_never_name_telegram_or_its_buttons(locale: str) -> None:
    catalog = load_catalog(locale)
    words = CHANNEL_WORDS[locale]
    offenders = [
        key
        for key in sorted(catalog.all_keys())
        if key.split(".", 1)[0] in CHAT_SECTIONS
        and key not in TELEGRAM_ONLY
        and words.search(catalog.template(key))
    ]
    assert offenders == []


def test_parameters_are_escaped_but_trusted_html_is_not() -> None:
    text = VI.html("rsvp.current", status="<b>Ngô & Co</b>")
    assert text == "Nội dung đồng chí đã xác nhận: <b>&lt;b&gt;Ngô &amp; Co&lt;/b&gt;</b>."
    assert VI.html("rsvp.cancelled", answer=Html("<b>x</b>")) == "Đã hủy thao tác. <b>x</b>"
    assert VI.plain("rsvp.too_long", limit=5).startswith("Nội dung quá dài (tối đa 5 ký tự)")


def test_catalog_files_are_valid_utf8_toml() -> None:
    for locale in LOCALES:
        Path(ROOT / "bot" / "texts" / f"{locale}.toml").read_text(encoding="utf-8")


def test_the_deadline_the_confirmations_say_follows_the_plan_its_zone_and_the_locale() -> None:
    """The deadline's words are written once for each catalog and wall-clock time
    (``bot.texts.presenters.deadline_text``): the same instant in another zone is another
    text, and a plan's deadline moved is said anew."""
    config = load_config(ROOT / "config.example.toml").config
    meeting = config.meeting

    def plan(deadline: str, zone: str = meeting.timezone) -> Config:
        moved = {"rsvp_deadline": TimeSpec.parse(deadline), "timezone": zone}
        return config.model_copy(update={"meeting": meeting.model_copy(update=moved)})

    plans = [
        config,
        plan("2024-05-20T09:30+07:00"),
        plan("2024-05-20T09:30+07:00", "Asia/Tokyo"),
        plan("-6d@08:15"),
        config,
    ]

    assert [deadline_text(VI, each) for each in plans] == [
        "17:00, Thứ Ba, ngày 21/5/2024",
        "09:30, Thứ Hai, ngày 20/5/2024",
        "11:30, Thứ Hai, ngày 20/5/2024",
        "08:15, Thứ Tư, ngày 22/5/2024",
        "17:00, Thứ Ba, ngày 21/5/2024",
    ]
    assert deadline_text(load_catalog("en"), config) == "17:00, Tuesday, 21/5/2024"


def test_a_page_asking_for_its_locale_at_every_request_finds_the_deadline_already_written() -> None:
    """The personal page asks for its catalog in the visitor's locale at every request
    (``Catalog.with_locale``): each finds the deadline's words already written, and the chat's
    stay written (forty requests in each locale write nothing again)."""
    config = load_config(ROOT / "config.example.toml").config
    written = [deadline_text(VI.with_locale(locale), config) for locale in ("en", "vi")]
    before = _wall_moment.cache_info()
    for _ in range(40):
        for locale in ("en", "vi"):
            assert deadline_text(VI.with_locale(locale), config) in written
    after = _wall_moment.cache_info()
    assert (after.hits - before.hits, after.misses - before.misses) == (80, 0)
    assert written == ["17:00, Tuesday, 21/5/2024", "17:00, Thứ Ba, ngày 21/5/2024"]
    assert VI.with_locale("en").with_locale("vi") is VI


# The parameters of the dashboard's texts that are figures: a count, a limit, a length.
_FIGURES = frozenset(
    {"count", "total", "limit", "limit_mb", "chars", "versions", "files", "done", "reported",
     "overdue", "final", "revision", "missing", "late", "submitted", "first", "last", "parts",
     "more", "rows"}
)  # fmt: skip
# ``t("key", name=expression, …)`` in a template, its parameters with one level of brackets.
_TEMPLATE_CALL = re.compile(r't\("([^"]+)"((?:[^()]|\((?:[^()]|\([^()]*\))*\))*)\)')
_PARAMETER = re.compile(r"(\w+)=((?:[^,()]|\((?:[^()]|\([^()]*\))*\))+)")


def test_every_figure_the_dashboard_s_templates_write_is_grouped_by_thousands() -> None:
    """«Nội dung thông báo (tối đa 3500 ký tự)», the drafts' and tasks' counts: written raw
    where every other figure reads «3.500». A figure a template passes goes through
    ``number`` (Catalog.number), as the chat's do."""
    raw = []
    calls = 0
    for path in sorted((ROOT / "handlers" / "web" / "templates" / "office").glob("*.html")):
        for call in _TEMPLATE_CALL.finditer(path.read_text(encoding="utf-8")):
            calls += 1
            for name, expression in _PARAMETER.findall(call.group(2)):
                if name in _FIGURES and not expression.strip().startswith("number("):
                    raw.append(f"{path.name}: {call.group(1)} {name}={expression.strip()}")
    assert calls > 200  # the scan really found the templates' texts
    assert raw == []
