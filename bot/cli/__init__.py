"""The ``hoinghi`` command: it parses the arguments and calls the app or the services.

One module per group of commands; :mod:`bot.app` builds what they use, in the order config →
storage → services → channels. Nothing is built at import time.
"""

from __future__ import annotations

import argparse
import gc
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from bot.app import WEBHOOK_SECRET_ENV, channel_secrets
from bot.cli.common import (
    PROGRAM,
    absent_option,
    force_option,
    invoked_as,
    same_meeting_option,
    sheet_option,
)
from bot.cli.db import cmd_db_backup, cmd_db_copy, cmd_db_upgrade, cmd_purge
from bot.cli.files import (
    bot_username_option,
    cmd_attendance_cards,
    cmd_attendance_export,
    cmd_attendance_present,
    cmd_attendance_sheet,
    cmd_audit_export,
    cmd_drafts_export,
    cmd_invites_export,
    cmd_invites_print,
    cmd_report,
)
from bot.cli.parser import Parser
from bot.cli.people import (
    cmd_delegates_import,
    cmd_delegates_reinvite,
    cmd_delegates_withdraw,
    cmd_invites_mark_sent,
    cmd_staff_add,
    cmd_staff_list,
    cmd_staff_login,
    cmd_staff_remove,
)
from bot.cli.plan import cmd_check
from bot.cli.rehearse import EXAMPLES, cmd_rehearse
from bot.cli.run import cmd_run
from bot.logs import setup_logging
from bot.services.access import Role


def main(argv: Sequence[str] | None = None) -> int:
    """Run one sub-command; the exit code is 0 on success."""
    # python-telegram-bot's retry_after becomes a timedelta; opt in now (the code reads both).
    os.environ.setdefault("PTB_TIMEDELTA", "1")
    args = _parser().parse_args(argv)
    # How the hints name this command (command_prefix): as it was started from the shell
    # (`make run`: .venv/bin/hoinghi); called in-process with its arguments, the installed name.
    args.program = invoked_as(sys.argv[0], sys.executable) if argv is None else PROGRAM
    # The running bot's log is its output; an office command answers in Vietnamese, and its
    # internal notes stay out of that answer unless -v asks for them.
    quiet = logging.INFO if args.command is cmd_run else logging.WARNING
    setup_logging(logging.DEBUG if args.verbose else quiet, secrets=channel_secrets(os.environ))
    command: Callable[[argparse.Namespace], int] = args.command
    # What start-up built (modules, classes, SQLAlchemy's and pydantic's tables) lives as long
    # as the command: the garbage collector's full passes need not walk it again each time the
    # command's own objects trigger one (10,000 rows of a file: about 0.3 s of CPU, a tenth of
    # `invites export`; bench/README.md). `run` freezes again once its app is built.
    frozen_before = gc.get_freeze_count()
    gc.freeze()
    try:
        return command(args)
    finally:
        if not frozen_before:  # as it was: a caller in the same process (tests) collects it all
            gc.unfreeze()


def _parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="hoinghi",
        description=(
            "Trợ lý điều phối đại biểu hội nghị: giấy mời, xác nhận, nhắc việc và thông báo"
            " qua trang cá nhân, Zalo và Telegram; trang điều hành cho Văn phòng."
        ),
    )
    parser.add_argument(
        "--config",
        metavar="TỆP",
        help="tệp cấu hình (mặc định: $HOINGHI_CONFIG, rồi ./config.toml)",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="ghi nhật ký chi tiết")
    sub = parser.add_subparsers(required=True, metavar="LỆNH")

    run = sub.add_parser("run", help="chạy bot (tự tạo hoặc nâng cấp cơ sở dữ liệu)")
    run.add_argument(
        "--webhook",
        action="store_true",
        help=f"nhận cập nhật qua webhook thay vì long polling (khóa bí mật: ${WEBHOOK_SECRET_ENV})",
    )
    run.add_argument(
        "--listen",
        metavar="ĐỊA_CHỈ:CỔNG",
        help="địa chỉ:cổng máy chủ webhook (mặc định 127.0.0.1:8443; khi có [web]: cổng web)",
    )
    run.add_argument(
        "--url", metavar="URL", help="địa chỉ công khai HTTPS mà Telegram gửi cập nhật tới"
    )
    same_meeting_option(run)
    run.set_defaults(command=cmd_run)
    sub.add_parser("check", help="kiểm tra tệp cấu hình và in tóm tắt kế hoạch").set_defaults(
        command=cmd_check
    )
    db = sub.add_parser("db", help="cơ sở dữ liệu").add_subparsers(required=True, metavar="LỆNH")
    db.add_parser("upgrade", help="tạo hoặc nâng cấp cơ sở dữ liệu").set_defaults(
        command=cmd_db_upgrade
    )
    backup = db.add_parser(
        "backup", help="sao lưu cơ sở dữ liệu SQLite (chạy được khi bot đang chạy)"
    )
    backup.add_argument("file", type=Path, metavar="TỆP")
    backup.set_defaults(command=cmd_db_backup)
    copy = db.add_parser(
        "copy", help="chép toàn bộ cơ sở dữ liệu sang một cơ sở dữ liệu trống (SQLite → PostgreSQL)"
    )
    copy.add_argument(
        "--to",
        required=True,
        metavar="URL",
        help="ví dụ postgresql+asyncpg://hoinghi@localhost/hoinghi",
    )
    copy.set_defaults(command=cmd_db_copy)

    purge = sub.add_parser(
        "purge", help="xóa dữ liệu cá nhân sau hội nghị, giữ danh sách và số liệu tổng hợp"
    )
    purge.add_argument("--drafts", action="store_true", help="xóa cả các bản tham luận đã gửi")
    purge.add_argument("--force", action="store_true", help="xóa cả khi hội nghị chưa kết thúc")
    answer = purge.add_mutually_exclusive_group()
    answer.add_argument(
        "--dry-run", action="store_true", help="chỉ cho biết sẽ xóa những gì, không xóa"
    )
    answer.add_argument(
        "-y", "--yes", action="store_true", help="xóa ngay, không hỏi lại (khi chạy từ kịch bản)"
    )
    same_meeting_option(purge)
    purge.set_defaults(command=cmd_purge)

    delegates = sub.add_parser("delegates", help="danh sách đại biểu").add_subparsers(
        required=True, metavar="LỆNH"
    )
    imp = delegates.add_parser("import", help="nhập danh sách đại biểu từ tệp CSV hoặc XLSX")
    imp.add_argument("file", type=Path, metavar="TỆP")
    sheet_option(imp)
    absent_option(imp)
    same_meeting_option(imp)
    replaced_option(imp)
    imp.set_defaults(command=cmd_delegates_import)
    withdraw = delegates.add_parser(
        "withdraw", help="rút giấy mời của người có MÃ (giữ trong danh sách, đánh dấu)"
    )
    withdraw.add_argument("code", metavar="MÃ")
    withdraw.add_argument("--reason", metavar="LÝ_DO", help="lý do (chỉ Văn phòng xem)")
    withdraw.add_argument(
        "--tell",
        action="store_true",
        help="bot nhắn cho người này rằng giấy mời không còn hiệu lực (mặc định: không nhắn)",
    )
    same_meeting_option(withdraw)
    withdraw.set_defaults(command=cmd_delegates_withdraw)
    reinvite = delegates.add_parser("reinvite", help="mời lại người đã bị rút giấy mời")
    reinvite.add_argument("code", metavar="MÃ")
    same_meeting_option(reinvite)
    reinvite.set_defaults(command=cmd_delegates_reinvite)

    people = sub.add_parser(
        "people", help="người đầu mối nhiệm vụ (cùng định dạng, cột Vai trò = đầu mối)"
    ).add_subparsers(required=True, metavar="LỆNH")
    imp_people = people.add_parser("import", help="nhập danh sách (như delegates import)")
    imp_people.add_argument("file", type=Path, metavar="TỆP")
    sheet_option(imp_people)
    absent_option(imp_people)
    same_meeting_option(imp_people)
    replaced_option(imp_people)
    imp_people.set_defaults(command=cmd_delegates_import)

    staff = sub.add_parser(
        "staff", help="cán bộ Văn phòng: người trong danh sách được giao vai trò"
    ).add_subparsers(required=True, metavar="LỆNH")
    staff_add = staff.add_parser("add", help="giao vai trò Văn phòng (hoặc --role) cho người có MÃ")
    staff_add.add_argument("code", metavar="MÃ")
    _role_option(staff_add)
    same_meeting_option(staff_add)
    staff_add.set_defaults(command=cmd_staff_add)
    staff_remove = staff.add_parser("remove", help="thu hồi vai trò của người có MÃ")
    staff_remove.add_argument("code", metavar="MÃ")
    _role_option(staff_remove)
    same_meeting_option(staff_remove)
    staff_remove.set_defaults(command=cmd_staff_remove)
    staff_list = staff.add_parser("list", help="những người có vai trò, và kênh họ đã liên kết")
    _role_option(staff_list, every=True)
    same_meeting_option(staff_list)
    staff_list.set_defaults(command=cmd_staff_list)
    staff_login = staff.add_parser(
        "login", help="in đường liên kết đăng nhập trang điều hành (một lần, 10 phút) cho MÃ"
    )
    staff_login.add_argument("code", metavar="MÃ")
    same_meeting_option(staff_login)
    staff_login.set_defaults(command=cmd_staff_login)

    invites = sub.add_parser("invites", help="giấy mời").add_subparsers(
        required=True, metavar="LỆNH"
    )
    exp = invites.add_parser("export", help="xuất đường liên kết cá nhân ra tệp CSV hoặc XLSX")
    exp.add_argument("file", type=Path, metavar="TỆP")
    bot_username_option(exp)
    force_option(exp)
    same_meeting_option(exp)
    exp.set_defaults(command=cmd_invites_export)
    prn = invites.add_parser(
        "print", help="phiếu in kèm giấy mời (DOCX): họ tên, chức vụ, đơn vị, mã QR đường liên kết"
    )
    prn.add_argument("file", type=Path, metavar="TỆP")
    bot_username_option(prn)
    force_option(prn)
    same_meeting_option(prn)
    prn.set_defaults(command=cmd_invites_print)
    marks = invites.add_parser(
        "mark-sent",
        help="đánh dấu đã gửi giấy mời cho nhiều người một lần (đã phát giấy mời in sẵn)",
    )
    marks.add_argument(
        "--how", choices=("paper", "zalo", "sms", "phone", "other"), required=True,
        help="cách đã gửi (bắt buộc): paper (giấy mời bản giấy), zalo, sms, phone, other",
    )  # fmt: skip
    whom = marks.add_mutually_exclusive_group(required=True)
    whom.add_argument(
        "--codes", metavar="MÃ,MÃ", help="mã của những người đã gửi, cách nhau dấu phẩy"
    )
    whom.add_argument(
        "--all-unsent", action="store_true",
        help="mọi đại biểu có giấy mời chưa được đánh dấu đã gửi",
    )  # fmt: skip
    same_meeting_option(marks)
    marks.set_defaults(command=cmd_invites_mark_sent)

    drafts = sub.add_parser("drafts", help="tham luận").add_subparsers(
        required=True, metavar="LỆNH"
    )
    exp_drafts = drafts.add_parser(
        "export", help="xuất bản mới nhất của mọi tham luận và danh mục Excel vào một thư mục"
    )
    exp_drafts.add_argument("directory", type=Path, metavar="THƯ_MỤC")
    exp_drafts.add_argument(
        "--approved",
        action="store_true",
        help="chỉ các bản đã chốt, đặt tên và kèm danh sách như tệp nén tải trên trang điều hành",
    )
    same_meeting_option(exp_drafts)
    exp_drafts.set_defaults(command=cmd_drafts_export)

    rehearse = sub.add_parser(
        "rehearse",
        help="diễn tập cả kế hoạch trên một máy, với Telegram mô phỏng (không cần token)",
    )
    rehearse.add_argument(
        "--delegates",
        type=Path,
        metavar="TỆP",
        default=EXAMPLES / "delegates.csv",
        help="danh sách đại biểu",
    )
    rehearse.add_argument(
        "--contacts",
        type=Path,
        metavar="TỆP",
        default=EXAMPLES / "contacts.csv",
        help="danh sách đầu mối",
    )
    rehearse.add_argument(
        "--report",
        type=Path,
        metavar="TỆP",
        default=Path("bao-cao-dien-tap.xlsx"),
        help="tệp báo cáo",
    )
    rehearse.add_argument(
        "--faults",
        action="store_true",
        help="diễn tập khi có sự cố: lỗi 5xx, quá giờ, 429, bot bị dừng đột ngột, người chặn bot",
    )
    rehearse.add_argument("--seed", type=int, metavar="SỐ", default=60, help="hạt giống ngẫu nhiên")
    rehearse.add_argument(
        "--web",
        action="store_true",
        help="mở trang điều hành trên 127.0.0.1 trong khi diễn tập, in đường liên kết đăng nhập",
    )
    rehearse.add_argument(
        "--port",
        type=int,
        metavar="CỔNG",
        default=0,
        help="cổng của trang điều hành (mặc định: một cổng trống)",
    )
    force_option(rehearse)
    rehearse.set_defaults(command=cmd_rehearse)

    report = sub.add_parser(
        "report", help="báo cáo Excel: đại biểu, tổng hợp, tham luận, nhiệm vụ, gửi tin"
    )
    report.add_argument("file", type=Path, metavar="TỆP")
    force_option(report)
    same_meeting_option(report)
    report.set_defaults(command=cmd_report)

    audit = sub.add_parser("audit", help="nhật ký thay đổi").add_subparsers(
        required=True, metavar="LỆNH"
    )
    exp_audit = audit.add_parser(
        "export", help="xuất mọi thay đổi (ai, khi nào, thay đổi gì) ra tệp CSV hoặc XLSX"
    )
    exp_audit.add_argument("file", type=Path, metavar="TỆP")
    force_option(exp_audit)
    same_meeting_option(exp_audit)
    exp_audit.set_defaults(command=cmd_audit_export)

    attendance = sub.add_parser("attendance", help="điểm danh ngày hội nghị").add_subparsers(
        required=True, metavar="LỆNH"
    )
    exp_attendance = attendance.add_parser(
        "export",
        help="xuất mọi lượt điểm danh (ai đến, với tư cách gì, bàn nào, lúc nào) ra CSV hoặc XLSX",
    )
    exp_attendance.add_argument("file", type=Path, metavar="TỆP")
    force_option(exp_attendance)
    same_meeting_option(exp_attendance)
    exp_attendance.set_defaults(command=cmd_attendance_export)
    papers = (
        ("sheet", "ghi danh sách đại biểu ký tên theo nhóm ra tệp .docx", cmd_attendance_sheet),
        ("cards", "ghi bảng tên để bàn của mọi người dự kiến ra tệp .docx", cmd_attendance_cards),
        (
            "present",
            "ghi danh sách đại biểu có mặt và người chưa có mặt ra tệp .xlsx",
            cmd_attendance_present,
        ),
    )
    for name, about, command in papers:
        paper = attendance.add_parser(name, help=about)
        paper.add_argument("file", type=Path, metavar="TỆP")
        force_option(paper)
        same_meeting_option(paper)
        paper.set_defaults(command=command)
    return parser


def replaced_option(parser: argparse.ArgumentParser) -> None:
    """``--confirm-replaced``: the list gives many people already there another person (a new
    name and a new phone) and the office means it."""
    parser.add_argument(
        "--confirm-replaced",
        action="store_true",
        help="xác nhận danh sách đổi cả họ tên lẫn số điện thoại của nhiều người đã có",
    )


def _role_option(parser: argparse.ArgumentParser, *, every: bool = False) -> None:
    """``--role``: office by default, or (``every``, for a listing) every role when not given."""
    parser.add_argument(
        "--role",
        choices=[role.value for role in Role],
        default=None if every else Role.OFFICE.value,
        help=(
            "chỉ một vai trò: office (Văn phòng) hoặc checkin (đón tiếp đại biểu);"
            " mặc định: mọi vai trò"
            if every
            else "vai trò: office (Văn phòng, mặc định) hoặc checkin (đón tiếp đại biểu)"
        ),
    )
