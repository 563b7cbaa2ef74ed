"""``hoinghi rehearse``: the whole plan on one machine, without a token.

The real bot — its channel adapter, the services, the outbox, SQLite — runs against a simulated
platform checked against the platform's official method list, with simulated delegates,
speakers, task contacts and office staff. Time is the injected clock: the plan's timeline, from
the invitations to the meeting morning, is walked through event by event, so a month of
preparation takes well under a minute and nothing sleeps.

Everything happens in a temporary folder (database, uploaded drafts); the real database and the
real platforms are never touched. Simulated people are marked "(mô phỏng)" in the transcript and
in their names on the platform.

With faults (``hoinghi rehearse --faults``) the simulated platforms have a bad day, the bot process
is killed around the outbox's sends and restarted from the database, and some delegates block
the bot; the checks then prove that nothing was lost and little was repeated.

The modules, each read on its own:

- :mod:`rehearsal.telegram_api` — the simulated Telegram Bot API (``botapi/`` holds the official
  method list it checks every call against); the tests use it too (``tests/fakes``);
- :mod:`rehearsal.telegram` — Telegram on the stage: the bot's Telegram adapter wired to it, and
  the people's hands there;
- :mod:`rehearsal.zalo_api` and :mod:`rehearsal.zalo` — the same pair for Zalo, where a third of
  the delegates link by their typed personal code and answer by numbers and keywords;
- :mod:`rehearsal.people` — who plays which part of the plan, and what each delegate answers;
- :mod:`rehearsal.stage` — the running pieces of one rehearsal and its result;
- :mod:`rehearsal.script` — the plan played, in plan time;
- :mod:`rehearsal.faults` — what goes wrong, by wrapping the channel's sender (never the outbox);
- :mod:`rehearsal.checks` — the end: the office's summary, the report and the checks;
- :mod:`rehearsal.run` — one rehearsal from start to end (:func:`rehearse`).
"""

from rehearsal.faults import Faults
from rehearsal.run import rehearse
from rehearsal.stage import Rehearsal

__all__ = ["Faults", "Rehearsal", "rehearse"]
