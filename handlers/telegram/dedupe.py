"""An update Telegram delivers again is handled once, even when it comes after later ones.

Telegram keeps an update's ``update_id`` when it delivers it again: a webhook request retried
after a timeout while the next update already went through, getUpdates repeated after a restart
before the offset was confirmed. Such a copy can arrive after later updates of the same chat, and
then nothing but its id tells it from a person tapping an old button again (a change of mind,
which must count): a late copy of "✅ Tham dự" would undo the decline typed since, a late
"⏳ Đang thực hiện" would reopen a task reported done. So the ids of handled updates are kept,
per bot, in the ``handled_events`` table, and three callbacks use them:

- :func:`skip_handled` runs first (group :data:`FIRST_GROUP`) and stops an update whose id is
  known, before any other handler sees it;
- :func:`record_handled` runs last (group :data:`LAST_GROUP`) and records the id once the
  handlers before it have finished;
- :func:`keep_failed_unrecorded`, an error handler registered after ``errors.on_error``, stops an
  update whose handler raised, so it is never recorded and a redelivery can still do what failed.

All three run inside ``Application.process_update``, which long polling, the webhook and the
rehearsal's direct ``deliver`` all go through. The services keep their own idempotency (a
repeated tap or message changes nothing): it covers a crash between an update's effect and the
record of its id.

The store itself (memory, batched records, the two-day window) is
:class:`bot.services.handled_events.HandledEvents`. Its records ride in the services' shared
write transactions: committed on their own, they took turns with the taps' answers at SQLite's
write lock and cost a fifth of bench/load.py's inbound rate.
"""

from __future__ import annotations

import logging

from sqlalchemy.exc import SQLAlchemyError
from telegram import Update
from telegram.ext import ApplicationHandlerStop

from bot.services.handled_events import HandledEvents
from handlers.telegram.context import Context, services_of_bot_data
from handlers.telegram.events import CHANNEL

log = logging.getLogger(__name__)

FIRST_GROUP = -1  # before the handlers of group 0
LAST_GROUP = 1_000  # after every other group
_KEY = "hoinghi.handled_events"


def handled_updates(bot_data: dict[str, object]) -> HandledEvents:
    """The handled updates of the application whose ``bot_data`` this is."""
    handled = bot_data.get(_KEY)
    if not isinstance(handled, HandledEvents):
        services = services_of_bot_data(bot_data)
        handled = bot_data[_KEY] = HandledEvents(services.ctx, channel=CHANNEL)
    return handled


async def flush_handled(bot_data: dict[str, object]) -> None:
    """Wait until the ids recorded so far are stored (``serve()``, at shutdown)."""
    handled = bot_data.get(_KEY)
    if isinstance(handled, HandledEvents):
        await handled.flush()


async def skip_handled(update: Update, context: Context) -> None:
    """Stop an update whose id was handled already: a copy Telegram delivered again."""
    if await handled_updates(context.bot_data).seen(str(context.bot.id), str(update.update_id)):
        log.info("update %d was handled already; the copy is skipped", update.update_id)
        raise ApplicationHandlerStop


async def record_handled(update: Update, context: Context) -> None:
    """Record the id of an update every handler has finished with."""
    try:
        await handled_updates(context.bot_data).record(str(context.bot.id), str(update.update_id))
    except SQLAlchemyError as exc:
        # The person's action went through and was answered, and this process knows the id;
        # only a copy after a restart would meet the services' own idempotency instead.
        log.warning(
            "update %d could not be recorded as handled: %s", update.update_id, type(exc).__name__
        )


async def keep_failed_unrecorded(update: object, context: Context) -> None:
    """After ``errors.on_error``: stop an update whose handler raised, before it is recorded."""
    if isinstance(update, Update):
        raise ApplicationHandlerStop
