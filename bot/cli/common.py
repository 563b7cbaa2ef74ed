"""What every ``hoinghi`` command shares: exit codes, output, the config, files it writes, and
the app opened on the plan's database (a database or a platform that cannot be used is an
answer, not a traceback)."""

from __future__ import annotations

import argparse
import asyncio
import os
import shlex
import shutil
import sys
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import TextIO, TypeVar

from sqlalchemy.engine import make_url

from bot.app import App, Refusal, Storage, channel_secrets, open_app, open_storage
from bot.config import (
    CONFIG_ENV,
    TOKEN_ENV,
    Config,
    ConfigError,
    LoadedConfig,
    config_path,
    load_config,
    plan_warnings,
)
from bot.delegate_file import RowProblem
from bot.domain.clock import SystemClock
from bot.errors import ChannelUnavailable
from bot.logs import mask_secrets, use_format
from bot.services import Services
from bot.services.meetings import (
    CodeTaken,
    StoredMeeting,
    answered_days_gone,
    answered_days_unreadable,
    date_moved,
    invited_substitutes,
    own_deadlines_after_start,
)
from bot.texts import DEFAULT_LOCALE, Catalog, load_catalog
from bot.texts.formatting import moment
from bot.texts.presenters import problem_line
from storage.guard import DatabaseUnavailable

T = TypeVar("T")

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INVALID, EXIT_UNAVAILABLE = 0, 1, 2, 3, 4
# The command as installed on PATH (pyproject's [project.scripts]).
PROGRAM = "hoinghi"


def out(text: str, stream: TextIO | None = None) -> None:
    """One line to the terminal (stdout unless ``stream``)."""
    print(text, file=stream or sys.stdout)


def say(catalog: Catalog, refusal: Refusal) -> str:
    """A refusal of the app in words."""
    return catalog.plain(refusal.key, **refusal.params)


def load(args: argparse.Namespace) -> tuple[LoadedConfig, Catalog] | int:
    """The validated config and a catalog in its locale, or an exit code after printing why."""
    path = config_path(args.config)
    try:
        loaded = load_config(path)
    except ConfigError as exc:
        print_config_errors(load_catalog(DEFAULT_LOCALE), exc)
        return EXIT_INVALID
    # A further Zalo bot's token lives in a variable the plan names: masked from here on.
    mask_secrets(channel_secrets(os.environ, loaded.config))
    use_format(loaded.config.logging.format)  # the lines before this are text: no plan yet
    return loaded, load_catalog(loaded.config.meeting.locale)


def command_prefix(args: argparse.Namespace) -> str:
    """How a hint names the command so that, copied as printed, it works on the same plan:
    the program as this one was started (:func:`invoked_as`, kept by ``main`` in
    ``args.program``; ``hoinghi`` when called in-process) with the ``--config`` that was given,
    or the plan ``$HOINGHI_CONFIG`` named (the clerk may paste it where the variable is not
    set); without either it reads ./config.toml."""
    program = getattr(args, "program", "") or PROGRAM
    path = args.config or os.environ.get(CONFIG_ENV)
    return f"{program} --config {shlex.quote(str(path))}" if path else program


def invoked_as(argv0: str, executable: str, path: str | None = None) -> str:
    """The program as the operator can type it again, from how this process was started
    (``argv0``: ``sys.argv[0]``; ``executable``: ``sys.executable``; ``path``: the ``PATH`` to
    look the command up in, else the process's). ``make run`` starts ``.venv/bin/hoinghi``,
    which a bare ``hoinghi`` does not find unless the virtualenv is activated: then the path
    as it was typed (from the same directory, as the ``--config`` beside it). The bare name
    when ``PATH`` finds this very program under it; ``python -m bot``: that interpreter and
    ``-m bot``."""
    if not argv0:
        return PROGRAM
    started = Path(argv0)
    if started.name == "__main__.py":  # python -m bot
        return f"{shlex.quote(executable or 'python3')} -m bot"
    found = shutil.which(started.name, path=path)
    if found is not None and _same_file(found, argv0):
        return started.name
    return shlex.quote(argv0)


def _same_file(one: str, other: str) -> bool:
    """Whether two paths name one file (False when either is missing)."""
    try:
        return os.path.samefile(one, other)
    except OSError:
        return False


def meeting_line(catalog: Catalog, config: Config) -> str:
    """Which meeting a command changed, by its title and code: several may share a database.
    The full title: a copied plan may keep the other meeting's short one."""
    meeting = config.meeting
    return catalog.plain("cli.meeting", title=meeting.title, code=meeting.code)


def code_taken_message(
    catalog: Catalog, loaded: LoadedConfig, stored: StoredMeeting, *, refused: bool
) -> str:
    """The database's meeting with the plan's code and the plan's own, side by side: a warning
    (``check``) or why a command changed nothing (``refused``): both differ (a copied plan), or
    one of the two of a meeting that has taken place (neither renamed nor postponed)."""
    meeting = loaded.config.meeting
    both = stored.title != meeting.title and stored.starts_at != meeting.starts_at
    key = "cli.code_taken" if both else "cli.code_held"
    how = (
        catalog.plain("cli.held_checked_in", count=stored.checked_in)
        if stored.checked_in
        else catalog.plain("cli.held_ended")
    )
    extra = {"how": how} if key == "cli.code_held" else {}
    return catalog.plain(
        f"{key}_refused" if refused else key,
        **extra,
        code=meeting.code,
        stored_title=stored.title,
        stored_start=moment(catalog, meeting.local(stored.starts_at)),
        title=meeting.title,
        start=moment(catalog, meeting.local(meeting.starts_at)),
        path=loaded.path,
    )


def print_config_errors(catalog: Catalog, error: ConfigError) -> None:
    """Every problem of a config file, one line each, to stderr."""
    out(catalog.plain("cli.config_invalid", path=error.path, count=len(error.problems)), sys.stderr)
    for problem in error.problems:
        key = f"config_errors.{problem.code}"
        params = {"value": "", "detail": "", **problem.params}
        message = catalog.plain(key if catalog.has(key) else "config_errors.other", **params)
        where = problem.key or catalog.plain("cli.config_file")
        out(catalog.plain("cli.problem_line", where=where, message=message), sys.stderr)


def force_option(parser: argparse.ArgumentParser) -> None:
    """``--force``: overwrite the file a command writes."""
    parser.add_argument("--force", action="store_true", help="ghi đè nếu tệp đã có")


def same_meeting_option(parser: argparse.ArgumentParser) -> None:
    """``--same-meeting``: the plan is the meeting the database holds under its code, though
    both its title and its start changed (otherwise such a plan is refused as another
    meeting's copy)."""
    parser.add_argument(
        "--same-meeting",
        action="store_true",
        help="xác nhận kế hoạch này đúng là hội nghị đã lưu cùng mã trong cơ sở dữ liệu, "
        "dù đã đổi cả tên lẫn thời gian",
    )


def sheet_option(parser: argparse.ArgumentParser) -> None:
    """``--sheet``: which sheet of an XLSX list to read."""
    parser.add_argument(
        "--sheet",
        metavar="TÊN",
        help="trang (sheet) của tệp XLSX cần đọc; mặc định: trang có dòng tiêu đề danh sách",
    )


def absent_option(parser: argparse.ArgumentParser) -> None:
    """``--absent``: where to write everyone the database has and the list no longer names."""
    parser.add_argument(
        "--absent",
        type=Path,
        metavar="TỆP",
        help="ghi danh sách đầy đủ những người có trong cơ sở dữ liệu mà tệp không còn liệt kê "
        "ra tệp .csv hoặc .xlsx mới",
    )


def target_problem(path: Path, force: bool, catalog: Catalog) -> str | None:
    """Why a command should not write ``path``: its folder is missing (a mistyped path must not
    create folders), it is a folder, or it exists and ``--force`` was not given."""
    if not path.parent.is_dir():
        return catalog.plain("output.no_folder", folder=path.parent, path=path)
    if path.is_dir():
        return catalog.plain("output.is_folder", path=path)
    if path.exists() and not force:
        return catalog.plain("output.exists", path=path)
    return None


def write_file(path: Path, content: bytes, *, force: bool, catalog: Catalog) -> str | None:
    """Write ``content`` to ``path`` (a new file unless ``force``: checked again as it is
    opened); None, or why it could not be written."""
    try:
        with path.open("wb" if force else "xb") as fh:
            fh.write(content)
    except FileExistsError:
        return catalog.plain("output.exists", path=path)
    except FileNotFoundError:
        return catalog.plain("output.no_folder", folder=path.parent, path=path)
    except IsADirectoryError:
        return catalog.plain("output.is_folder", path=path)
    except OSError as exc:  # e.g. the file is open in Excel on Windows
        return catalog.plain("output.unwritable", path=path, reason=exc.strerror or exc)
    return None


def warnings_of(
    loaded: LoadedConfig, catalog: Catalog, stored: StoredMeeting | None = None
) -> list[tuple[str, str]]:
    """What the plan says that its office probably did not mean, and what it changes of the
    meeting the database holds (``stored``: a date moved): (key, message) pairs."""
    meeting = loaded.config.meeting
    lines = []
    problems = plan_warnings(loaded.config, SystemClock().now())
    own = own_deadlines_after_start(stored, loaded.config)
    gone = answered_days_gone(stored, loaded.config) + answered_days_unreadable(stored)
    gone += invited_substitutes(stored)
    for warning in problems + date_moved(stored, loaded.config) + gone + own:
        params = {
            name: moment(catalog, meeting.local(value)) if isinstance(value, datetime) else value
            for name, value in warning.params.items()
        }
        lines.append((warning.key, catalog.plain(f"config_warnings.{warning.code}", **params)))
    return lines


def safe_url(url: str) -> str:
    """A database URL without its password."""
    return make_url(url).render_as_string(hide_password=True)


def print_problems(catalog: Catalog, problems: Sequence[RowProblem]) -> None:
    """One line per problem of a list, to stderr, as ``delegates import`` says them."""
    for problem in problems:
        out(problem_line(catalog, "import.problem", problem), sys.stderr)


# --- the database and the app ------------------------------------------------------------------


async def with_storage(
    loaded: LoadedConfig,
    catalog: Catalog,
    work: Callable[[Storage], Awaitable[T]],
    *,
    exclusive: str | None = None,
) -> T | int:
    """The database at the newest schema (:func:`bot.app.open_storage`), then ``work``. A
    database that cannot be used is said in one line (exit code 4), before anything else runs."""
    try:
        async with open_storage(loaded, exclusive=exclusive) as storage:
            return await work(storage)
    except DatabaseUnavailable as problem:
        out(database_problem(catalog, problem, exclusive or "upgrade"), sys.stderr)
        return EXIT_UNAVAILABLE


async def with_app(
    loaded: LoadedConfig,
    catalog: Catalog,
    work: Callable[[App], Awaitable[T]],
    *,
    exclusive: str | None = None,
    same_meeting: bool = False,
) -> T | int:
    """The app on the plan's database (see :func:`with_storage`), then ``work``; always closed.
    A plan that reuses the code of another meeting in the database is refused (exit code 3)
    before anything is written, unless ``same_meeting``."""
    try:
        async with open_app(loaded, catalog, exclusive=exclusive, same_meeting=same_meeting) as app:
            return await work(app)
    except DatabaseUnavailable as problem:
        out(database_problem(catalog, problem, exclusive or "upgrade"), sys.stderr)
        return EXIT_UNAVAILABLE
    except CodeTaken as taken:
        out(code_taken_message(catalog, loaded, taken.stored, refused=True), sys.stderr)
        return EXIT_INVALID


async def with_services(
    loaded: LoadedConfig,
    catalog: Catalog,
    work: Callable[[Services], Awaitable[T]],
    *,
    exclusive: str | None = None,
    same_meeting: bool = False,
) -> T | int:
    """The app's services (see :func:`with_app`), then ``work``."""

    async def on_services(app: App) -> T:
        return await work(app.services)

    return await with_app(
        loaded, catalog, on_services, exclusive=exclusive, same_meeting=same_meeting
    )


def run_channel(
    catalog: Catalog,
    loaded: LoadedConfig,
    work: Callable[[App], Awaitable[int]],
    *,
    exclusive: str | None = None,
    same_meeting: bool = False,
) -> int:
    """Run work that talks to the messaging platform; a refusal is an answer, not a traceback."""
    try:
        return asyncio.run(
            with_app(loaded, catalog, work, exclusive=exclusive, same_meeting=same_meeting)
        )
    except ChannelUnavailable as exc:
        out(
            catalog.plain(f"cli.channel_{exc.reason}", env=TOKEN_ENV, detail=exc.detail), sys.stderr
        )
        return EXIT_UNAVAILABLE


# What a scoped lock's refusal names (:mod:`storage.guard`): the meeting's code, the channel.
_SCOPE_NAMES = {"meeting_in_use": "meeting", "bot_in_use": "channel"}


def database_problem(catalog: Catalog, problem: DatabaseUnavailable, doing: str) -> str:
    """Why the database cannot be used, and what to do, in one line; ``doing`` is what was
    refused when another process holds it (``run``, ``purge`` or ``upgrade``)."""
    command, _, pid = problem.holder.rpartition(" ")
    holder = (
        catalog.plain("cli.database_holder", command=command, pid=pid)
        if command and pid.isdigit()
        else catalog.plain("cli.database_holder_unknown")
    )
    if problem.reason in ("in_use", "upgrade_in_use"):
        doing = "upgrade" if problem.reason == "upgrade_in_use" else doing
        return catalog.plain(f"cli.database_in_use_{doing}", database=problem.where, holder=holder)
    if (named := _SCOPE_NAMES.get(problem.reason)) is not None:  # a run's scope (storage.guard)
        return catalog.plain(
            f"cli.database_{problem.reason}",
            database=problem.where,
            holder=holder,
            **{named: problem.detail},
        )
    return catalog.plain(
        f"cli.database_{problem.reason}",
        database=problem.where,
        folder=problem.folder,
        detail=problem.detail,
    )
