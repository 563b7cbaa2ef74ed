"""The personal pages under test: the web application on the test's services, driven through
httpx's ASGI transport (no socket), with the forms a browser would post."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import httpx

from bot.services import Services
from bot.texts import load_catalog
from handlers.web.app import Site, WebSetup, build_web_app

BASE = "http://testserver"
SECRET = b"a-test-secret-for-the-web-forms-000"
_HIDDEN = re.compile(r'<input type="hidden" name="(nonce|csrf|lang)" value="([^"]*)">')


@dataclass
class Web:
    """A browser on the personal pages: one client address, the pages' forms."""

    services: Services
    client: httpx.AsyncClient
    site: Site
    tokens: dict[str, str] = field(default_factory=dict)

    async def open(self, code: str, **params: str) -> httpx.Response:
        """The personal page of ``code``."""
        return await self.client.get(f"/{self.tokens[code]}", params=params)

    async def post(
        self, code: str, action: str, form_id: str, data: dict[str, str], **kwargs: Any
    ) -> httpx.Response:
        """Submit the form ``form_id`` of ``code``'s page (its hidden fields as the page wrote
        them) with ``data``; follows the redirect back to the page."""
        page = await self.open(code)
        fields = form_fields(page.text, form_id)
        response = await self.client.post(
            f"/{self.tokens[code]}/{action}", data={**fields, **data}, **kwargs
        )
        if response.status_code == 303:
            return await self.client.get(response.headers["location"])
        return response


def form_fields(html: str, form_id: str) -> dict[str, str]:
    """The hidden fields of the form with ``form_id`` on a page."""
    start = html.index(f'id="{form_id}"')
    end = html.index("</form>", start)
    return dict(_HIDDEN.findall(html[start:end]))


def flash(html: str) -> str:
    """The message the page shows after a form, without its tags."""
    match = re.search(r'<p id="flash"[^>]*>(.*?)</p>', html, re.S)
    return re.sub(r"<[^>]+>", "", match.group(1)) if match else ""


def web_setup(services: Services, **kwargs: Any) -> WebSetup:
    """The web application's setup for ``services``, its base URL the test server's."""
    web = services.config.web
    assert web is not None
    settings = web.model_copy(update={"base_url": BASE})
    return WebSetup(services, load_catalog("vi"), settings, SECRET, **kwargs)


async def web_for(services: Services, client_address: str = "203.0.113.7", **kwargs: Any) -> Web:
    """A browser on the pages of ``services`` (the delegates imported)."""
    app = build_web_app(web_setup(services, **kwargs))
    transport = httpx.ASGITransport(app=app, client=(client_address, 50000))
    client = httpx.AsyncClient(transport=transport, base_url=BASE)
    links = await services.invitations.links()
    return Web(services, client, app.state.site, {link.code: link.token for link in links})
