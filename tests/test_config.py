"""The plan file: the example is complete, and every kind of mistake is reported with its key."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.config import ConfigError, LoadedConfig, config_path, load_config, plan_warnings
from tests.conftest import EXAMPLE_CONFIG, local


def edited(tmp_path: Path, *replacements: tuple[str, str]) -> Path:
    """A copy of the example with some text replaced, as an office would edit it."""
    text = EXAMPLE_CONFIG.read_text(encoding="utf-8")
    for old, new in replacements:
        assert old in text, f"the example no longer contains {old!r}"
        text = text.replace(old, new, 1)
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def problems(path: Path) -> list[tuple[str, str]]:
    """(key, code) of every problem loading ``path`` reports."""
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    return [(problem.key, problem.code) for problem in caught.value.problems]


def test_example_plan_encodes_kh_60_completely() -> None:
    config = load_config(EXAMPLE_CONFIG).config
    meeting = config.meeting
    assert meeting.plan_number == "60/KH-BTV"
    assert meeting.starts_at == local(2024, 5, 28, 8, 0)
    assert meeting.ends_at == local(2024, 5, 28, 11, 30)
    assert meeting.starts_at.weekday() == 1  # a Tuesday
    assert meeting.capacity == 80
    assert meeting.venue.name == "Hội trường Hội LHPN Hà Nội"
    assert "Số 7 phố Tôn Thất Thuyết" in meeting.venue.address
    assert len(config.agenda) == 7
    assert [t.key for t in config.themes] == [
        "1.1",
        "1.2",
        "1.3",
        "1.4",
        "1.5",
        "2.1",
        "2.2",
        "2.3",
        "3",
    ]
    assert [g.order for g in config.groups_in_order] == list(range(1, 9))
    assert [t.key for t in config.tasks] == ["VI.1.1", "VI.1.2", "VI.1.3", "VI.1.4", "VI.2"]
    assert meeting.rsvp_deadline_at == local(2024, 5, 21, 17, 0)
    assert (
        config.office.admin_ids and config.office.chat_id is not None and config.office.chat_id < 0
    )


def test_moving_the_meeting_date_moves_every_relative_deadline(tmp_path: Path) -> None:
    moved = load_config(
        edited(
            tmp_path,
            ('starts_at = "2024-05-28T08:00"', 'starts_at = "2024-06-04T08:00"'),
            ('ends_at = "2024-05-28T11:30"', 'ends_at = "+3h30m"'),
        )
    ).config
    assert moved.meeting.ends_at == local(2024, 6, 4, 11, 30)
    assert moved.meeting.rsvp_deadline_at == local(2024, 5, 28, 17, 0)
    task = next(t for t in moved.tasks if t.key == "VI.1.1")
    assert moved.meeting.resolve(task.deadline) == local(2024, 5, 14, 17, 0)


def test_every_problem_is_reported_at_once_with_its_key(tmp_path: Path) -> None:
    path = edited(
        tmp_path,
        ('timezone = "Asia/Ho_Chi_Minh"', 'timezone = "Asia/Hanoi_City"'),
        ("capacity = 80", "capacity = 0"),
        ('rsvp_deadline = "-7d@17:00"', 'rsvp_deadline = "bảy ngày trước"'),
        ('start = "07:30"', 'start = "7h30"'),
        ('key = "ban_thuong_vu"', 'key = "trung_uong_hoi"'),
        ('deadline = "-21d@17:00"', 'deadline = "-21h@17:00"'),
        ("admin_ids = [100000001, 100000002]", "admin_ids = [-5]"),
        ('name = "Văn phòng Hội LHPN thành phố Hà Nội"', 'nam = "Văn phòng"'),
    )
    assert problems(path) == [
        ("meeting.timezone", "bad_timezone"),
        ("meeting.capacity", "greater_than"),
        ("meeting.rsvp_deadline", "time_unreadable"),
        ("office.name", "missing"),
        ("office.admin_ids", "bad_user_id"),
        ("office.nam", "extra_forbidden"),
        ("agenda[1].start", "time_bad_clock"),
        ("groups", "duplicate_key"),
        ("tasks[1] (VI.1.1).deadline", "time_at_needs_days"),
    ]


def test_meeting_that_ends_before_it_starts_is_refused(tmp_path: Path) -> None:
    path = edited(tmp_path, ('ends_at = "2024-05-28T11:30"', 'ends_at = "2024-05-28T07:00"'))
    assert problems(path) == [("meeting.ends_at", "ends_before_start")]


def test_rsvp_deadline_after_the_start_is_refused(tmp_path: Path) -> None:
    path = edited(tmp_path, ('rsvp_deadline = "-7d@17:00"', 'rsvp_deadline = "+1h"'))
    assert problems(path) == [("meeting.rsvp_deadline", "rsvp_after_start")]


def test_an_unreadable_start_does_not_make_a_valid_relative_end_look_wrong(tmp_path: Path) -> None:
    path = edited(
        tmp_path,
        ('starts_at = "2024-05-28T08:00"', 'starts_at = "28/5/2024 8h"'),
        ('ends_at = "2024-05-28T11:30"', 'ends_at = "+3h30m"'),
    )
    assert problems(path) == [("meeting.starts_at", "time_unreadable")]


def test_a_past_deadline_is_named_where_it_is_written_until_the_meeting_is_under_way(
    tmp_path: Path,
) -> None:
    # Theme 1.2 has its own deadline; the other themes keep [drafts] deadline (-7d@17:00).
    path = edited(
        tmp_path,
        ('speakers = ["DB036"]\n', 'speakers = ["DB036"]\ndeadline = "-20d@17:00"\n'),
    )
    config = load_config(path).config
    week_before = local(2024, 5, 20, 9, 0)  # before the RSVP deadline (21/5), after 1.2's (8/5)
    assert [(w.key, w.code, w.params) for w in plan_warnings(config, week_before)] == [
        ("themes[2] (1.2).deadline", "drafts_deadline_past", {"deadline": local(2024, 5, 8, 17)}),
        ("web.base_url", "base_url_local", {"url": "http://127.0.0.1:8080"}),
        ("office.admin_ids", "example_admin_ids", {"ids": "100000001, 100000002"}),
        ("office.chat_id", "example_chat_id", {"chat": -1001000000001}),
    ]
    day_before = local(2024, 5, 27, 9, 0)
    assert [w.key for w in plan_warnings(config, day_before)][:3] == [
        "meeting.rsvp_deadline",
        "drafts.deadline",
        "themes[2] (1.2).deadline",
    ]
    under_way = local(2024, 5, 28, 9, 0)  # every deadline is past, as it should be by now
    assert [w.key for w in plan_warnings(config, under_way)] == [
        "web.base_url",
        "office.admin_ids",
        "office.chat_id",
    ]


@pytest.mark.parametrize(
    ("locale", "lines"),
    [
        (
            "vi",
            [
                '  - meeting.locale: giá trị "vn" không hợp lệ; chọn một trong: "vi", "en".',
                '  - telegram.http_client: giá trị "requests" không hợp lệ; chọn một trong: '
                '"aiohttp", "httpx".',
                '  - logging.format: giá trị "xml" không hợp lệ; chọn một trong: "text", "json".',
            ],
        ),
        (
            "en",
            [
                '  - meeting.locale: "vn" is not allowed; choose one of: "vi", "en".',
                '  - telegram.http_client: "requests" is not allowed; choose one of: '
                '"aiohttp", "httpx".',
                '  - logging.format: "xml" is not allowed; choose one of: "text", "json".',
            ],
        ),
    ],
)
def test_a_value_not_among_the_allowed_ones_lists_them_in_the_readers_language(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], locale: str, lines: list[str]
) -> None:
    path = edited(
        tmp_path,
        ('locale = "vi"', 'locale = "vn"'),
        ('http_client = "aiohttp"', 'http_client = "requests"'),
        ('format = "text"', 'format = "xml"'),
    )
    assert printed_problems(path, capsys, locale) == lines


def test_a_list_where_one_value_is_wanted_is_shown_as_the_file_writes_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # «meeting.locale: giá trị "" không hợp lệ»: the value written was not shown at all.
    path = edited(tmp_path, ('locale = "vi"', 'locale = ["vi"]'))
    assert '  - meeting.locale: giá trị "["vi"]" không hợp lệ; chọn một trong: "vi", "en".' in (
        printed_problems(path, capsys, "vi")
    )


def printed_problems(path: Path, capsys: pytest.CaptureFixture[str], locale: str) -> list[str]:
    """The problem lines a broken plan file prints in ``locale`` (its heading left out)."""
    from bot.cli.common import print_config_errors
    from bot.texts import load_catalog

    with pytest.raises(ConfigError) as caught:
        load_config(path)
    print_config_errors(load_catalog(locale), caught.value)
    return capsys.readouterr().err.splitlines()[1:]


def test_a_fractional_capacity_is_explained_in_vietnamese(tmp_path: Path) -> None:
    path = edited(tmp_path, ("capacity = 80", "capacity = 80.5"))
    assert problems(path) == [("meeting.capacity", "int_from_float")]


def test_toml_syntax_error_names_the_line_and_shows_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from bot.cli import main

    path = edited(tmp_path, ("\ncapacity = 80\n", "\ncapacity = = 80\n"))
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    [problem] = caught.value.problems
    assert problem.code == "toml_syntax_at"
    line = EXAMPLE_CONFIG.read_text(encoding="utf-8").splitlines().index("capacity = 80") + 1
    assert (problem.params["line"], problem.params["text"]) == (line, "capacity = = 80")
    assert f"line {line}" in problem.params["detail"]
    assert main(["--config", str(path), "check"]) == 3
    said = capsys.readouterr().err
    assert f"sai cú pháp TOML ở dòng {line}, cột 12: «capacity = = 80»." in said
    assert "Invalid" not in said  # tomllib's English stays out of the office's answer


def test_a_plan_saved_with_a_bom_is_read(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_bytes(b"\xef\xbb\xbf" + EXAMPLE_CONFIG.read_bytes())  # Notepad's «UTF-8 BOM»
    assert load_config(path).config.meeting.capacity == 80


def test_a_folder_given_as_the_plan_is_said_to_be_a_folder(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path)
    assert [p.code for p in caught.value.problems] == ["is_a_folder"]


def test_missing_file_is_a_problem_not_a_crash(tmp_path: Path) -> None:
    assert problems(tmp_path / "nope.toml") == [("", "file_not_found")]


def test_file_that_is_not_utf8_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_bytes('title = "Hội nghị"'.encode("utf-16"))
    assert problems(path) == [("", "not_utf8")]


def test_config_path_prefers_flag_then_environment_then_default() -> None:
    assert config_path("a.toml", {"HOINGHI_CONFIG": "b.toml"}) == Path("a.toml")
    assert config_path(None, {"HOINGHI_CONFIG": "b.toml"}) == Path("b.toml")
    assert config_path(None, {}) == Path("config.toml")


def test_default_database_is_an_sqlite_file_next_to_the_config(tmp_path: Path) -> None:
    loaded = load_config(edited(tmp_path))
    assert loaded.database_url == f"sqlite+aiosqlite:///{tmp_path.resolve() / 'hoinghi.db'}"
    custom = LoadedConfig(
        path=loaded.path,
        config=loaded.config.model_copy(
            update={
                "database": loaded.config.database.model_copy(
                    update={"url": "postgresql+asyncpg://h/db"}
                )
            }
        ),
    )
    assert custom.database_url == "postgresql+asyncpg://h/db"


def test_a_list_of_ten_thousand_imports_as_one_file_by_default_and_the_example_says_so() -> None:
    from bot.delegate_file import MAX_DATA_ROWS

    assert load_config(EXAMPLE_CONFIG).config.imports.max_rows == MAX_DATA_ROWS == 10_000
    example = EXAMPLE_CONFIG.read_text(encoding="utf-8")
    assert "[import]\n" in example and "\nmax_rows = 10000\n" in example


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("0", "greater_than_equal"),
        ("20001", "less_than_equal"),
        ('"nhiều"', "int_type"),
        ("5000.5", "int_from_float"),
        ('"5000"', "number_quoted"),
        ("true", "number_not_flag"),
    ],
)
def test_import_max_rows_out_of_range_is_refused_with_its_key(
    tmp_path: Path, value: str, code: str
) -> None:
    path = edited(tmp_path, ("max_rows = 10000", f"max_rows = {value}"))
    assert problems(path) == [("import.max_rows", code)]


def test_import_max_rows_is_explained_in_vietnamese_by_check(
    office: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from bot.cli import main

    config = office / "config.toml"
    text = config.read_text(encoding="utf-8").replace("max_rows = 10000", "max_rows = 0")
    config.write_text(text, encoding="utf-8")
    assert main(["check"]) != 0
    assert "  - import.max_rows: phải lớn hơn hoặc bằng 1." in capsys.readouterr().err.splitlines()


def test_settings_of_the_wrong_kind_are_each_reported_not_guessed_at(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from bot.cli import main

    path = edited(
        tmp_path,
        ("\ntick_seconds = 2\n", "\ntick_seconds = true\n"),  # lax reading: 1 second
        ("\nport = 8080\n", '\nport = "8080"\n'),
        ("\ncapacity = 80\n", "\ncapacity = 80.5\n"),
        ("\nmetrics = false\n", "\nmetrics = 0\n"),
        ("\nconcurrent_updates = 32\n", '\nconcurrent_updates = "nhiều"\n'),
        ("\nlatitude = 21.02985\n", "\nlatitude = 21\n"),  # whole, yet a decimal's value
    )
    assert main(["--config", str(path), "check"]) == 3
    said = capsys.readouterr().err.splitlines()
    assert [line for line in said if line.startswith("  - ")] == [
        "  - meeting.capacity: phải là số nguyên (không có phần thập phân).",
        "  - telegram.concurrent_updates: phải là số nguyên.",
        '  - web.port: phải là số, viết không có dấu ngoặc kép: 8080, không phải "8080".',
        "  - web.metrics: phải là true hoặc false.",
        "  - outbox.tick_seconds: phải là một số, không phải true hay false.",
    ]


def test_a_speaker_or_contact_code_with_a_space_is_refused_with_its_key(tmp_path: Path) -> None:
    text = EXAMPLE_CONFIG.read_text(encoding="utf-8")
    speakers = re.search(r'\nspeakers = \["(DB\d+)"', text)
    contacts = re.search(r'\ncontacts = \["(NV\d+)"', text)
    assert speakers is not None and contacts is not None
    path = edited(
        tmp_path,
        (f'speakers = ["{speakers.group(1)}"', 'speakers = ["DB 031"'),
        (f'contacts = ["{contacts.group(1)}"', 'contacts = ["NV 03"'),
    )
    found = problems(path)
    assert [code for _, code in found] == ["bad_person_code", "bad_person_code"]
    assert found[0][0].startswith("themes[") and found[1][0].startswith("tasks[")


def test_the_zalo_section_is_optional_and_read_when_given(tmp_path: Path) -> None:
    assert load_config(EXAMPLE_CONFIG).config.zalo.bot_link == ""  # the example: commented out
    given = '[zalo]\nbot_name = "Bot Hội nghị"\nbot_link = "https://zalo.me/123"\n\n[reminders]'
    zalo = load_config(edited(tmp_path, ("[reminders]", given))).config.zalo
    assert (zalo.bot_name, zalo.bot_link) == ("Bot Hội nghị", "https://zalo.me/123")


def test_a_wrong_zalo_key_or_link_is_reported_with_its_key(tmp_path: Path) -> None:
    wrong = '[zalo]\nbot_nam = "Bot"\nbot_link = "zalo.me/123"\n\n[reminders]'
    assert problems(edited(tmp_path, ("[reminders]", wrong))) == [
        ("zalo.bot_link", "bad_url"),
        ("zalo.bot_nam", "extra_forbidden"),
    ]


def test_a_meeting_moved_to_the_afternoon_is_warned_that_its_morning_programme_stayed(
    tmp_path: Path,
) -> None:
    # The office moves the hours, as the guide's «Hội nghị dời lịch» says, and forgets
    # [[agenda]]: 07:30–11:30 for a 13:00–16:30 meeting.
    path = edited(
        tmp_path,
        ('starts_at = "2024-05-28T08:00"', 'starts_at = "2024-05-28T13:00"'),
        ('ends_at = "2024-05-28T11:30"', 'ends_at = "2024-05-28T16:30"'),
    )
    config = load_config(path).config
    warned = [w for w in plan_warnings(config, local(2024, 5, 20, 9, 0)) if w.key == "agenda"]
    assert [(w.code, w.params) for w in warned] == [
        (
            "agenda_outside_hours",
            {
                "count": 7,
                "items": "07:30–08:00, 08:00–08:10, 08:10–08:25, 08:25–08:35, 08:35–09:05, "
                "09:05–11:00, 11:00–11:30",
                "hours": "13:00–16:30",
            },
        )
    ]


def test_a_programme_from_the_reception_to_the_closing_is_within_the_meeting_hours() -> None:
    # The example: reception 07:30–08:00 ends as the meeting opens at 08:00; the last item
    # ends as it closes at 11:30 — nothing to say.
    config = load_config(EXAMPLE_CONFIG).config
    assert "agenda" not in [w.key for w in plan_warnings(config, local(2024, 5, 20, 9, 0))]


def test_an_agenda_item_written_above_an_earlier_one_is_warned_with_its_key(
    tmp_path: Path,
) -> None:
    # «Kết luận» (11:00) moved above «Tham luận, thảo luận» (09:05): shown so on every page.
    closing = '[[agenda]]\nstart = "11:00"\nend = "11:30"\ntitle = "Phát biểu chỉ đạo của lãnh đạo'
    text = EXAMPLE_CONFIG.read_text(encoding="utf-8")
    start = text.index(closing)
    end = text.index("\n\n", start)
    item = text[start:end]
    discussion = '[[agenda]]\nstart = "09:05"'
    path = edited(tmp_path, (item, ""), (discussion, item + "\n\n" + discussion))
    config = load_config(path).config
    assert [f"{a.start:%H:%M}" for a in config.agenda][-2:] == ["11:00", "09:05"]
    warned = [
        (w.key, w.code, w.params)
        for w in plan_warnings(config, local(2024, 5, 20, 9, 0))
        if w.code == "agenda_out_of_order"
    ]
    assert warned == [
        (
            "agenda[7] (Tham luận, thảo luận tại hội nghị)",
            "agenda_out_of_order",
            {"start": "09:05", "before": "11:00"},
        ),
    ]


def test_a_two_day_meeting_s_second_morning_after_the_first_afternoon_is_not_out_of_order(
    tmp_path: Path,
) -> None:
    second_day = '[[agenda]]\nstart = "08:00"\nend = "09:00"\ntitle = "Ngày thứ hai: khai mạc"\n\n'
    path = edited(tmp_path, ('ends_at = "2024-05-28T11:30"', 'ends_at = "2024-05-29T11:30"'))
    text = path.read_text(encoding="utf-8")
    cut = text.index("# -----", text.index('start = "11:00"'))  # after the last item
    path.write_text(text[:cut] + second_day + text[cut:], encoding="utf-8")
    config = load_config(path).config
    assert [f"{a.start:%H:%M}" for a in config.agenda][-2:] == ["11:00", "08:00"]
    codes = [w.code for w in plan_warnings(config, local(2024, 5, 20, 9, 0))]
    assert "agenda_out_of_order" not in codes


def test_an_agenda_in_order_of_time_says_nothing_of_its_order() -> None:
    config = load_config(EXAMPLE_CONFIG).config
    codes = [w.code for w in plan_warnings(config, local(2024, 5, 20, 9, 0))]
    assert "agenda_out_of_order" not in codes


def test_a_task_without_contacts_is_warned_with_its_key(tmp_path: Path) -> None:
    path = edited(tmp_path, ('contacts = ["NV04"]\n', ""))
    config = load_config(path).config
    warned = [
        (w.key, w.code)
        for w in plan_warnings(config, local(2024, 5, 20, 9, 0))
        if w.code == "task_without_contacts"
    ]
    assert warned == [("tasks[3] (VI.1.3).contacts", "task_without_contacts")]


def test_a_task_deadline_already_past_is_named_where_it_is_written(tmp_path: Path) -> None:
    """VI.1.3's deadline typed a year off (2023): none of its reminders would go, and the first
    the office would hear is the overdue report the next morning."""
    path = edited(
        tmp_path,
        (
            'deadline = "-7d@17:00"\ncontacts = ["NV04"]',
            'deadline = "2023-05-21T17:00"\ncontacts = ["NV04"]',
        ),
    )
    config = load_config(path).config
    weeks_before = local(2024, 5, 1, 9, 0)  # before every other deadline of the plan
    warned = [
        (w.key, w.code, w.params)
        for w in plan_warnings(config, weeks_before)
        if w.code == "task_deadline_past"
    ]
    assert warned == [
        ("tasks[3] (VI.1.3).deadline", "task_deadline_past", {"deadline": local(2023, 5, 21, 17)})
    ]


def test_tasks_due_weeks_before_the_meeting_and_past_are_no_warning_one_a_year_off_is(
    tmp_path: Path,
) -> None:
    """A week before the meeting VI.1.1, VI.1.2 and VI.2 are past as planned (7/5, 14/5, 17/5):
    naming them at every `check` would drown the warnings that matter; VI.1.3 typed a year off
    is still named."""
    path = edited(
        tmp_path,
        (
            'deadline = "-7d@17:00"\ncontacts = ["NV04"]',
            'deadline = "2023-05-21T17:00"\ncontacts = ["NV04"]',
        ),
    )
    config = load_config(path).config
    week_before = local(2024, 5, 20, 9, 0)
    warned = [w.key for w in plan_warnings(config, week_before) if w.code == "task_deadline_past"]
    assert warned == ["tasks[3] (VI.1.3).deadline"]


def test_a_task_reminder_after_its_deadline_is_warned_under_the_tasks_key(
    tmp_path: Path,
) -> None:
    """Not under «reminders» (the RSVP chasing's section): the office would look there."""
    path = edited(
        tmp_path,
        ('contacts = ["NV04"]\n', 'contacts = ["NV04"]\nreminders = ["-1d@08:00", "+1d@08:00"]\n'),
    )
    config = load_config(path).config
    warned = [
        w.key
        for w in plan_warnings(config, local(2024, 5, 1, 9, 0))
        if w.code == "reminder_after_window"
    ]
    assert warned == ["tasks[3] (VI.1.3).reminders"]


@pytest.mark.parametrize(
    ("base_url", "local_only"),
    [
        ("http://127.0.0.1:8080", True),
        ("http://localhost:8080", True),
        ("http://LOCALHOST.", True),
        ("http://0.0.0.0:8080", True),
        ("http://[::1]:8080", True),
        ("https://hoinghi.longbien.hanoi.gov.vn", False),
        ("http://192.168.1.20:8080", False),  # an office network: its own computers open it
        ("https://203.0.113.7", False),
    ],
)
def test_a_base_url_that_opens_only_on_this_server_is_warned(
    tmp_path: Path, base_url: str, local_only: bool
) -> None:
    path = edited(tmp_path, ('base_url = "http://127.0.0.1:8080"', f'base_url = "{base_url}"'))
    config = load_config(path).config
    warned = [
        (w.key, w.params)
        for w in plan_warnings(config, local(2024, 5, 20, 9, 0))
        if w.code == "base_url_local"
    ]
    assert warned == ([("web.base_url", {"url": base_url})] if local_only else [])
