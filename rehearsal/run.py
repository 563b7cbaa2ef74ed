"""One rehearsal from start to end: a throwaway database, the bot on the simulated Telegram and
Zalo, the plan played (:mod:`rehearsal.script`), the end and its checks
(:mod:`rehearsal.checks`)."""

from __future__ import annotations

import contextlib
import random
from datetime import datetime, timedelta
from pathlib import Path

from bot.app import build_outbox
from bot.chat import Inbox
from bot.config import Config, LoadedConfig
from bot.domain.clock import ManualClock
from bot.domain.reminders import planned_messages
from bot.services import build_services
from bot.texts import Catalog
from rehearsal import telegram
from rehearsal.checks import finish, spec_check
from rehearsal.faults import Faults, bad_day
from rehearsal.script import play, restart
from rehearsal.stage import Rehearsal, Stage, virtual_pacer
from rehearsal.telegram import deliver
from rehearsal.telegram_api import FakeBotApi
from rehearsal.web import Watch, open_web, watching
from rehearsal.zalo import ZaloBadDay, open_zalo
from rehearsal.zalo_api import FakeZaloApi
from storage.engine import create_engine, create_sessionmaker
from storage.files import FileStore
from storage.migrate import upgrade_database
from storage.uow import close_worker


async def rehearse(
    loaded: LoadedConfig,
    catalog: Catalog,
    *,
    delegates: Path,
    contacts: Path | None,
    report: Path,
    workdir: Path,
    seed: int = 60,
    faults: Faults | None = None,
    watch: Watch | None = None,
) -> Rehearsal:
    """Run the plan of ``loaded`` on the simulator, in ``workdir``; write the report.

    With ``faults``, every call the bot makes to the simulated Bot API (the outbox's sends and
    the handlers' replies) can fail, time out or hit a 429 burst, the bot is killed around the
    outbox's sends and restarted from the database, and some delegates block the bot; the
    simulated Zalo fails the outbox's Zalo sends at the same rates and delivers some typed
    messages twice; the checks then also prove that nothing was lost and little was repeated.
    """
    result = Rehearsal()
    fake = FakeBotApi(bot_username=telegram.BOT_USERNAME)
    zalo_fake = FakeZaloApi()
    config = _rehearsal_config(loaded.config, fake, workdir)
    if faults is not None:
        # One delivery in flight at a time: an in-process kill then stops exactly what a dead
        # process would (tests/test_crash.py kills real processes with batches of 30).
        one_at_a_time = config.outbox.model_copy(update={"batch_size": 1})
        config = config.model_copy(update={"outbox": one_at_a_time})
    engine = create_engine(f"sqlite+aiosqlite:///{workdir / 'dien-tap.db'}")
    try:
        await upgrade_database(engine)
        clock = ManualClock(_start_time(config))
        services = await build_services(
            config, create_sessionmaker(engine), clock, files=FileStore(workdir / "tham-luan")
        )
        inbox = Inbox(services, catalog)
        on_telegram = await telegram.open_telegram(config, catalog, services, inbox, fake, deliver)
        on_zalo = await open_zalo(services, catalog, inbox, zalo_fake)
        senders = {sender.channel: sender for sender in (on_telegram.sender, on_zalo.sender)}
        pacers = {
            on_telegram.sender.channel: virtual_pacer(),
            on_zalo.sender.channel: on_zalo.pacer(),
        }
        outbox = build_outbox(services, catalog, senders, pacer=pacers)
        stage = Stage(config, catalog, services, on_telegram, outbox, clock, result, zalo=on_zalo)
        if faults is not None:
            stage.faults = faults
            stage.dice = {  # a channel's kills do not depend on the others' (rehearsal.faults)
                sender.channel: random.Random(f"{seed + 1}:{sender.channel}")  # noqa: S311
                for sender in stage.senders
            }
            stage.chaos = bad_day(fake, faults, random.Random(seed + 2))  # noqa: S311
            on_zalo.bad_day = ZaloBadDay(zalo_fake, faults, random.Random(seed + 3))  # noqa: S311
            on_zalo.bad_day.reply_rng = random.Random(seed + 4)  # noqa: S311
            await restart(stage, killed=False)
        else:
            stage.web = open_web(services, catalog)
        try:
            async with contextlib.AsyncExitStack() as served:
                if watch is not None:
                    stage.on_imported = await served.enter_async_context(
                        watching(watch, services, catalog)
                    )
                await play(stage, delegates, contacts, random.Random(seed))  # noqa: S311 (a script, not a secret)
                await finish(stage, report)
        finally:
            await on_telegram.shutdown()
            await on_zalo.shutdown()
            if stage.web is not None:
                await stage.web.close()
    finally:
        await close_worker()
        await engine.dispose()
    spec_check(result, catalog, fake, zalo_fake)
    return result


def _rehearsal_config(config: Config, fake: FakeBotApi, workdir: Path) -> Config:
    """The plan, pointed at the simulator and a throwaway database, with an office to play."""
    throwaway = config.model_copy(
        update={
            "database": config.database.model_copy(update={"url": None}),
            "drafts": config.drafts.model_copy(update={"directory": str(workdir / "tham-luan")}),
        }
    )
    return telegram.configured(throwaway, fake)


def _start_time(config: Config) -> datetime:
    """The morning the invitations go out: a day before the first automatic message."""
    first = min(item.due_at for item in planned_messages(config))
    local = config.meeting.local(first - timedelta(days=1))
    return local.replace(hour=8, minute=0, second=0, microsecond=0)
