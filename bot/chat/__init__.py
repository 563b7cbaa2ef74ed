"""The conversation, channel-neutral: every inbound event is routed here, checked for who may do
it, handed to one use case, and answered through the text catalog. Channel adapters only turn
their platform's updates into events (:mod:`bot.domain.inbound`) and render the answers."""

from bot.chat.inbox import Inbox

__all__ = ["Inbox"]
