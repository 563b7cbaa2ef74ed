"""The personal pages in the rehearsal: some delegates answer the invitation, and a speaker
sends a draft, from their web page instead of the chat, through the real web application
(in-process over httpx's ASGI transport: no port is opened)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import httpx

from bot.config import WebSettings
from bot.services import Services
from bot.texts import Catalog
from handlers.web.app import WebSetup, build_web_app

BASE = "http://dien-tap.local"
_HIDDEN = re.compile(r'<input type="hidden" name="(nonce|csrf|lang)" value="([^"]*)">')
_FLASH = re.compile(r'<p id="flash" class="text flash (ok|error)"[^>]*>(.*?)</p>', re.S)


@dataclass
class WebStage:
    """A browser for each simulated person on the web, and what they did there."""

    client: httpx.AsyncClient
    tokens: dict[str, str] = field(default_factory=dict)
    answers: list[str] = field(default_factory=list)  # codes answered on the page
    drafts: list[str] = field(default_factory=list)  # codes that sent a draft from the page

    async def submit(
        self, code: str, action: str, form_id: str, data: dict[str, str], **kwargs: object
    ) -> bool:
        """Open ``code``'s page, fill the form ``form_id`` and send it; whether the page
        then says it went well."""
        token = self.tokens[code]
        page = await self.client.get(f"/{token}")
        if page.status_code != 200 or f'id="{form_id}"' not in page.text:
            return False
        start = page.text.index(f'id="{form_id}"')
        fields = dict(_HIDDEN.findall(page.text[start : page.text.index("</form>", start)]))
        sent = await self.client.post(f"/{token}/{action}", data={**fields, **data}, **kwargs)  # type: ignore[arg-type]
        if sent.status_code != 303:
            return False
        shown = _FLASH.search((await self.client.get(sent.headers["location"])).text)
        return shown is not None and shown.group(1) == "ok"

    async def close(self) -> None:
        """Close the browser."""
        await self.client.aclose()


def open_web(services: Services, catalog: Catalog) -> WebStage:
    """The personal pages of the rehearsal's plan, served in-process."""
    settings = services.config.web or WebSettings(base_url=BASE)
    settings = settings.model_copy(update={"base_url": BASE})
    app = build_web_app(WebSetup(services, catalog, settings, b"rehearsal-secret-not-for-use"))
    transport = httpx.ASGITransport(app=app, client=("192.0.2.10", 40000))
    return WebStage(httpx.AsyncClient(transport=transport, base_url=BASE))
