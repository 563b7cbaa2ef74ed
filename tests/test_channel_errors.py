"""Talking to Telegram from the command line: getMe for links, and a refused token explained."""

from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path

import pytest

from bot.cli import main
from bot.errors import ChannelUnavailable
from bot.logs import RedactingFormatter
from bot.services import Services, build_services
from handlers.telegram.app import fetch_bot_username
from tests.conftest import EXAMPLE_CONFIG, EXAMPLE_DELEGATES
from tests.fakes.server import FakeBotApiServer
from tests.fakes.telegram_api import FakeBotApi
from tests.harness import wired_config


@pytest.fixture
async def wired(fake: FakeBotApi, config, sessions, clock) -> Services:  # type: ignore[no-untyped-def]
    """Services whose Bot API URLs point at the fake."""
    return await build_services(wired_config(config, fake), sessions, clock)


async def test_username_for_links_comes_from_get_me(fake: FakeBotApi, wired: Services) -> None:
    username = await fetch_bot_username(fake.token, wired, request=fake.make_request())
    assert username == "hoinghi_test_bot"
    assert [call.method for call in fake.calls] == ["getMe"]


async def test_a_rejected_token_becomes_channel_unavailable(
    fake: FakeBotApi, wired: Services
) -> None:
    with pytest.raises(ChannelUnavailable) as caught:
        await fetch_bot_username("999:WRONG-TOKEN", wired, request=fake.make_request())
    assert caught.value.reason == "invalid_token"
    assert "WRONG-TOKEN" not in str(caught.value)


async def test_cli_export_with_a_rejected_token_explains_and_never_prints_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    fake = FakeBotApi()
    async with FakeBotApiServer(fake) as server:
        text = EXAMPLE_CONFIG.read_text(encoding="utf-8").replace(
            'api_base_url = "https://api.telegram.org/bot"', f'api_base_url = "{server.base_url}"'
        )
        config = tmp_path / "config.toml"
        config.write_text(text, encoding="utf-8")
        monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "777:SECRET-REVOKED")
        args = ["--config", str(config)]
        assert (
            await asyncio.to_thread(main, [*args, "delegates", "import", str(EXAMPLE_DELEGATES)])
            == 0
        )
        code = await asyncio.to_thread(main, [*args, "invites", "export", str(tmp_path / "l.csv")])
    captured = capsys.readouterr()
    assert code == 4
    assert "Telegram từ chối token của bot." in captured.err
    assert "SECRET-REVOKED" not in captured.out + captured.err
    assert not (tmp_path / "l.csv").exists()


def test_log_lines_never_show_the_token_even_inside_a_traceback() -> None:
    formatter = RedactingFormatter("%(message)s", ["123:SECRET"])
    try:
        raise RuntimeError("The token `123:SECRET` was rejected")
    except RuntimeError:
        record = logging.LogRecord(
            "x", logging.ERROR, __file__, 1, "failed with %s", ("123:SECRET",), None
        )
        record.exc_info = sys.exc_info()
    line = formatter.format(record)
    assert "123:SECRET" not in line
    # the message, the source line the traceback quotes, and the exception text
    assert line.count("[REDACTED]") == 3
