"""Talking to Telegram from the command line: getMe for links, and a refused token explained."""

from __future__ import annotations

import asyncio
import logging
import sys
from asyncio.subprocess import DEVNULL, PIPE
from pathlib import Path

import pytest

from bot.app import run_refusal
from bot.cli import main
from bot.cli.common import say
from bot.config import Config, ZaloBot, ZaloSettings
from bot.errors import ChannelUnavailable
from bot.logs import RedactingFormatter
from bot.services import Services, build_services
from bot.texts import load_catalog
from handlers.telegram.app import fetch_bot_username
from tests.conftest import EXAMPLE_CONFIG, EXAMPLE_DELEGATES, ROOT, without_web
from tests.fakes.server import FakeBotApiServer
from tests.fakes.telegram_api import FakeBotApi
from tests.harness import wired_config
from tests.test_database_guard import said


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
        text = without_web(EXAMPLE_CONFIG.read_text(encoding="utf-8")).replace(
            'api_base_url = "https://api.telegram.org/bot"', f'api_base_url = "{server.base_url}"'
        )
        config = tmp_path / "config.toml"
        config.write_text(text, encoding="utf-8")
        monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "777000:SECRET-REVOKED-by-the-test-0123456789")
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


WELL_FORMED = "7712345678:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsawQ"  # made up, shaped as @BotFather's


@pytest.mark.parametrize(
    "token",
    [
        WELL_FORMED[:24],  # half of it copied
        f'"{WELL_FORMED}"',  # with the quotes of a shell example
        WELL_FORMED.replace(":", " "),
        f"bot{WELL_FORMED}",  # as it appears in an API URL
        WELL_FORMED.replace("AAH", "ĂÂH"),  # a keyboard in Vietnamese mode
    ],
    ids=["half", "quoted", "no-colon", "url-prefix", "diacritics"],
)
async def test_a_malformed_token_is_named_as_such_before_any_request_and_never_printed(
    token: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    fake = FakeBotApi()
    async with FakeBotApiServer(fake) as server:
        text = without_web(EXAMPLE_CONFIG.read_text(encoding="utf-8")).replace(
            'api_base_url = "https://api.telegram.org/bot"', f'api_base_url = "{server.base_url}"'
        )
        config = tmp_path / "config.toml"
        config.write_text(text, encoding="utf-8")
        monkeypatch.setenv("TELEGRAM_BOT_TOKEN", token)
        args = ["--config", str(config)]
        bot = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", *args, "run", cwd=ROOT, stdout=DEVNULL, stderr=PIPE
        )
        _, run_err = await bot.communicate()
        export = await asyncio.to_thread(
            main, [*args, "invites", "export", str(tmp_path / "l.csv")]
        )
        check = await asyncio.to_thread(main, [*args, "check"])
    captured = capsys.readouterr()
    assert (bot.returncode, export, check) == (2, 2, 0)
    malformed = (
        "Biến môi trường TELEGRAM_BOT_TOKEN không chứa một token bot đúng dạng. Token do "
        "@BotFather cấp có dạng 123456789:AAH…: một dãy chữ số, dấu hai chấm, rồi ít nhất 30 ký "
        "tự gồm chữ cái không dấu, chữ số, _ hoặc -. Đề nghị sao chép lại token từ @BotFather "
        "(không kèm dấu ngoặc hay khoảng trắng), rồi chạy lại."
    )
    # The run's log says the plan and its warnings first; what it says itself is this alone.
    assert said(run_err.decode().splitlines()) == [malformed]
    assert captured.err.splitlines() == [malformed]
    assert (
        "Token bot Telegram: giá trị trong biến môi trường TELEGRAM_BOT_TOKEN không đúng dạng"
        in (captured.out)
    )
    assert fake.calls == []  # nothing was sent to Telegram with it
    assert token[:20] not in captured.out + captured.err + run_err.decode()
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


@pytest.mark.parametrize("env", ["ZALO_BOT_TOKEN", "ZALO_BOT_TOKEN_2"])
def test_a_malformed_zalo_token_is_explained_as_zalo_bot_creator_s_not_botfather_s(
    env: str, config: Config
) -> None:
    # `run` explained a Telegram token («Token do @BotFather cấp có dạng 123456789:AAH…») for
    # ZALO_BOT_TOKEN, while `hoinghi check` named Zalo Bot Creator; a further bot's too.
    bots = [ZaloBot(token_env="ZALO_BOT_TOKEN_2", bot_name="Bot Hội nghị 2")]
    planned = config.model_copy(update={"zalo": ZaloSettings(bots=bots)})
    refusal = run_refusal({env: "1234:wrong-token-xyz"}, None, planned)
    assert refusal is not None
    assert say(load_catalog("vi"), refusal) == (
        f"Biến môi trường {env} không chứa một token bot Zalo đúng dạng. Token do Zalo Bot "
        "Creator gửi qua tin nhắn Zalo khi tạo bot có dạng một dãy chữ và số, dấu hai chấm, rồi "
        "ít nhất 16 ký tự gồm chữ cái không dấu, chữ số, _, ., ~ hoặc -. Đề nghị sao chép lại "
        "token từ tin nhắn của Zalo Bot Creator (không kèm dấu ngoặc hay khoảng trắng), rồi chạy "
        "lại."
    )
