"""``hoinghi run``: the bot, on every channel whose token is set, until it is asked to stop."""

from __future__ import annotations

import argparse
import logging
import os
import sys

from bot.app import App, Listening, run_refusal, webhook_settings
from bot.cli.common import (
    EXIT_OK,
    EXIT_USAGE,
    load,
    out,
    run_channel,
    safe_url,
    say,
    warnings_of,
)

log = logging.getLogger("hoinghi")


def cmd_run(args: argparse.Namespace) -> int:
    """Run the bot until interrupted."""
    loaded = load(args)
    if isinstance(loaded, int):
        return loaded
    catalog = loaded[1]
    log.info("plan: %s", loaded[0].path)
    for key, message in warnings_of(loaded[0], catalog):
        log.warning("%s: %s", key, message)
    if (refusal := run_refusal(os.environ)) is not None:
        out(say(catalog, refusal), sys.stderr)
        return EXIT_USAGE
    webhook: Listening | None = None
    if args.webhook:
        settings = webhook_settings(args.listen, args.url, os.environ)
        if isinstance(settings, list):  # every problem said at once
            for problem in settings:
                out(say(catalog, problem), sys.stderr)
            return EXIT_USAGE
        webhook = settings

    async def work(app: App) -> int:
        await app.run(webhook=webhook)
        return EXIT_OK

    log.info("database: %s", safe_url(loaded[0].database_url))
    return run_channel(catalog, loaded[0], work, exclusive="run")
