"""The layering of DESIGN.md: nothing outside handlers/telegram/ imports python-telegram-bot."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

CORE = ("bot", "storage", "schedules")


def imported_modules(path: Path) -> set[str]:
    """Top-level names of every module a file imports (any depth, lazy imports included)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_no_core_module_imports_telegram() -> None:
    offenders = [
        str(path.relative_to(ROOT))
        for package in CORE
        for path in (ROOT / package).rglob("*.py")
        if any(
            name == "telegram" or name.startswith("telegram.") for name in imported_modules(path)
        )
    ]
    assert offenders == []


def test_storage_and_schedules_do_not_reach_up_into_bot_services_or_handlers() -> None:
    offenders = [
        f"{path.relative_to(ROOT)} imports {name}"
        for package in ("storage", "schedules")
        for path in (ROOT / package).rglob("*.py")
        for name in imported_modules(path)
        if name.startswith(("handlers", "bot.services", "bot.cli"))
    ]
    assert offenders == []


def test_importing_the_core_loads_no_telegram_module() -> None:
    code = (
        "import sys, bot.cli, bot.services, storage.models, bot.domain.clock; "
        "print(sorted(m for m in sys.modules if m == 'telegram' or m.startswith('telegram.')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert result.stdout.strip() == "[]"


def test_ruff_bans_telegram_imports_outside_the_adapter(tmp_path: Path) -> None:
    leak = tmp_path / "bot" / "leak.py"
    leak.parent.mkdir()
    leak.write_text("import telegram\n", encoding="utf-8")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "ruff",
            "check",
            "--config",
            str(ROOT / "pyproject.toml"),
            "--select",
            "TID251",
            str(leak),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert result.returncode == 1
    assert "Only handlers/telegram/ may import python-telegram-bot" in result.stdout


def test_texts_depend_only_on_the_domain_and_config() -> None:
    offenders = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path in (ROOT / "bot" / "texts").rglob("*.py")
        for name in imported_modules(path)
        if name.startswith(("bot.services", "handlers", "storage", "schedules"))
    ]
    assert offenders == []
