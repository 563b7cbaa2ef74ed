"""What a ``hoinghi`` command loads before it works (issue 17 goal 4: the office pays the
start-up on every command): the file commands import no channel library, no web server, no
Alembic, no scheduler and not the conversation; a database already at the newest schema is
opened without Alembic."""

from __future__ import annotations

import gc
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from bot.cli import files, main
from storage.engine import create_engine
from storage.migrate import head_revision, schema_is_current, shipped_head, upgrade_database
from tests.conftest import EXAMPLE_DELEGATES, ROOT

# What only `run`, `rehearse`, `db upgrade` (Alembic, when the schema changes) or `invites
# print` (python-docx, segno) need: each costs tenths of a second of start-up. (Telegram's link
# maker, handlers.telegram.links, is plain Python: a link for a bot named by the office.)
HEAVY = (
    "telegram",
    "httpx",
    "aiohttp",
    "alembic",
    "mako",
    "pygments",
    "apscheduler",
    "uvicorn",
    "starlette",
    "jinja2",
    "docx",
    "segno",
    "handlers.web",
    "rehearsal",
    "bot.chat",
)
# Prints the modules of HEAVY the interpreter holds (a package or a subpackage such as bot.chat).
LOADED = f"""
import sys
heavy = set({HEAVY!r})
print(sorted(m for m in sys.modules if {{m.split('.')[0], '.'.join(m.split('.')[:2])}} & heavy))
"""


def loaded_after(code: str, cwd: Path) -> list[str]:
    """What a fresh interpreter running ``code`` in ``cwd`` prints, ending with the heavy
    modules it then holds."""
    done = subprocess.run(
        [sys.executable, "-c", f"{code}\n{LOADED}"],
        capture_output=True,
        text=True,
        check=True,
        cwd=cwd,
    )
    return done.stdout.strip().splitlines()


def test_importing_the_command_line_loads_no_channel_web_alembic_scheduler_or_conversation() -> (
    None
):
    assert loaded_after("import bot.cli, bot.app", ROOT) == ["[]"]


def test_invites_export_and_report_load_nothing_heavy_on_a_database_at_the_newest_schema(
    office: Path,
) -> None:
    assert main(["delegates", "import", str(EXAMPLE_DELEGATES)]) == 0
    code = (
        "from bot.cli import main\n"
        "export = main(['invites', 'export', 'links.xlsx', '--bot-username', 'hoinghi_bot'])\n"
        "report = main(['report', 'report.xlsx'])\n"
        "print('exit codes', export, report)"
    )
    said = loaded_after(code, office)
    assert said[-2:] == ["exit codes 0 0", "[]"]
    assert (office / "links.xlsx").stat().st_size > 0 and (office / "report.xlsx").exists()


def test_a_command_runs_with_the_start_up_heap_frozen_and_leaves_the_collector_as_it_was(
    office: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The garbage collector's full passes skip what start-up built while a file command makes
    # its rows (bench/README.md: about 0.3 s of `invites export` at 10,000); a caller in the
    # same process (these tests) finds the collector as it was afterwards.
    assert main(["delegates", "import", str(EXAMPLE_DELEGATES)]) == 0
    gc.unfreeze()  # as in a fresh process: nothing frozen
    during: list[int] = []
    table = files.links_table

    def counting(*args: Any) -> Any:
        during.append(gc.get_freeze_count())
        return table(*args)

    monkeypatch.setattr(files, "links_table", counting)
    assert main(["invites", "export", "links.xlsx", "--bot-username", "hoinghi_bot"]) == 0
    assert len(during) == 1 and during[0] > 10_000  # every module, class and table of start-up
    assert gc.get_freeze_count() == 0


def test_the_shipped_head_read_from_the_migration_files_is_alembics_head() -> None:
    assert shipped_head() == head_revision()


async def test_only_a_database_at_the_newest_schema_is_current(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'hoinghi.db'}")
    try:
        assert await schema_is_current(engine) is False  # a new database
        await upgrade_database(engine)
        assert await schema_is_current(engine) is True
        async with engine.begin() as connection:
            await connection.execute(text("UPDATE alembic_version SET version_num = '0017'"))
        assert await schema_is_current(engine) is False  # an older schema
    finally:
        await engine.dispose()
