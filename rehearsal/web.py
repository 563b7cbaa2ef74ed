"""The personal pages in the rehearsal: some delegates answer the invitation, and a speaker
sends a draft, from their web page instead of the chat, through the real web application
(in-process over httpx's ASGI transport: no port is opened)."""

from __future__ import annotations

import re
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import httpx

from bot.config import WebSettings
from bot.services import Services
from bot.services.access import Role
from bot.texts import Catalog
from handlers.web.app import WebSetup, build_web_app
from handlers.web.server import bind, serving

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


@dataclass
class Watch:
    """``hoinghi rehearse --web``: the dashboard served on 127.0.0.1 while the rehearsal runs,
    for an office to watch in its browser. ``say`` prints a line; ``wait`` returns when the
    office is ready to go on (Enter; at once when there is no one to type)."""

    port: int
    say: Callable[[str], None]
    wait: Callable[[], Awaitable[None]]


@asynccontextmanager
async def watching(
    watch: Watch, services: Services, catalog: Catalog
) -> AsyncIterator[Callable[[], Awaitable[None]]]:
    """Serve the rehearsal's dashboard while the block runs; yields what to call once the list
    is imported: it prints the address and a one-time sign-in link for the first office staff
    member (the first contact is given the office role when the plan names none), then waits
    for the office. The block's end waits again, so the office can look at the final state."""
    port = watch.port
    if port == 0:  # a free port, known before the application is built with its address
        probe = bind("127.0.0.1", 0)
        port = int(probe.getsockname()[1])
        probe.close()
    base = f"http://127.0.0.1:{port}"
    settings = (services.config.web or WebSettings(base_url=base)).model_copy(
        update={"base_url": base}
    )
    app = build_web_app(WebSetup(services, catalog, settings, secrets.token_bytes(32)))

    staff: list[str] = []

    async def link() -> str:
        """A fresh one-time sign-in link for the staff member (in plan time: a link printed
        at the start has expired by the end)."""
        issued = await services.signin.link_for_code(staff[0])
        return f"{base}/office/signin/{issued.secret}"

    async def ready() -> None:
        signin = services.signin
        code = await signin.first_staff_code()
        if code is None:
            contacts = [link.code for link in await services.invitations.links()
                        if link.role == "contact"]  # fmt: skip
            if not contacts:
                return
            code = contacts[0]
            await services.access.grant(services.access.local_operator(), code, Role.OFFICE)
        staff.append(code)
        watch.say(catalog.plain("rehearsal.web.address", url=f"{base}/office/"))
        watch.say(catalog.plain("rehearsal.web.signin", code=code, url=await link()))
        watch.say(catalog.plain("rehearsal.web.start"))
        await watch.wait()

    async with serving(app, host="127.0.0.1", port=port):
        yield ready
        if staff:
            watch.say(catalog.plain("rehearsal.web.done", url=await link()))
            await watch.wait()
