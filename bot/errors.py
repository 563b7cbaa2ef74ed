"""Errors the core understands, whatever channel raised them."""

from __future__ import annotations


class ChannelUnavailable(Exception):
    """The messaging platform cannot be used: a rejected token, no network, or another refusal.

    ``reason`` is ``invalid_token``, ``network`` or ``other`` (Telegram's), or ``zalo_`` and one
    of those or ``webhook`` (a catalog key ``cli.channel_<reason>`` each); the message never
    carries the token.
    """

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(reason if not detail else f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail
