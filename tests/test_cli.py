"""The ``hoinghi`` command as an office uses it: check, db upgrade, import, export."""

from __future__ import annotations

import csv
import os
import re
import shutil
import sqlite3
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
from openpyxl import load_workbook

from bot.cli import main
from bot.config import EXAMPLE_ADMIN_IDS, EXAMPLE_CHAT_ID, load_config
from bot.domain.tokens import parse_link_code
from storage.migrate import head_revision
from tests.conftest import EXAMPLE_CONFIG, EXAMPLE_DELEGATES, ROOT


def delegate_count(folder: Path) -> int:
    """Delegates in the office's SQLite file."""
    with sqlite3.connect(folder / "hoinghi.db") as db:
        return int(db.execute("SELECT count(*) FROM delegates").fetchone()[0])


def test_check_prints_the_plan_in_vietnamese(
    office: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check"]) == 0
    out = capsys.readouterr().out
    assert "Kế hoạch số 60/KH-BTV: Hội nghị sơ kết giữa nhiệm kỳ" in out
    assert "Thời gian: 08:00–11:30, Thứ Ba, ngày 28/5/2024 (múi giờ Asia/Ho_Chi_Minh)" in out
    assert "Hạn xác nhận tham dự: 17:00, Thứ Ba, ngày 21/5/2024" in out
    assert "Chương trình (7 mục):" in out and "Nhiệm vụ chuẩn bị (5):" in out
    assert "chưa đặt biến môi trường TELEGRAM_BOT_TOKEN" in out
    assert "Tệp cấu hình config.toml hợp lệ, nhưng có 3 điểm cần lưu ý:" in out


def test_check_counts_the_telegram_admin_ids_as_such_not_as_the_office_staff(
    office: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """After `staff add`, a new office read «số cán bộ quản trị: 0» (its admin_ids = []) and
    thought the role had not been given."""
    plan = office / "config.toml"
    text = plan.read_text(encoding="utf-8").replace(
        "admin_ids = [100000001, 100000002]", "admin_ids = []"
    )
    plan.write_text(text, encoding="utf-8")
    assert main(["check"]) == 0
    assert (
        "Văn phòng: Văn phòng Hội LHPN thành phố Hà Nội; số tài khoản Telegram quản trị ghi ở "
        "admin_ids: 0 "
        "(cán bộ được giao vai trò Văn phòng bằng lệnh staff add không tính ở đây: xem bằng lệnh "
        "staff list)"
    ) in capsys.readouterr().out.splitlines()


def test_check_says_the_automatic_messages_reach_nobody_when_only_the_pages_run(
    office_web: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A new office on the web alone read «Tin nhắn tự động: … nhắc xác nhận tham dự …» and
    counted on reminders that no channel would carry."""
    assert main(["check"]) == 0
    lines = capsys.readouterr().out.splitlines()
    said = lines.index(
        "  Cửa sổ dòng lệnh này chưa đặt token kênh trò chuyện nào (Telegram, Zalo): nếu "
        "`hoinghi run` cũng chạy như vậy, chỉ với trang web, thì các tin nhắn tự động trên không "
        "đến được ai (trang cá nhân không tự gửi tin), kể cả báo cáo gửi Văn phòng. Cần nhắc đại "
        "biểu và người phụ trách nhiệm vụ thì Văn phòng gọi điện hoặc nhắn tin; thông báo của Văn "
        "phòng vẫn hiện trên trang cá nhân."
    )
    assert lines[said - 1].startswith("  Nhắc nhiệm vụ chuẩn bị:")
    monkeypatch.setenv("ZALO_BOT_TOKEN", "1234567890:" + "a" * 40)  # a chat runs: nothing to say
    assert main(["check"]) == 0
    assert "Cửa sổ dòng lệnh này chưa đặt token" not in capsys.readouterr().out


def test_check_says_plainly_that_a_plan_without_themes_has_no_speeches(
    office: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A meeting with no speeches read «Nội dung tham luận (0):» over nothing (s33 N12)."""
    plan = office / "config.toml"
    text = re.sub(r"\[\[themes\]\]\n(?:[^\[\n].*\n|\n)*", "", plan.read_text(encoding="utf-8"))
    assert "[[themes]]" not in text
    plan.write_text(text, encoding="utf-8")
    assert main(["check"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert (
        "Nội dung tham luận: không có (kế hoạch không có mục [[themes]]); không có hạn gửi hay "
        "tin nhắc gửi tham luận."
    ) in lines
    assert not [line for line in lines if line.startswith("Nội dung tham luận (")]
    assert not [line for line in lines if "Hạn gửi tham luận" in line]


def test_check_counts_apart_the_reminders_of_a_task_with_no_contacts(
    office: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """«Nhắc nhiệm vụ chuẩn bị: 20 lượt» counted the reminders of a task nobody gets (s33)."""
    plan = office / "config.toml"
    text = plan.read_text(encoding="utf-8")
    assert text.count('contacts = ["NV04"]\n') == 1
    plan.write_text(text.replace('contacts = ["NV04"]\n', ""), encoding="utf-8")
    assert main(["check"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line for line in lines if line.startswith("  Nhắc nhiệm vụ chuẩn bị:")] == [
        "  Nhắc nhiệm vụ chuẩn bị: 16 lượt trước hạn gửi người đầu mối; 4 lượt của nhiệm vụ chưa "
        "có đầu mối (VI.1.3) không gửi tới ai; báo cáo nhiệm vụ quá hạn: 21 buổi sáng."
    ]


def test_check_says_run_needs_the_bot_token_when_there_is_no_web_page(
    office: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [line for line in out if line.startswith("Token bot")] == [
        "Token bot Telegram: chưa đặt biến môi trường TELEGRAM_BOT_TOKEN. Tệp cấu hình không có "
        "mục [web] và chưa có token bot nào, nên `hoinghi run` cần token này (hoặc token của kênh "
        "khác) mới chạy được.",
        "Token bot Zalo: chưa đặt biến môi trường ZALO_BOT_TOKEN. Tệp cấu hình không có mục [web] "
        "và chưa có token bot nào, nên `hoinghi run` cần token này (hoặc token của kênh khác) mới "
        "chạy được.",
    ]


def test_check_says_run_goes_without_the_zalo_bot_when_only_telegrams_token_is_set(
    office: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "123456:made-up-token-of-the-check-test-0123456789")
    assert main(["check"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [line for line in out if line.startswith("Token bot")] == [
        "Token bot Telegram: đã đặt trong biến môi trường TELEGRAM_BOT_TOKEN.",
        "Token bot Zalo: chưa đặt biến môi trường ZALO_BOT_TOKEN; `hoinghi run` chạy không có "
        "bot Zalo.",
    ]


def test_check_says_run_serves_the_web_alone_without_a_bot_token_when_web_is_set(
    office_web: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert [line for line in out if line.startswith("Token bot")] == [
        "Token bot Telegram: chưa đặt biến môi trường TELEGRAM_BOT_TOKEN. `hoinghi run` vẫn chạy "
        "trang cá nhân của đại biểu (http://127.0.0.1:8080), nhưng không có bot Telegram; đặt "
        "TELEGRAM_BOT_TOKEN khi cần cả bot.",
        "Token bot Zalo: chưa đặt biến môi trường ZALO_BOT_TOKEN. `hoinghi run` vẫn chạy trang cá "
        "nhân của đại biểu (http://127.0.0.1:8080), nhưng không có bot Zalo; đặt ZALO_BOT_TOKEN "
        "khi cần cả bot.",
    ]


ZALO_WEBHOOK_REFUSED = (
    "  - zalo.webhook: [zalo] webhook = true cần mục [web] (địa chỉ https://) và biến môi trường "
    'ZALO_WEBHOOK_SECRET (8–256 ký tự chữ, số, "-" hoặc "_"). Đề nghị bổ sung, hoặc đặt '
    "webhook = false để bot tự hỏi Zalo tin mới."
)


def with_zalo_webhook(folder: Path) -> None:
    """The plan's [zalo] section uncommented, with ``webhook = true``."""
    text = (folder / "config.toml").read_text(encoding="utf-8")
    assert "# [zalo]\n" in text and "# webhook = false\n" in text
    text = text.replace("# [zalo]\n", "[zalo]\n").replace("# webhook = false\n", "webhook = true\n")
    (folder / "config.toml").write_text(text, encoding="utf-8")


def test_check_refuses_a_zalo_webhook_that_run_would_refuse_with_runs_reason_and_every_warning(
    office_web: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Re-test s31 Z6: `check` said «hợp lệ» (exit 0) and `run` then stopped on it (exit 4).
    with_zalo_webhook(office_web)
    monkeypatch.setenv("ZALO_BOT_TOKEN", "1234567890:made-up-zalo-token-of-the-check-test")
    monkeypatch.delenv("ZALO_WEBHOOK_SECRET", raising=False)
    assert main(["check"]) == 3
    captured = capsys.readouterr()
    err = captured.err.splitlines()
    assert err[:2] == ["Tệp cấu hình config.toml có 1 lỗi:", ZALO_WEBHOOK_REFUSED]
    assert err[2].startswith("Ngoài ra có ") and err[2].endswith(" điểm cần lưu ý:")
    assert all(line.startswith("  - ") for line in err[3:]) and len(err) > 3
    assert "hợp lệ" not in captured.out
    # With the secret set, `run` would start the webhook: `check` passes.
    monkeypatch.setenv("ZALO_WEBHOOK_SECRET", "a-secret-of-the-check-test")
    assert main(["check"]) == 0
    assert "zalo.webhook" not in capsys.readouterr().err


def test_check_refuses_a_zalo_webhook_without_a_web_server_even_with_no_zalo_token_here(
    office: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # No [web]: no Zalo bot of this plan can ever take a webhook, whatever the terminal holds.
    with_zalo_webhook(office)
    monkeypatch.setenv("ZALO_WEBHOOK_SECRET", "a-secret-of-the-check-test")
    assert main(["check"]) == 3
    assert capsys.readouterr().err.splitlines()[:2] == [
        "Tệp cấu hình config.toml có 1 lỗi:",
        ZALO_WEBHOOK_REFUSED,
    ]


def test_check_warns_of_a_past_meeting_and_the_examples_placeholder_ids(
    office: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check"]) == 0  # still valid: warnings are not errors
    out = capsys.readouterr().out.splitlines()
    assert out[-4:] == [
        "Tệp cấu hình config.toml hợp lệ, nhưng có 3 điểm cần lưu ý:",
        "  - meeting.starts_at: hội nghị đã diễn ra (khai mạc 08:00, Thứ Ba, ngày 28/5/2024), "
        "trước thời điểm hiện tại. Nếu đây là hội nghị mới, đề nghị sửa ngày họp "
        "(starts_at, ends_at).",
        "  - office.admin_ids: 100000001, 100000002 là mã số mẫu của config.example.toml, không "
        "phải cán bộ Văn phòng. Đề nghị thay bằng mã số Telegram thật (mỗi người gửi /id cho bot "
        "để xem mã số của mình).",
        "  - office.chat_id: -1001000000001 là mã nhóm mẫu của config.example.toml. Đề nghị thay "
        "bằng mã nhóm Telegram thật của Văn phòng (gửi /id trong nhóm để xem), hoặc bỏ trống nếu "
        "chưa có nhóm.",
    ]


def own_plan(office: Path) -> None:
    """The example plan made an office's own: next year's date, real ids for the office."""
    year = datetime.now(UTC).year + 1
    text = (office / "config.toml").read_text(encoding="utf-8")
    for old, new in (
        ('"2024-05-28T', f'"{year}-05-28T'),
        ("admin_ids = [100000001, 100000002]", "admin_ids = [123456789, 100000002]"),
        ("chat_id = -1001000000001", "chat_id = -1009876543210"),
    ):
        assert old in text
        text = text.replace(old, new)
    (office / "config.toml").write_text(text, encoding="utf-8")


def test_check_of_an_own_plan_names_only_the_placeholder_left(
    office: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    own_plan(office)
    assert main(["check"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[-2:] == [
        "Tệp cấu hình config.toml hợp lệ, nhưng có 1 điểm cần lưu ý:",
        "  - office.admin_ids: 100000002 là mã số mẫu của config.example.toml, không phải cán bộ "
        "Văn phòng. Đề nghị thay bằng mã số Telegram thật (mỗi người gửi /id cho bot để xem mã "
        "số của mình).",
    ]
    text = (office / "config.toml").read_text(encoding="utf-8")
    (office / "config.toml").write_text(text.replace(", 100000002]", "]"), encoding="utf-8")
    assert main(["check"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "Tệp cấu hình config.toml hợp lệ."


def test_check_warns_that_a_coming_meetings_rsvp_and_draft_deadlines_are_already_past(
    office: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A year typed wrong: valid, but every personal page would say the answers are closed.
    own_plan(office)
    text = (office / "config.toml").read_text(encoding="utf-8")
    text = text.replace('rsvp_deadline = "-7d@17:00"', 'rsvp_deadline = "2020-01-01T17:00"')
    head, drafts = text.split("[drafts]", 1)
    drafts = drafts.replace('deadline = "-7d@17:00"', 'deadline = "2020-01-02T17:00"', 1)
    (office / "config.toml").write_text(head + "[drafts]" + drafts, encoding="utf-8")
    assert main(["check"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[-4:-1] == [
        "Tệp cấu hình config.toml hợp lệ, nhưng có 3 điểm cần lưu ý:",
        "  - meeting.rsvp_deadline: hạn xác nhận tham dự (17:00, Thứ Tư, ngày 1/1/2020) đã qua "
        "trong khi hội nghị chưa diễn ra: trang cá nhân của đại biểu báo đã hết hạn, không còn "
        "các lựa chọn trả lời, và tin nhắc xác nhận không được gửi. Nếu hạn này ghi nhầm, đề "
        "nghị sửa rsvp_deadline.",
        "  - drafts.deadline: hạn gửi tham luận (17:00, Thứ Năm, ngày 2/1/2020) đã qua trong khi "
        "hội nghị chưa diễn ra: bot không nhắc người tham luận chưa gửi bài nữa và coi các bài "
        "chưa gửi là quá hạn. Nếu hạn này ghi nhầm, đề nghị sửa deadline.",
    ]
    assert out[-1].startswith("  - office.admin_ids: 100000002 là mã số mẫu")


def test_check_shows_both_dates_of_a_meeting_over_several_days_and_warns_of_a_long_one(
    office: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = (office / "config.toml").read_text(encoding="utf-8")
    two_days = text.replace('ends_at = "2024-05-28T11:30"', 'ends_at = "2024-05-29T11:30"')
    (office / "config.toml").write_text(two_days, encoding="utf-8")
    assert main(["check"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[2] == (
        "Thời gian: từ 08:00, Thứ Ba, ngày 28/5/2024 đến 11:30, Thứ Tư, ngày 29/5/2024 "
        "(múi giờ Asia/Ho_Chi_Minh)"
    )
    assert not [line for line in out if line.startswith("  - meeting.ends_at")]

    eleven_days = text.replace('ends_at = "2024-05-28T11:30"', 'ends_at = "2024-06-07T17:00"')
    (office / "config.toml").write_text(eleven_days, encoding="utf-8")
    assert main(["check"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[2] == (
        "Thời gian: từ 08:00, Thứ Ba, ngày 28/5/2024 đến 17:00, Thứ Sáu, ngày 7/6/2024 "
        "(múi giờ Asia/Ho_Chi_Minh)"
    )
    assert [line for line in out if line.startswith("  - meeting.ends_at")] == [
        "  - meeting.ends_at: hội nghị kéo dài 11 ngày, từ 08:00, Thứ Ba, ngày 28/5/2024 đến "
        "17:00, Thứ Sáu, ngày 7/6/2024. Nếu ngày kết thúc ghi nhầm, đề nghị sửa ends_at."
    ]


def test_the_placeholder_ids_are_those_config_example_toml_ships_with() -> None:
    office = load_config(EXAMPLE_CONFIG).config.office
    assert set(office.admin_ids) == EXAMPLE_ADMIN_IDS
    assert office.chat_id == EXAMPLE_CHAT_ID


def test_run_logs_the_plan_warnings_at_start(
    office: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run"]) == 2  # no token: it stops there, after saying what the plan lacks
    err = capsys.readouterr().err
    assert " WARNING hoinghi: meeting.starts_at: hội nghị đã diễn ra (khai mạc 08:00, " in err
    assert " WARNING hoinghi: office.admin_ids: 100000001, 100000002 là mã số mẫu " in err
    assert " WARNING hoinghi: office.chat_id: -1001000000001 là mã nhóm mẫu " in err


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_make_run_says_which_plan_it_runs(tmp_path: Path) -> None:
    # A stand-in for the installed command: the Makefile's own lines run, nothing else.
    (tmp_path / "bin").mkdir()
    fake = tmp_path / "bin" / "hoinghi"
    fake.write_text('#!/bin/sh\necho hoinghi "$@"\n', encoding="utf-8")
    fake.chmod(0o755)
    (tmp_path / "pyproject.toml").touch()
    (tmp_path / "installed").touch()
    os.utime(tmp_path / "pyproject.toml", (0, 0))  # the stand-in install is up to date
    env = {k: v for k, v in os.environ.items() if k not in ("HOINGHI_CONFIG", "MAKEFLAGS")}

    def make_run() -> list[str]:
        done = subprocess.run(
            ["make", "-s", "-f", str(ROOT / "Makefile"), "run", "BIN=bin", "STAMP=installed"],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        return done.stdout.splitlines()

    assert make_run() == [
        "Chạy theo kế hoạch: config.example.toml (chưa có config.toml — sao chép "
        "config.example.toml thành config.toml để dùng kế hoạch của mình)",
        "hoinghi --config config.example.toml run",
    ]
    (tmp_path / "config.toml").touch()
    assert make_run() == ["Chạy theo kế hoạch: config.toml", "hoinghi --config config.toml run"]
    env["HOINGHI_CONFIG"] = "ke-hoach.toml"
    assert make_run() == ["Chạy theo kế hoạch: ke-hoach.toml", "hoinghi --config ke-hoach.toml run"]


def test_check_reports_every_error_with_its_key_and_fails(
    office: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = (office / "config.toml").read_text(encoding="utf-8")
    text = text.replace("capacity = 80", 'capacity = "tám mươi"').replace(
        'timezone = "Asia/Ho_Chi_Minh"', 'timezone = "Hanoi"'
    )
    (office / "config.toml").write_text(text, encoding="utf-8")
    assert main(["check"]) == 3
    err = capsys.readouterr().err.splitlines()
    assert err == [
        "Tệp cấu hình config.toml có 2 lỗi:",
        '  - meeting.timezone: múi giờ "Hanoi" không tồn tại; ví dụ đúng: "Asia/Ho_Chi_Minh".',
        "  - meeting.capacity: phải là số nguyên.",
    ]


def test_check_refuses_every_date_written_without_a_time_naming_its_key_and_the_form_wanted(
    office: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A date alone, quoted or TOML's own, would be read as its midnight, a time the office
    never wrote: each is refused with its key, all at once, as a deadline typed so is."""
    text = (office / "config.toml").read_text(encoding="utf-8")
    text = (
        text.replace('starts_at = "2024-05-28T08:00"', 'starts_at = "2024-05-28"')
        .replace('ends_at = "2024-05-28T11:30"', "ends_at = 2024-05-28")
        .replace('rsvp_deadline = "-7d@17:00"', 'rsvp_deadline = "20240521"')
        .replace('deadline = "-21d@17:00"', "deadline = 2024-05-07")
    )
    (office / "config.toml").write_text(text, encoding="utf-8")
    assert main(["check"]) == 3
    wanted = 'Đề nghị ghi cả ngày và giờ, dạng "YYYY-MM-DD HH:MM", ví dụ "2024-05-21 17:00".'
    assert capsys.readouterr().err.splitlines() == [
        "Tệp cấu hình config.toml có 4 lỗi:",
        f'  - meeting.starts_at: "2024-05-28" chỉ có ngày, chưa có giờ. {wanted}',
        f'  - meeting.ends_at: "2024-05-28" chỉ có ngày, chưa có giờ. {wanted}',
        f'  - meeting.rsvp_deadline: "20240521" chỉ có ngày, chưa có giờ. {wanted}',
        f'  - tasks[1] (VI.1.1).deadline: "2024-05-07" chỉ có ngày, chưa có giờ. {wanted}',
    ]


def test_check_reports_a_decimal_setting_out_of_its_bounds_with_the_bound_and_every_other_error(
    office: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = (office / "config.toml").read_text(encoding="utf-8")
    text = (
        text.replace("latitude = 21.02985", "latitude = 91")
        .replace("rate_per_second = 30", "rate_per_second = -5")
        .replace("capacity = 80", 'capacity = "tám mươi"')
    )
    (office / "config.toml").write_text(text, encoding="utf-8")
    assert main(["check"]) == 3
    err = capsys.readouterr().err.splitlines()
    assert err == [
        "Tệp cấu hình config.toml có 3 lỗi:",
        "  - meeting.capacity: phải là số nguyên.",
        "  - meeting.venue.latitude: phải nhỏ hơn hoặc bằng 90.",
        "  - outbox.rate_per_second: phải lớn hơn 0.",
    ]


def test_check_warns_of_a_reminder_set_after_its_deadline_that_would_never_go(
    office: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = (office / "config.toml").read_text(encoding="utf-8")
    text = text.replace(
        'rsvp_chase = ["-3d@08:00", "-1d@08:00"]', 'rsvp_chase = ["-3d@08:00", "+1d@08:00"]'
    )
    (office / "config.toml").write_text(text, encoding="utf-8")
    assert main(["check"]) == 0  # valid: a warning, not an error
    out = capsys.readouterr().out
    assert (
        "reminders.rsvp_chase: một lần nhắc được đặt lúc 08:00, Thứ Tư, ngày 22/5/2024, sau thời "
        "hạn của nó (17:00, Thứ Ba, ngày 21/5/2024), nên sẽ không được gửi"
    ) in out


def test_config_path_comes_from_the_flag_or_the_environment(
    office: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (office / "config.toml").rename(office / "plan.toml")
    assert main(["check"]) == 3
    assert "không tìm thấy tệp cấu hình config.toml" in capsys.readouterr().err
    assert main(["--config", "plan.toml", "check"]) == 0
    monkeypatch.setenv("HOINGHI_CONFIG", "plan.toml")
    assert main(["check"]) == 0


def test_import_then_reimport_never_duplicates(
    office: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["delegates", "import", str(EXAMPLE_DELEGATES)]) == 0
    assert main(["delegates", "import", str(EXAMPLE_DELEGATES)]) == 0
    out = [line for line in capsys.readouterr().out.splitlines() if line.startswith("Đã nhập")]
    assert out[0].endswith("thêm mới 80, cập nhật 0, không đổi 0.")
    assert out[1].endswith("thêm mới 0, cập nhật 0, không đổi 80.")
    assert delegate_count(office) == 80


def test_import_answers_in_vietnamese_only_and_keeps_log_lines_in_the_log(
    office: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    contacts = EXAMPLE_DELEGATES.parent / "contacts.csv"
    assert main(["delegates", "import", str(EXAMPLE_DELEGATES)]) == 0
    out, err = capsys.readouterr()
    assert out.splitlines()[-1] == (
        "Lưu ý: kế hoạch giao nhiệm vụ cho mã chưa có trong danh sách: NV01, NV02, NV03, NV04, "
        "NV06 (nhập danh sách đầu mối bằng `hoinghi people import`)."
    )
    assert err == ""  # no English line above the Vietnamese note
    assert main(["people", "import", str(contacts)]) == 0
    assert capsys.readouterr().err == ""
    # The note is still in the log, at its level, for whoever asks for the log.
    for name in ("hoinghi.db", "hoinghi.db-wal", "hoinghi.db-shm"):  # a fresh database again
        (office / name).unlink(missing_ok=True)
    assert main(["-v", "delegates", "import", str(EXAMPLE_DELEGATES)]) == 0
    err = capsys.readouterr().err
    assert " INFO bot.services.tasks: task contacts not in the imported list: NV01, " in err


def test_a_file_with_a_bad_row_imports_nothing_and_names_row_and_column(
    office: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = EXAMPLE_DELEGATES.read_text(encoding="utf-8").splitlines()
    index = next(i for i, line in enumerate(lines) if ",so_ban_nganh," in line)
    lines[index] = lines[index].replace(",so_ban_nganh,", ",so_khong_co,")
    bad = office / "bad.csv"
    bad.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert main(["delegates", "import", str(bad)]) == 3
    err = capsys.readouterr().err.splitlines()
    assert err[0] == f"Chưa nhập tệp {bad}: có 1 lỗi cần sửa (cơ sở dữ liệu chưa thay đổi gì):"
    assert err[1].startswith(
        f'  - Dòng {index + 1}, cột «Nhóm»: nhóm "so_khong_co" không có trong kế hoạch'
    )
    assert not (office / "hoinghi.db").exists() or delegate_count(office) == 0


def test_db_upgrade_creates_then_reports_current(
    office: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["db", "upgrade"]) == 0
    assert main(["db", "upgrade"]) == 0
    first, second = capsys.readouterr().out.splitlines()
    assert first.endswith(f"phiên bản — → {head_revision()}.")
    assert second.endswith(f"đã ở phiên bản mới nhất ({head_revision()}).")


def test_export_writes_one_personal_link_per_delegate_to_xlsx(
    office: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["delegates", "import", str(EXAMPLE_DELEGATES)]) == 0
    assert main(["invites", "export", "links.xlsx", "--bot-username", "@hoinghi_bot"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == (
        "Đã xuất 80 đường liên kết cá nhân (bot @hoinghi_bot) ra links.xlsx."
    )
    sheet = load_workbook(office / "links.xlsx").active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == (
        "Mã", "Họ và tên", "Chức vụ", "Đơn vị", "Nhóm", "Điện thoại", "Đường liên kết cá nhân",
        "Mã cá nhân (gõ trên Zalo)", "Hướng dẫn gửi mã cá nhân (như giấy mời và phiếu in)",
        "Đã gửi giấy mời",
    )  # fmt: skip
    assert len(rows) == 81
    assert all(str(r[6]).startswith("https://t.me/hoinghi_bot?start=") for r in rows[1:])
    assert all(parse_link_code(str(r[7])) and str(r[7])[4] == "-" for r in rows[1:])
    assert len({r[7] for r in rows[1:]}) == 80
    assert sheet.freeze_panes == "A2"


def test_the_links_export_says_where_to_send_the_code_as_the_slip_and_the_invitation_do(
    office: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The offices mail-merge their letters from the export: it had the code but not the words
    of the slip about it (which bot takes it), so a letter could not say what the slip says.
    A column has them, in the invitation's sentence, by the same rule: Telegram's bot with
    /start here; the plan's Zalo bot once its token is set; nothing where no chat takes it."""
    assert main(["delegates", "import", str(EXAMPLE_DELEGATES)]) == 0

    def export(*options: str) -> dict[str, tuple[object, object]]:
        assert main(["invites", "export", "links.xlsx", "--force", *options]) == 0
        rows = list(load_workbook(office / "links.xlsx").active.iter_rows(values_only=True))
        column = rows[0].index("Hướng dẫn gửi mã cá nhân (như giấy mời và phiếu in)")
        code = rows[0].index("Mã cá nhân (gõ trên Zalo)")
        return {str(row[0]): (row[code], row[column]) for row in rows[1:]}

    code, line = export("--bot-username", "hoinghi_bot")["DB001"]
    assert line == (
        "Nếu không mở được đường liên kết, đề nghị đồng chí tìm @hoinghi_bot trên Telegram và"
        f" gửi lệnh /start {code}."
    )
    plan = office / "config.toml"
    plan.write_text(
        plan.read_text(encoding="utf-8") + '\n[zalo]\nbot_name = "Bot Hội nghị LHPN"\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("ZALO_BOT_TOKEN", "1234567890:" + "a" * 40)
    code, line = export("--bot-username", "hoinghi_bot")["DB001"]
    assert line == (
        "Nếu không mở được đường liên kết, đề nghị đồng chí tìm «Bot Hội nghị LHPN» trên Zalo"
        f" và gửi mã cá nhân {code}."
    )


def test_exported_links_carry_phone_position_and_unit_and_open_with_a_click(
    office: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["delegates", "import", str(EXAMPLE_DELEGATES)]) == 0
    assert main(["invites", "export", "links.xlsx", "--bot-username", "hoinghi_bot"]) == 0
    sheet = load_workbook(office / "links.xlsx").active
    by_code = {row[0].value: row for row in sheet.iter_rows(min_row=2)}
    # The list has DB003 as "0386 003 246", DB004 as "0773-004-519"; DB001 has no phone.
    assert [c.value for c in by_code["DB003"][:6]] == [
        "DB003", "Vũ Thị Hồng Nhung", "Phó Bí thư Thành ủy", "Thành ủy Hà Nội",
        "Lãnh đạo Thành ủy, HĐND, UBND, Ủy ban MTTQ Việt Nam thành phố", "0386 003 246",
    ]  # fmt: skip
    assert by_code["DB004"][5].value == "0773 004 519"
    assert by_code["DB001"][5].value is None
    for row in by_code.values():
        link = row[6]
        assert str(link.value).startswith("https://t.me/hoinghi_bot?start=")
        assert link.hyperlink is not None and link.hyperlink.target == link.value
        assert link.style == "Hyperlink"
    assert main(["invites", "export", "links.csv", "--bot-username", "hoinghi_bot"]) == 0
    with (office / "links.csv").open(encoding="utf-8-sig", newline="") as fh:
        read = {row[0]: row for row in csv.reader(fh)}
    assert read["DB003"][:6] == [c.value for c in by_code["DB003"][:6]]
    assert read["DB003"][6] == by_code["DB003"][6].value


def test_export_without_username_or_token_says_what_is_needed(
    office: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["invites", "export", "links.csv"]) == 2
    assert "TELEGRAM_BOT_TOKEN" in capsys.readouterr().err
    assert main(["invites", "export", "links.pdf", "--bot-username", "x"]) == 2


def test_run_without_token_explains_where_to_get_one(
    office: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run"]) == 2
    assert "@BotFather" in capsys.readouterr().err


def test_contacts_import_alongside_delegates_and_get_links_too(
    office: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    contacts = EXAMPLE_DELEGATES.parent / "contacts.csv"
    assert main(["delegates", "import", str(EXAMPLE_DELEGATES)]) == 0
    assert main(["people", "import", str(contacts)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[-1].endswith("thêm mới 8, cập nhật 0, không đổi 0.")  # no delegate listed as absent
    assert main(["invites", "export", "links.csv", "--bot-username", "hoinghi_bot"]) == 0
    rows = (office / "links.csv").read_text(encoding="utf-8-sig").splitlines()
    assert len(rows) == 1 + 80 + 8
    assert sum(",Đầu mối nhiệm vụ chuẩn bị," in row for row in rows) == 8


def test_a_contacts_file_never_turns_a_delegate_into_a_contact(
    office: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["delegates", "import", str(EXAMPLE_DELEGATES)]) == 0
    lines = (EXAMPLE_DELEGATES.parent / "contacts.csv").read_text(encoding="utf-8").splitlines()
    lines[1] = "DB001" + lines[1][lines[1].index(",") :]
    contacts = office / "contacts.csv"
    contacts.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert main(["people", "import", str(contacts)]) == 0
    assert "vai trò được giữ nguyên: DB001" in capsys.readouterr().out
    with sqlite3.connect(office / "hoinghi.db") as db:
        assert db.execute("SELECT role FROM delegates WHERE code = 'DB001'").fetchone() == (
            "delegate",
        )


def test_tables_keep_typed_text_that_looks_like_a_formula_as_text(tmp_path: Path) -> None:
    from bot.documents.workbook import write_table

    rows = [["DB001", '=HYPERLINK("http://x","bấm")'], ["DB002", "Nguyễn Thị A"]]
    write_table(tmp_path / "t.xlsx", ["Mã", "Họ và tên"], rows)
    sheet = load_workbook(tmp_path / "t.xlsx").active
    cell = sheet["B2"]
    assert (cell.value, cell.data_type) == ('=HYPERLINK("http://x","bấm")', "s")
    write_table(tmp_path / "t.csv", ["Mã", "Họ và tên"], rows)
    lines = (tmp_path / "t.csv").read_text(encoding="utf-8-sig").splitlines()
    assert lines[1] == 'DB001,"\'=HYPERLINK(""http://x"",""bấm"")"'
    assert lines[2] == "DB002,Nguyễn Thị A"


# --- files the commands write: never over an existing file without --force, never a new folder ---

WRITERS = [
    ["invites", "export", "giay-moi.xlsx", "--bot-username", "hoinghi_bot"],
    ["invites", "export", "giay-moi.csv", "--bot-username", "hoinghi_bot"],
    ["invites", "print", "phieu.docx", "--bot-username", "hoinghi_bot"],
    ["report", "bao-cao.xlsx"],
    ["audit", "export", "nhat-ky.csv"],
    ["audit", "export", "nhat-ky.xlsx"],
    ["attendance", "export", "diem-danh.csv"],
    ["attendance", "export", "diem-danh.xlsx"],
    ["attendance", "sheet", "ky-ten.docx"],
    ["attendance", "cards", "bang-ten.docx"],
    ["attendance", "present", "co-mat.xlsx"],
]


@pytest.mark.parametrize("command", WRITERS, ids=lambda c: " ".join(c[:3]))
def test_a_command_keeps_an_existing_file_unless_told_to_overwrite_it(
    office: Path, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    name = next(arg for arg in command if "." in arg)
    assert main(["delegates", "import", str(EXAMPLE_DELEGATES)]) == 0
    (office / name).write_bytes(b"the office's own file")
    capsys.readouterr()
    assert main(command) == 2
    assert capsys.readouterr().err.strip() == (
        f"Tệp {name} đã có nên chưa ghi đè. Thêm --force để ghi đè, hoặc chọn tên tệp khác."
    )
    assert (office / name).read_bytes() == b"the office's own file"
    assert main([*command, "--force"]) == 0
    assert (office / name).read_bytes() != b"the office's own file"


@pytest.mark.parametrize("command", WRITERS, ids=lambda c: " ".join(c[:3]))
def test_a_command_refuses_a_missing_folder_and_names_it(
    office: Path, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    name = next(arg for arg in command if "." in arg)
    target = f"bao-cao-thang-5/{name}"
    command = [target if arg == name else arg for arg in command]
    assert main(command) == 2
    assert capsys.readouterr().err.strip() == (
        f"Thư mục bao-cao-thang-5 chưa có nên chưa ghi {target}. Đề nghị kiểm tra lại đường "
        "dẫn, hoặc tạo thư mục trước."
    )
    assert not (office / "bao-cao-thang-5").exists()


def test_drafts_export_makes_only_its_own_folder_never_a_missing_parent(
    office: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["drafts", "export", "xuat/tham-luan"]) == 2
    assert capsys.readouterr().err.strip() == (
        "Thư mục xuat chưa có nên chưa ghi xuat/tham-luan. Đề nghị kiểm tra lại đường dẫn, "
        "hoặc tạo thư mục trước."
    )
    assert not (office / "xuat").exists()
    assert main(["drafts", "export", "tham-luan-xuat"]) == 0
    assert (office / "tham-luan-xuat" / "danh-muc-tham-luan.xlsx").is_file()


def test_rehearse_says_before_it_starts_that_its_report_would_overwrite_a_file(
    office: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (office / "bao-cao-dien-tap.xlsx").write_bytes(b"last week's rehearsal")
    assert main(["rehearse"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""  # nothing was played
    assert captured.err.strip() == (
        "Tệp bao-cao-dien-tap.xlsx đã có nên chưa ghi đè. Thêm --force để ghi đè, hoặc chọn "
        "tên tệp khác."
    )
    assert (office / "bao-cao-dien-tap.xlsx").read_bytes() == b"last week's rehearsal"
    assert main(["rehearse", "--report", "khong-co/bao-cao.xlsx"]) == 2
    assert capsys.readouterr().err.startswith("Thư mục khong-co chưa có nên chưa ghi ")
    assert not (office / "khong-co").exists()


def test_invites_mark_sent_marks_the_codes_or_every_unsent_once_and_says_how_many(
    office: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["delegates", "import", str(EXAMPLE_DELEGATES)]) == 0
    capsys.readouterr()
    # A code on no one's list: the others marked, said, and exit 2 (a script learns it); no
    # print of the slips recorded here (printed with another tool?): marked, and said so.
    assert main(["invites", "mark-sent", "--how", "paper", "--codes", "DB001,db002,XX999"]) == 2
    assert capsys.readouterr().out.splitlines()[1:] == [
        "Đã ghi nhận: đã gửi giấy mời bản giấy cho 2 đại biểu.",
        "Không có 1 mã sau trong danh sách: XX999.",
        "Chưa ghi nhận lần in giấy mời nào trong hệ thống (lệnh in phiếu hoặc xuất danh sách "
        "đường liên kết, hay nút tải phiếu hoặc danh sách đường liên kết), nên vẫn đánh dấu như "
        "đồng chí chọn. Đề nghị đồng chí kiểm tra giấy mời đã phát mang đường liên kết hiện tại "
        "của từng người.",
    ]
    assert main(["invites", "mark-sent", "--how", "zalo", "--all-unsent"]) == 0
    assert capsys.readouterr().out.splitlines()[1:] == [
        "Đã ghi nhận: đã gửi giấy mời qua Zalo cho 78 đại biểu.",
    ]
    # Run again: no one more, those named keep the mark they had, and a safe re-run exits 0.
    assert main(["invites", "mark-sent", "--how", "sms", "--codes", "DB001,DB003"]) == 0
    assert capsys.readouterr().out.splitlines()[1:] == [
        "Không đánh dấu thêm đại biểu nào.",
        "2 đại biểu đã được đánh dấu từ trước, giữ nguyên.",
    ]
    assert main(["invites", "mark-sent", "--how", "sms", "--all-unsent"]) == 0
    assert capsys.readouterr().out.splitlines()[1:] == ["Không đánh dấu thêm đại biểu nào."]
    with sqlite3.connect(office / "hoinghi.db") as db:
        vias = dict(db.execute("SELECT sent_via, count(*) FROM invitations GROUP BY sent_via"))
        audited = db.execute(
            "SELECT count(*) FROM audit_log WHERE action = 'invitation.sent'"
        ).fetchone()[0]
    assert vias == {"paper": 2, "zalo": 78}
    assert audited == 80
    # One of the two ways to say whom is needed, and how it was sent: never a guess.
    with pytest.raises(SystemExit):
        main(["invites", "mark-sent", "--how", "paper"])
    with pytest.raises(SystemExit):
        main(["invites", "mark-sent", "--all-unsent"])
    assert capsys.readouterr().err.splitlines()[-2] == (
        "hoinghi invites mark-sent: lỗi: còn thiếu --how."
    )


def test_invites_print_is_recorded_and_a_mark_on_paper_after_it_says_nothing_of_a_print(
    office: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["delegates", "import", str(EXAMPLE_DELEGATES)]) == 0
    assert main(["invites", "print", "phieu.docx", "--bot-username", "hoinghi_bot"]) == 0
    with sqlite3.connect(office / "hoinghi.db") as db:
        printed = db.execute(
            "SELECT actor, entity, before, after FROM audit_log WHERE action = 'invitation.printed'"
        ).fetchall()
    assert printed == [("cli", "meeting", "null", '{"file": "slips"}')]  # when, who, which
    capsys.readouterr()
    assert main(["invites", "mark-sent", "--how", "paper", "--all-unsent"]) == 0
    assert capsys.readouterr().out.splitlines()[1:] == [
        "Đã ghi nhận: đã gửi giấy mời bản giấy cho 80 đại biểu.",
    ]


def test_the_links_export_counts_as_a_print_for_a_mark_on_paper(
    office: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A clerk prints the invitation letters from the links export (a mail merge): it carries
    each link and code as a slip does, so it is recorded as a print, and a bulk mark on paper
    after it neither says no print is recorded nor leaves out the links it carried."""
    assert main(["delegates", "import", str(EXAMPLE_DELEGATES)]) == 0
    assert main(["invites", "export", "links.csv", "--bot-username", "hoinghi_bot"]) == 0
    with sqlite3.connect(office / "hoinghi.db") as db:
        printed = db.execute(
            "SELECT actor, entity, after FROM audit_log WHERE action = 'invitation.printed'"
        ).fetchall()
    assert printed == [("cli", "meeting", '{"file": "links"}')]
    capsys.readouterr()
    assert main(["invites", "mark-sent", "--how", "paper", "--all-unsent"]) == 0
    assert capsys.readouterr().out.splitlines()[1:] == [
        "Đã ghi nhận: đã gửi giấy mời bản giấy cho 80 đại biểu.",
    ]


def test_slips_and_links_made_without_the_zalo_token_say_the_plan_s_zalo_bot_was_left_out(
    office: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`run` had ZALO_BOT_TOKEN on its own line; `invites print` in another terminal, without
    it, wrote 80 slips that never named the bot, and said nothing of it."""
    assert main(["delegates", "import", str(EXAMPLE_DELEGATES)]) == 0
    plan = office / "config.toml"
    plan.write_text(
        plan.read_text(encoding="utf-8") + '\n[zalo]\nbot_name = "Bot Hội nghị LHPN"\n',
        encoding="utf-8",
    )
    monkeypatch.delenv("ZALO_BOT_TOKEN", raising=False)
    capsys.readouterr()
    assert main(["invites", "print", "slips.docx", "--bot-username", "hoinghi_bot"]) == 0
    assert capsys.readouterr().err.splitlines() == [
        "Lưu ý: phiếu không nêu bot Zalo «Bot Hội nghị LHPN» vì cửa sổ dòng lệnh này chưa đặt "
        "biến môi trường ZALO_BOT_TOKEN (bot chỉ được nêu khi token của bot có trong môi trường "
        "của lệnh). Nếu bot đang chạy (hoinghi run có ZALO_BOT_TOKEN), đề nghị đặt "
        "ZALO_BOT_TOKEN trong cửa sổ này rồi in lại với --force, để phiếu hướng dẫn đại biểu "
        "gửi mã cho bot trên Zalo."
    ]
    assert main(["invites", "export", "links.xlsx", "--bot-username", "hoinghi_bot"]) == 0
    assert capsys.readouterr().err.splitlines() == [
        "Lưu ý: cột «Hướng dẫn gửi mã cá nhân» không nêu bot Zalo «Bot Hội nghị LHPN» vì cửa sổ "
        "dòng lệnh này chưa đặt biến môi trường ZALO_BOT_TOKEN (bot chỉ được nêu khi token của "
        "bot có trong môi trường của lệnh). Nếu bot đang chạy (hoinghi run có ZALO_BOT_TOKEN), "
        "đề nghị đặt ZALO_BOT_TOKEN trong cửa sổ này rồi xuất lại với --force."
    ]
    monkeypatch.setenv("ZALO_BOT_TOKEN", "1234567890:" + "a" * 40)  # named: nothing to say
    assert main(["invites", "print", "slips.docx", "--force", "--bot-username", "x_bot"]) == 0
    assert capsys.readouterr().err == ""
