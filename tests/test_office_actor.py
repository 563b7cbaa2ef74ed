"""An :class:`OfficeActor` is the access module's alone to issue, and every use case only the
office may run demands one: an adapter, or a new route in the core, cannot run an office use
case for someone it did not first put through :meth:`Access.office`."""

from __future__ import annotations

import ast
import inspect
import typing
from pathlib import Path

import pytest

from bot.services import Services
from bot.services.access import OfficeActor
from tests.conftest import ROOT

ACCESS_MODULE = "bot/services/access.py"
PRODUCT = ("bot", "handlers", "storage", "schedules", "rehearsal")

# The use cases only the office may run, by the service that holds them (None: every public
# method of the service).
OFFICE_ONLY: dict[str, tuple[str, ...] | None] = {
    "broadcasts": None,
    "drafts": ("assign", "unassign", "set_verdict", "comment_from_office", "begin_comment"),
    "tasks": ("close",),
    "invitations": ("reissue", "unlink"),
    "access": ("grant", "revoke"),
}


def test_an_office_actor_made_outside_the_access_module_is_refused() -> None:
    for key in (object(), None):
        with pytest.raises(TypeError, match=r"issued by bot\.services\.access only"):
            OfficeActor(key, actor="telegram:1", name="Văn phòng", report_to=None, person_id=None)


def office_actors_made(root: Path) -> list[str]:
    """``<file>:<line>`` of every call of ``OfficeActor`` and every reach for the access
    module's key (imported from it, or read off it), outside the access module, in the
    product's packages under ``root``."""
    found = set()
    for package in PRODUCT:
        for path in sorted((root / package).rglob("*.py")):
            name = path.relative_to(root).as_posix()
            if name == ACCESS_MODULE:
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if _makes_or_reaches_for_the_key(node):
                    found.add(f"{name}:{getattr(node, 'lineno', 0)}")
    return sorted(found)


def _makes_or_reaches_for_the_key(node: ast.AST) -> bool:
    match node:
        case ast.Call(func=ast.Name(id="OfficeActor") | ast.Attribute(attr="OfficeActor")):
            return True
        case ast.ImportFrom(module="bot.services.access", names=names):
            return any(alias.name == "_KEY" for alias in names)
        case ast.Attribute(attr="_KEY", value=ast.Name(id="access") | ast.Attribute(attr="access")):
            return True
    return False


def test_only_the_access_module_makes_office_actors() -> None:
    assert (ROOT / ACCESS_MODULE).exists()
    assert office_actors_made(ROOT) == []


def test_a_planted_office_actor_is_found(tmp_path: Path) -> None:
    (tmp_path / "bot" / "chat").mkdir(parents=True)
    (tmp_path / "handlers").mkdir()
    (tmp_path / "bot" / "chat" / "forged.py").write_text(
        "from bot.services import access\n"
        "def forge():\n"
        "    return access.OfficeActor(access._KEY, actor='x', name='', report_to=None,\n"
        "                              person_id=None)\n",
        encoding="utf-8",
    )
    (tmp_path / "handlers" / "forged.py").write_text(
        "from bot.services.access import _KEY, OfficeActor\nactor = OfficeActor(_KEY)\n",
        encoding="utf-8",
    )
    assert office_actors_made(tmp_path) == [
        "bot/chat/forged.py:3",
        "handlers/forged.py:1",
        "handlers/forged.py:2",
    ]


def lacking_an_actor(service: object, names: tuple[str, ...] | None, label: str) -> list[str]:
    """The use cases of ``service`` among ``names`` (every public one if None) that can be
    called without an :class:`OfficeActor`, or that do not exist. Read off the instance, so a
    service whose use cases live in modules of their own (a facade) is read the same."""
    if names is None:
        methods = inspect.getmembers(service, inspect.ismethod)
        names = tuple(name for name, _ in methods if not name.startswith("_"))
    lacking = []
    for name in names:
        method = getattr(service, name, None)
        if not inspect.ismethod(method):
            lacking.append(f"{label}.{name} is gone")
            continue
        hints = typing.get_type_hints(method)
        demands = [
            parameter
            for parameter in inspect.signature(method).parameters.values()
            if hints.get(parameter.name) is OfficeActor and parameter.default is parameter.empty
        ]
        if not demands:
            lacking.append(f"{label}.{name}")
    return lacking


async def test_every_office_only_use_case_demands_an_office_actor(services: Services) -> None:
    lacking = [
        method
        for attribute, names in OFFICE_ONLY.items()
        for method in lacking_an_actor(getattr(services, attribute), names, attribute)
    ]
    assert lacking == []


class _Leaky:
    async def close(self, office: OfficeActor, task_id: int) -> None:
        """Demands an actor."""

    async def reopen(self, task_id: int, office: OfficeActor | None = None) -> None:
        """Does not: an optional actor is no proof."""

    async def _helper(self) -> None:
        """Private: not a use case."""


def test_a_use_case_without_an_actor_is_found() -> None:
    assert lacking_an_actor(_Leaky(), None, "leaky") == ["leaky.reopen"]
    assert lacking_an_actor(_Leaky(), ("close", "delete"), "leaky") == ["leaky.delete is gone"]
