"""The office's dashboard under test: staff signed in with a one-time link, in browsers driven
through httpx's ASGI transport (each with its own cookie jar)."""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from typing import Any

import httpx

from bot.services import Services
from bot.services.access import Role
from handlers.web.app import build_web_app
from tests.web_support import BASE, web_setup

STAFF = "DB001"  # holds the office role in these tests
STAFF_NAME = "Phạm Thị Thanh Mai"  # STAFF's name in the example list
# The hidden fields a browser sends with a form: its signature, and the notice form's draft.
_HIDDEN = re.compile(r'<input type="hidden" name="(nonce|csrf|draft)" value="([^"]*)">')


# How long a held builder waits for the test to let it go before going on by itself: only
# reached when the builder runs on the event loop (the loop then cannot answer what lets it
# go), so that such a test fails instead of hanging.
HOLD_LIMIT = 10.0


class Held:
    """A file's builder held, in whatever thread runs it, until the test lets it go (once the
    event loop has answered a page or a chat meanwhile); then the real builder runs. Built on
    the loop, it holds the loop: nothing is answered until :data:`HOLD_LIMIT` has passed, and
    ``let_go`` says so."""

    def __init__(self, build: Callable[..., Any]) -> None:
        self.build = build
        self.loop = asyncio.get_running_loop()
        self.started = asyncio.Event()
        self.release = threading.Event()
        self.let_go: list[bool] = []  # per call: whether the test let it go (not the limit)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.loop.call_soon_threadsafe(self.started.set)
        self.let_go.append(self.release.wait(timeout=HOLD_LIMIT))
        return self.build(*args, **kwargs)


async def page_while_held(
    desk: Desk, imported: Services, held: Held, path: str
) -> tuple[httpx.Response, httpx.Response]:
    """Ask for ``path`` (a download) and, while its builder is held, a delegate's personal
    page; let the builder go once the page has come; the page and the download."""
    token = (await imported.invitations.links())[0].token
    download = asyncio.create_task(desk.client.get(path))
    await held.started.wait()
    page = await desk.client.get(f"/{token}")
    held.release.set()
    return page, await download


def hidden(html: str, form_id: str) -> dict[str, str]:
    """The hidden fields (the signature, a notice form's draft) of the form with ``form_id``
    on a page."""
    start = html.index(f'id="{form_id}"')
    end = html.index("</form>", start)
    return dict(_HIDDEN.findall(html[start:end]))


def text_of(html: str, element_id: str) -> str:
    """The text of the element with ``element_id``, without tags."""
    match = re.search(rf'<(\w+)[^>]*\bid="{element_id}"[^>]*>(.*?)</\1>', html, re.S)
    assert match is not None, element_id
    return re.sub(r"<[^>]+>", "", match.group(2)).strip()


@dataclass
class Desk:
    """A browser at the office: its own cookies, on the web application of ``services``."""

    services: Services
    client: httpx.AsyncClient

    async def sign_in(self, code: str = STAFF) -> httpx.Response:
        """Open a fresh sign-in link for ``code`` and press «Đăng nhập»; the answer to the
        post (not followed)."""
        link = await self.services.signin.link_for_code(code)
        assert link.secret is not None
        return await self.use_link(link.secret)

    async def use_link(self, secret: str) -> httpx.Response:
        """Open the link ``secret`` and press the button, as a browser does."""
        page = await self.client.get(f"/office/signin/{secret}")
        if page.status_code != 200:
            return page
        fields = hidden(page.text, "form-signin")
        return await self.client.post(f"/office/signin/{secret}", data=fields)

    async def post(
        self,
        path: str,
        form_id: str,
        data: dict[str, str],
        *,
        page: str | None = None,
        files: dict[str, tuple[str, bytes, str]] | None = None,
    ) -> httpx.Response:
        """Submit the form ``form_id`` found on ``page`` (``path`` by default), with ``files``
        chosen (field: name, bytes, type) if any, following the redirect back."""
        shown = await self.client.get(f"/office/{page if page is not None else path}")
        fields = hidden(shown.text, form_id)
        response = await self.client.post(f"/office/{path}", data={**fields, **data}, files=files)
        if response.status_code == 303:
            return await self.client.get(response.headers["location"])
        return response


async def desk_for(services: Services, base_url: str = BASE, **kwargs: Any) -> Desk:
    """A new browser on the dashboard of ``services`` (``kwargs``: more of its setup)."""
    setup = web_setup(services, **kwargs)
    setup.settings = setup.settings.model_copy(update={"base_url": base_url})
    app = build_web_app(setup)
    transport = httpx.ASGITransport(app=app, client=("203.0.113.9", 50001))
    return Desk(services, httpx.AsyncClient(transport=transport, base_url=base_url))


@asynccontextmanager
async def signed_in_desk(services: Services) -> AsyncIterator[Desk]:
    """A browser on the dashboard of ``services``, signed in as :data:`STAFF` (given the office
    role first), closed at the end."""
    await make_staff(services)
    desk = await desk_for(services)
    try:
        await desk.sign_in()
        yield desk
    finally:
        await desk.client.aclose()


# The secret the server is restarted with, in the tests of forms sent across a restart.
RENEWED_SECRET = b"the-new-secret-after-a-restart-000"


@asynccontextmanager
async def restarted_with_new_secret(
    services: Services, desk: Desk
) -> AsyncIterator[httpx.AsyncClient]:
    """``desk``'s browser (its cookies) on the server of ``services`` restarted with a new
    secret: the cookies and forms it holds were signed with keys drawn from the old one."""
    renewed = replace(web_setup(services), secret=RENEWED_SECRET)
    transport = httpx.ASGITransport(app=build_web_app(renewed), client=("203.0.113.9", 50001))
    async with httpx.AsyncClient(
        transport=transport, base_url=BASE, cookies=desk.client.cookies, headers={"origin": BASE}
    ) as client:
        yield client


async def make_staff(services: Services, code: str = STAFF) -> None:
    """Give ``code`` the office role, as ``hoinghi staff add`` does."""
    access = services.access
    await access.grant(access.local_operator(), code, Role.OFFICE)
