"""What a page says after a form: the answer to a post, shown once by the page it redirects
to (post, redirect, get). Kept in memory for a few minutes under a random key that only the
same person's page can read: nothing of it travels in the address but the key."""

from __future__ import annotations

import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass

LIFETIME = 300.0  # seconds a message waits for its page
MAX_KEPT = 10_000


@dataclass(frozen=True)
class Flash:
    """One message: whose page it is for, its catalog HTML, and whether it is good news."""

    person_id: int
    html: str
    ok: bool
    # What a refused form had typed, to fill it again (its field names to their values).
    form: tuple[tuple[str, str], ...] = ()

    @property
    def typed(self) -> dict[str, str]:
        """The refused form's values by field name (empty when none were kept)."""
        return dict(self.form)


def renewed_key(*, typed: bool, files: bool) -> str:
    """What a page says of a form sent back because this server no longer recognises it (its
    secret changed since the page was shown: a restart with a new one), the form filled again
    with what was typed: choose the file again (one cannot be put back), press send again
    (``typed``: a box had text, kept), or choose again (a button's form)."""
    if files:
        return "web.form_renewed_file"
    if typed:
        return "web.form_renewed"
    return "web.form_expired"


class Flashes:
    """Messages waiting for their page, the oldest dropped first."""

    def __init__(self, clock: object = time.monotonic) -> None:
        self._clock = clock
        self._kept: OrderedDict[str, tuple[float, Flash]] = OrderedDict()

    def put(self, flash: Flash) -> str:
        """Keep ``flash``; the key the redirect carries."""
        now = self._now()
        while self._kept and (
            len(self._kept) >= MAX_KEPT or next(iter(self._kept.values()))[0] < now
        ):
            self._kept.popitem(last=False)
        key = secrets.token_urlsafe(9)
        self._kept[key] = (now + LIFETIME, flash)
        return key

    def take(self, key: str, person_id: int) -> Flash | None:
        """The message under ``key`` if it is for ``person_id`` and still fresh (once)."""
        found = self._kept.get(key)
        if found is None or found[1].person_id != person_id:
            return None
        del self._kept[key]
        return found[1] if found[0] >= self._now() else None

    def _now(self) -> float:
        clock = self._clock
        assert callable(clock)
        return float(clock())
