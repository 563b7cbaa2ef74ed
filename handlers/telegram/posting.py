"""The application's bot: PTB's ``ExtBot`` whose plain requests skip PTB's request building.

Every request PTB sends goes through ``Bot._do_post``, which wraps each field in a
``RequestParameter`` (checking it for a date, a file, an enum, a Telegram object or a list of
them) inside a ``RequestData``, whose ``json_parameters`` then serializes each field anew every
time it is read. A tap's two requests — its toast (``answerCallbackQuery``) and its confirmation
(``sendMessage``, :func:`handlers.telegram.render._send_text`) — have nothing but texts, numbers
and yes/no fields. Timed alone through the bot and its rate limiter, a toast took 38–42 µs of
CPU with PTB's building and 26–28 without, a confirmation 36–41 and 21–24 (bench/README.md,
2026-12-05 09:08).

:class:`TelegramBot` sends a request whose fields are all such plain values (a ``str``, a
PTB string enum such as ``ParseMode.HTML``, an ``int``, a ``float`` or a ``bool``) with exactly
the fields PTB's ``RequestData`` would give (:class:`PlainFields`); any other request (a file,
a keyboard or a date given as an object, a list) goes PTB's own way. The rate limiter, the
defaults and the errors are PTB's as before: only the step after the limiter changes, and
PTB's debug log of every request's fields (a message's body among them) is not written for
the plain ones.
"""

from __future__ import annotations

import json
from typing import Any

from telegram import Bot
from telegram._utils.defaultvalue import DEFAULT_NONE
from telegram._utils.enum import StringEnum
from telegram._utils.types import JSONDict, ODVInput
from telegram.ext import ExtBot
from telegram.request import RequestData

Fields = tuple[dict[str, object], dict[str, str]]


# PTB marks RequestData final for its typing only; what a request reads of it (the two
# properties, ``multipart_data``, ``contains_files``) is what this one gives.
class PlainFields(RequestData):  # type: ignore[misc]
    """A request's fields when each is a plain value: ``parameters`` and ``json_parameters``
    as PTB's ``RequestData`` gives them (a text as it is, anything else as its JSON), no file."""

    __slots__ = ("_fields", "_values")

    def __init__(self, values: dict[str, object], fields: dict[str, str]) -> None:
        super().__init__()
        self._values = values
        self._fields = fields

    @property
    def parameters(self) -> dict[str, Any]:
        """Each field's value (a string enum as its text)."""
        return dict(self._values)

    @property
    def json_parameters(self) -> dict[str, str]:
        """Each field as Telegram takes it: a text as it is, a number or yes/no as JSON."""
        return dict(self._fields)


def plain_fields(data: JSONDict) -> Fields | None:
    """The values and JSON fields of ``data`` if every value is plain (see the module), else
    None: such a request goes PTB's own way."""
    values: dict[str, object] = {}
    fields: dict[str, str] = {}
    for key, value in data.items():
        kind = type(value)
        if kind is str:
            values[key] = fields[key] = value
        elif isinstance(value, StringEnum):
            values[key] = fields[key] = str(value.value)
        elif kind is int or kind is bool or kind is float:
            values[key] = value
            fields[key] = json.dumps(value)
        else:
            return None
    return values, fields


class _PlainPost(Bot):
    """``Bot._do_post`` without PTB's request building for a request of plain fields."""

    async def _do_post(
        self,
        endpoint: str,
        data: JSONDict,
        *,
        read_timeout: ODVInput[float] = DEFAULT_NONE,
        write_timeout: ODVInput[float] = DEFAULT_NONE,
        connect_timeout: ODVInput[float] = DEFAULT_NONE,
        pool_timeout: ODVInput[float] = DEFAULT_NONE,
    ) -> bool | JSONDict | list[JSONDict]:
        plain = plain_fields(data)
        if plain is None:
            return await super()._do_post(
                endpoint,
                data,
                read_timeout=read_timeout,
                write_timeout=write_timeout,
                connect_timeout=connect_timeout,
                pool_timeout=pool_timeout,
            )
        # As Bot._do_post picks its request: the poll's own for getUpdates.
        request = self._request[0] if endpoint == "getUpdates" else self._request[1]
        result: bool | JSONDict | list[JSONDict] = await request.post(
            url=f"{self._base_url}/{endpoint}",
            request_data=PlainFields(*plain),
            read_timeout=read_timeout,
            write_timeout=write_timeout,
            connect_timeout=connect_timeout,
            pool_timeout=pool_timeout,
        )
        return result


class TelegramBot(ExtBot[int], _PlainPost):
    """PTB's ``ExtBot`` (its rate limiter, its defaults), its plain requests sent as
    :class:`_PlainPost` sends them: ``ExtBot._do_post`` hands the request to the rate limiter
    with the next ``_do_post`` in line, this one."""
