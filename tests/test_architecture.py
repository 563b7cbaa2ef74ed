"""The layering of docs/architecture.md, checked on every import (lazy ones included): nothing outside
handlers/telegram/ imports python-telegram-bot; the core (``bot/`` but its composition root and
CLI, ``storage/``, ``schedules/``) imports no channel adapter; ``schedules/`` runs no use case;
``bot/domain`` and ``bot/texts`` stand on nothing but the plan; ``storage/`` on nothing of ours.

Each rule asserts its exact list of offenders is empty, and a companion plants a violation in a
copy of the layout to show the rule would see it. Ruff's banned-api (pyproject.toml) says the
adapter rules in the editor too; it has one list of banned modules for the whole project, so the
rules between the core's own layers are this file's alone.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path

import pytest

from tests.conftest import ROOT

CORE = ("bot", "storage", "schedules")
# The composition root and the CLI build the application: they are the core's only files that
# may know the adapters, and the CLI reaches them only through bot/app.py.
COMPOSITION = ("bot/app.py", "bot/cli/*")
CLI = ("bot/cli",)


def module_of(path: Path, root: Path) -> str:
    """The dotted name of the module a file under ``root`` is."""
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path, root: Path = ROOT) -> set[str]:
    """Every name a file imports (any depth, lazy imports included), in full: ``from bot
    import services`` imports ``bot.services``, ``from bot.services.access import Caller``
    imports ``bot.services.access.Caller``; relative imports are resolved."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module_of(path, root) if path.name == "__init__.py" else module_of(path.parent, root)
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parents = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parents, *([node.module] if node.module else [])])
            names.update(
                base if alias.name == "*" else f"{base}.{alias.name}" for alias in node.names
            )
    return names


def within(name: str, modules: tuple[str, ...]) -> bool:
    """``name`` is one of ``modules`` or inside one of them (``bot.services.tasks`` is within
    ``bot.services``; ``bot.servicesx`` is not)."""
    return any(name == module or name.startswith(f"{module}.") for module in modules)


@dataclass(frozen=True)
class Rule:
    """Files that may not import some modules: the files ``covers`` names (files, or folders
    taken whole) but ``leaving_out`` (patterns relative to the root) may import nothing within
    ``banned`` but what is within ``allowed``."""

    says: str
    covers: tuple[str, ...]
    banned: tuple[str, ...]
    leaving_out: tuple[str, ...] = ()
    allowed: tuple[str, ...] = ()
    plant_in: str = ""  # a file of the rule's own, for the companion test to plant a leak in

    def files(self, root: Path) -> list[Path]:
        """The files the rule covers."""
        paths = [
            path
            for covered in map(root.joinpath, self.covers)
            for path in ([covered] if covered.is_file() else sorted(covered.rglob("*.py")))
        ]
        return [
            path
            for path in paths
            if not any(fnmatch(path.relative_to(root).as_posix(), p) for p in self.leaving_out)
        ]

    def offenders(self, root: Path) -> list[str]:
        """``<file> imports <module>`` for every import the rule forbids."""
        return sorted(
            f"{path.relative_to(root).as_posix()} imports {name}"
            for path in self.files(root)
            for name in imported_modules(path, root)
            if within(name, self.banned) and not within(name, self.allowed)
        )


RULES = (
    Rule(
        "the core imports no channel adapter",
        covers=CORE,
        banned=("handlers",),
        leaving_out=COMPOSITION,
        plant_in="bot/services/leak.py",
    ),
    Rule(
        "the CLI reaches the adapters only through the composition root",
        covers=CLI,
        banned=("handlers",),
        plant_in="bot/cli/leak.py",
    ),
    Rule(
        "schedules run no use case and know no adapter",
        covers=("schedules",),
        banned=("bot.services", "bot.chat", "bot.app", "bot.cli", "handlers"),
        plant_in="schedules/leak.py",
    ),
    Rule(
        "the domain stands on nothing but the plan",
        covers=("bot/domain",),
        banned=("bot.services", "bot.chat", "bot.app", "bot.cli", "storage", "schedules"),
        plant_in="bot/domain/leak.py",
    ),
    Rule(
        "the texts depend only on the domain and the plan",
        covers=("bot/texts",),
        banned=("bot.services", "bot.chat", "bot.app", "bot.cli", "storage", "schedules"),
        plant_in="bot/texts/leak.py",
    ),
    Rule(
        "nothing outside handlers/web/ imports the web framework",
        covers=("bot", "storage", "schedules", "handlers/telegram", "rehearsal"),
        banned=("starlette", "uvicorn", "jinja2", "python_multipart"),
        leaving_out=("rehearsal/web.py",),
        plant_in="bot/services/leak_web.py",
    ),
    Rule(
        "the web adapter imports no other adapter",
        covers=("handlers/web",),
        banned=("telegram", "handlers.telegram"),
        plant_in="handlers/web/leak.py",
    ),
    Rule(
        "storage imports nothing of ours above it",
        covers=("storage",),
        banned=("bot", "schedules", "handlers"),
        plant_in="storage/leak.py",
    ),
)
RULE_IDS = [rule.says for rule in RULES]


@pytest.mark.parametrize("rule", RULES, ids=RULE_IDS)
def test_the_layers_import_only_downwards(rule: Rule) -> None:
    assert rule.files(ROOT)  # the rule covers files that exist
    assert rule.offenders(ROOT) == []


def _layout(root: Path) -> None:
    """An empty copy of the project's packages under ``root``."""
    folders = ("bot/services", "bot/domain", "bot/texts", "bot/cli", "storage", "schedules")
    for folder in (*folders, "handlers/telegram", "handlers/web", "rehearsal"):
        (root / folder).mkdir(parents=True, exist_ok=True)
        (root / folder / "__init__.py").write_text("", encoding="utf-8")


def _leak(module: str) -> str:
    """A lazy import of ``module`` as a submodule of its parent (``from bot import services``),
    the form easiest to miss."""
    parent, _, last = module.rpartition(".")
    statement = f"from {parent} import {last}" if parent else f"import {module}"
    return f"def later() -> None:\n    {statement}\n"


@pytest.mark.parametrize("rule", RULES, ids=RULE_IDS)
def test_each_layer_rule_sees_a_planted_import(rule: Rule, tmp_path: Path) -> None:
    _layout(tmp_path)
    planted = tmp_path / rule.plant_in
    expected = []
    for number, module in enumerate(rule.banned):
        leak = planted.with_stem(f"{planted.stem}_{number}")
        leak.write_text(_leak(module), encoding="utf-8")
        expected.append(f"{leak.relative_to(tmp_path).as_posix()} imports {module}")
    for module in rule.allowed:  # what a rule allows stays allowed
        planted.with_stem(f"{planted.stem}_allowed").write_text(_leak(module), encoding="utf-8")
    for spared in rule.leaving_out:  # and the files it leaves out stay out
        (tmp_path / spared.replace("*", "run.py")).write_text(_leak(rule.banned[0]), "utf-8")
    assert rule.offenders(tmp_path) == sorted(expected)


def test_a_relative_import_counts_as_the_module_it_reaches(tmp_path: Path) -> None:
    _layout(tmp_path)
    (tmp_path / "bot" / "domain" / "leak.py").write_text(
        "from ..services import tasks\nfrom .clock import Clock\n", encoding="utf-8"
    )
    [domain] = [rule for rule in RULES if rule.covers == ("bot/domain",)]
    assert domain.offenders(tmp_path) == ["bot/domain/leak.py imports bot.services.tasks"]


def test_no_core_module_imports_telegram() -> None:
    offenders = [
        str(path.relative_to(ROOT))
        for package in CORE
        for path in (ROOT / package).rglob("*.py")
        if any(within(name, ("telegram",)) for name in imported_modules(path))
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


def _ruff_banned(root: Path, *files: str) -> str:
    """What ruff's banned-api rule says of ``files`` (paths under ``root``), run with the
    project's own configuration as an editor would."""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "ruff",
            "check",
            "--no-cache",
            "--config",
            str(ROOT / "pyproject.toml"),
            "--select",
            "TID251",
            "--output-format",
            "concise",
            *files,
        ],
        capture_output=True,
        text=True,
        cwd=root,
    )
    assert result.returncode in (0, 1), result.stderr
    return result.stdout


def test_ruff_bans_telegram_imports_outside_the_adapter(tmp_path: Path) -> None:
    leak = tmp_path / "bot" / "leak.py"
    leak.parent.mkdir()
    leak.write_text("import telegram\n", encoding="utf-8")
    said = _ruff_banned(tmp_path, "bot/leak.py")
    assert "Only handlers/telegram/ may import python-telegram-bot" in said


def test_ruff_bans_adapter_imports_in_the_core_but_not_in_the_composition_root(
    tmp_path: Path,
) -> None:
    files = ("bot/services/leak.py", "schedules/leak.py", "bot/app.py", "bot/cli/run.py")
    for name in files:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(_leak("handlers.telegram.app"), encoding="utf-8")
    said = _ruff_banned(tmp_path, *files)
    flagged = sorted({line.split(":")[0] for line in said.splitlines() if "TID251" in line})
    assert flagged == ["bot/services/leak.py", "schedules/leak.py"]
    assert "Only the composition root (bot/app.py)" in said


def test_the_rehearsal_kills_around_the_outbox_never_inside_it() -> None:
    """Issue 16: faults are injected by wrapping a channel's sender, so the rehearsal plays the
    outbox that runs in production. Nothing in rehearsal/ subclasses the outbox, assigns to one
    of its private attributes, or patches it with setattr."""
    offenders = []
    for path in (ROOT / "rehearsal").rglob("*.py"):
        where = str(path.relative_to(ROOT))
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef):
                bases = [ast.unparse(base) for base in node.bases]
                offenders += [f"{where}: {node.name}({b})" for b in bases if "Outbox" in b]
            elif isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                offenders += [
                    f"{where}: {ast.unparse(target)} = …"
                    for target in targets
                    if isinstance(target, ast.Attribute)
                    and target.attr.startswith("_")
                    and "outbox" in ast.unparse(target.value).lower()
                ]
            elif (
                isinstance(node, ast.Call)
                and ast.unparse(node.func).endswith("setattr")
                and node.args
                and "outbox" in ast.unparse(node.args[0]).lower()
            ):
                offenders.append(f"{where}: {ast.unparse(node)}")
    assert offenders == []
