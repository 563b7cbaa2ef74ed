"""The composition root: config → storage → services → outbox and scheduler → channels.

This is the one place that knows the channel adapters; the core (``bot.domain``,
``bot.services``, ``bot.chat``), ``storage`` and ``schedules`` never import them.
"""

from __future__ import annotations

from collections.abc import Mapping

from bot.domain.ports import ChannelSender
from bot.domain.reminders import planned_messages
from bot.services import Services
from bot.services.composer import MessageComposer
from bot.texts import Catalog
from schedules.outbox import Outbox
from schedules.planner import sync_planned
from schedules.ratelimit import Limits, Pacer
from schedules.scheduler import OutboxScheduler


def build_composer(services: Services, catalog: Catalog) -> MessageComposer:
    """What the outbox sends, written with the catalog."""
    return MessageComposer(
        services.config,
        catalog,
        services.reports,
        services.tasks,
        services.drafts,
        services.ctx.clock,
        services.ctx.calendar,
    )


def build_outbox(
    services: Services,
    catalog: Catalog,
    senders: Mapping[str, ChannelSender],
    *,
    pacer: Pacer | None = None,
) -> Outbox:
    """The outbox for this meeting, pacing sends to the configured rate."""
    settings = services.config.outbox
    return Outbox(
        services.ctx.sessions,
        services.ctx.clock,
        senders,
        build_composer(services, catalog),
        services.audiences,
        pacer or Pacer(Limits(overall_per_second=settings.rate_per_second)),
        meeting_id=services.ctx.meeting_id,
        batch_size=settings.batch_size,
        max_attempts=settings.max_attempts,
    )


def build_scheduler(services: Services, outbox: Outbox) -> OutboxScheduler:
    """The tick that drives ``outbox``, re-planning the automatic messages at start."""

    async def plan() -> None:
        await services.tasks.sync()
        await services.drafts.sync()
        await sync_planned(
            services.ctx.sessions,
            services.ctx.clock,
            services.ctx.meeting_id,
            planned_messages(services.config),
        )

    return OutboxScheduler(outbox, tick_seconds=services.config.outbox.tick_seconds, plan=plan)
