"""The simulated people of a rehearsal: how they are marked, how patient they are, who on the
lists plays which part of the plan, and what each delegate answers.

Nothing here knows a channel: the people act on one through its module (:mod:`rehearsal.telegram`).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from bot.config import Config
from bot.delegate_file import DelegateRow
from bot.texts import Catalog
from storage.queries import fold_code

# Simulated people are marked so in the transcript and in their names on the platform.
SIMULATED = "mô phỏng"
# How often a simulated person repeats a tap or a command the bot does not seem to answer.
TRIES = 3


@dataclass(frozen=True)
class Cast:
    """Who on the lists plays the plan's parts, by the codes the lists write."""

    speakers: list[tuple[str, str]]  # (theme key, code) for each assignment to someone listed
    contacts: dict[str, list[str]]  # task key → the contacts the plan names by code, listed
    group_tasks: list[str]  # tasks given to a group with at least one listed delegate


def cast_of(
    config: Config, catalog: Catalog, people: list[DelegateRow], say: Callable[[str], None]
) -> Cast:
    """Who on the lists plays each part the plan gives a person; a part given to someone the
    lists lack is told (with ``say``) and left out of the play (an office rehearses its own
    plan with its own list, which may not have the example's speakers or contacts)."""
    listed = {fold_code(row.code): row.code for row in people}
    groups = {row.group_key for row in people if row.role == "delegate"}
    labels = {group.key: group.label for group in config.groups}
    speakers: list[tuple[str, str]] = []
    unlisted_speakers: dict[str, list[str]] = {}
    for theme in config.themes:
        for code in theme.speakers:
            if (found := listed.get(fold_code(code))) is not None:
                speakers.append((theme.key, found))
            else:
                unlisted_speakers.setdefault(code, []).append(theme.key)
    contacts: dict[str, list[str]] = {}
    group_tasks: list[str] = []
    unlisted_contacts: dict[str, list[str]] = {}
    empty_groups: list[tuple[str, str]] = []
    for task in config.tasks:
        contacts[task.key] = []
        for contact in task.contacts:
            kind, _, key = contact.partition(":")
            if kind == "group" and key:
                if key in groups:
                    group_tasks.append(task.key)
                else:
                    empty_groups.append((task.key, labels.get(key, key)))
            elif (found := listed.get(fold_code(contact))) is not None:
                contacts[task.key].append(found)
            else:
                unlisted_contacts.setdefault(contact, []).append(task.key)
    for code, themes in unlisted_speakers.items():
        say(catalog.plain("rehearsal.gap.speaker", code=code, themes=", ".join(themes)))
    for code, tasks in unlisted_contacts.items():
        say(catalog.plain("rehearsal.gap.contact", code=code, tasks=", ".join(tasks)))
    for task_key, label in empty_groups:
        say(catalog.plain("rehearsal.gap.task_group", task=task_key, group=label))
    for group in config.groups:
        if group.key not in groups:
            say(catalog.plain("rehearsal.gap.group", group=group.label))
    return Cast(speakers, contacts, group_tasks)


def answers(codes: list[str], rng: random.Random, needed: set[str]) -> dict[str, str]:
    """Who does what: most attend, some send a substitute or decline, some never answer, a few
    never even open their link. Fixed by the seed, so a rehearsal can be repeated exactly."""
    choices = ["attend"] * 70 + ["substitute"] * 7 + ["decline"] * 10 + ["silent"] * 7
    plan = {}
    for code in codes:
        answer = rng.choice([*choices, *(["never"] * 6)])
        plan[code] = rng.choice(choices) if answer == "never" and code in needed else answer
    return plan
