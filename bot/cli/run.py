"""``hoinghi run``: the bot, on every channel whose token is set, until it is asked to stop."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys

from bot.app import (
    App,
    Listening,
    Refusal,
    configured_channels,
    known_channels,
    run_refusal,
    webhook_settings,
)
from bot.cli.common import (
    EXIT_OK,
    EXIT_USAGE,
    command_prefix,
    load,
    out,
    run_channel,
    safe_url,
    say,
    warnings_of,
)
from bot.cli.plan import read_stored_meeting
from bot.services.signin import LINK_LIFETIME
from bot.texts import Catalog

log = logging.getLogger("hoinghi")
# Where the webhook's own server listens when there is no web server ([web]) to share.
DEFAULT_LISTEN = "127.0.0.1:8443"


def cmd_run(args: argparse.Namespace) -> int:
    """Run the bot until interrupted."""
    loaded = load(args)
    if isinstance(loaded, int):
        return loaded
    catalog = loaded[1]
    log.info("plan: %s", loaded[0].path)
    # Before the plan is synced: a date moved is said against the date the database held.
    stored = asyncio.run(read_stored_meeting(loaded[0]))
    for key, message in warnings_of(loaded[0], catalog, stored):
        log.warning("%s: %s", key, message)
    web = loaded[0].config.web
    if (refusal := run_refusal(os.environ, web, loaded[0].config)) is not None:
        out(say(catalog, refusal), sys.stderr)
        return EXIT_USAGE
    webhook: Listening | None = None
    if args.webhook:
        # With [web], Telegram posts to the web server's own port: --listen is that one.
        listen = args.listen or DEFAULT_LISTEN
        if web is not None and args.listen is None:
            listen = f"{web.listen}:{web.port}"
        settings = webhook_settings(listen, args.url, os.environ)
        if web is not None and args.listen is not None and not isinstance(settings, list):
            settings = [Refusal("cli.webhook_listen_web", {"value": args.listen})]
        if isinstance(settings, list):  # every problem said at once
            for problem in settings:
                out(say(catalog, problem), sys.stderr)
            return EXIT_USAGE
        webhook = settings

    chats: list[str] = []
    if web is not None:
        chats = [entry.name for entry in configured_channels(os.environ, loaded[0].config)]
        # Every chat the plan can run whose token is not set, by its variable: a Zalo token
        # forgotten at a restart is named, not only Telegram's.
        idle = [entry for entry in known_channels(loaded[0].config) if entry.name not in chats]
        key = (
            "cli.web_alone"
            if not chats
            else "cli.web_with_chats_idle"
            if idle
            else "cli.web_with_chats"
        )
        # By the names the office reads elsewhere (Zalo, Zalo 2, Telegram), not the internal ones.
        labels = {quota.channel: quota.label for quota in loaded[0].config.zalo.quotas()}

        def named(channels: list[str]) -> str:
            return ", ".join(
                labels.get(name)
                or (
                    catalog.plain(f"channel_name.{name}")
                    if catalog.has(f"channel_name.{name}")
                    else name
                )
                for name in channels
            )

        log.info(
            "%s", catalog.plain(key, url=web.base_url, listen=f"{web.listen}:{web.port}",
                                channels=named(chats), idle=named([e.name for e in idle]),
                                env=", ".join(entry.token_env for entry in idle)),
        )  # fmt: skip

    async def work(app: App) -> int:
        if web is not None:
            # No chat to send /dangnhap from: the first office staff member's link, here; and
            # with nobody to sign in as, the commands that make one (chat or not).
            await print_signin_link(app, catalog, hoinghi=command_prefix(args), link=not chats)
        await app.run(webhook=webhook)
        return EXIT_OK

    log.info("database: %s", safe_url(loaded[0].database_url))
    return run_channel(catalog, loaded[0], work, exclusive="run", same_meeting=args.same_meeting)


async def print_signin_link(app: App, catalog: Catalog, *, hoinghi: str, link: bool) -> None:
    """A one-time sign-in link to the dashboard for the first office staff member (in code
    order), printed (never logged: it is a key) when ``link`` is asked and there is one; when
    nobody holds the office role yet, the three commands that let the first clerk in instead
    (the dashboard's own import and «Cán bộ» pages need someone signed in)."""
    web = app.services.config.web
    signin = app.services.signin
    code = await signin.first_staff_code()
    if web is None:
        return
    minutes = int(LINK_LIFETIME.total_seconds() // 60)
    if code is None:
        out(catalog.plain("signin.run_first_staff", url=web.office_url(""), hoinghi=hoinghi,
                          minutes=minutes))  # fmt: skip
        return
    if not link:
        return
    issued = await signin.link_for_code(code)
    if issued.secret is None or issued.person is None:
        return
    out(
        catalog.plain(
            "signin.run_link",
            name=issued.person.full_name,
            code=issued.person.code,
            minutes=minutes,
            link=web.office_url(f"signin/{issued.secret}"),
        )
    )
