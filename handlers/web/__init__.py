"""The web channel: every invitee's personal page, and the one HTTP server of the product.

A Starlette application with Jinja2 templates, served by uvicorn in the bot's own process and
event loop (:func:`handlers.web.server.serving`). The page at ``/<token>`` is a channel like
the chats: the account it acts as is the invitation's person (``bot.services.invitations
.open_page``), and everything it does goes through the same use cases, rules, audit and text
catalog. Chat platforms' webhooks are mounted on the same server (one port).
"""
