"""The text catalog: every sentence a person reads, keyed, in Vietnamese and English.

Messages are Telegram HTML, so every parameter is escaped unless it is wrapped in :class:`Html`
(text this program built from already escaped pieces). Plain-text output (the CLI) uses
:meth:`Catalog.plain`, which escapes nothing.
"""

from __future__ import annotations

import html
import string
import tomllib
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

LOCALES = ("vi", "en")
DEFAULT_LOCALE = "vi"
_HERE = Path(__file__).parent


class Html(str):
    """A string that is already safe Telegram HTML and must not be escaped again."""

    __slots__ = ()


def _flatten(table: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    flat: dict[str, str] = {}
    for key, value in table.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(_flatten(value, f"{name}."))
        else:
            flat[name] = str(value)
    return flat


def placeholders(template: str) -> set[str]:
    """The named placeholders of a catalog template."""
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


class Catalog:
    """Looks up and fills texts for one locale, falling back to Vietnamese for nothing."""

    def __init__(
        self,
        texts: Mapping[str, Mapping[str, str]],
        locale: str = DEFAULT_LOCALE,
        *,
        _siblings: dict[str, Catalog] | None = None,
    ):
        if locale not in texts:
            raise ValueError(f"unknown locale {locale!r}")
        self._texts = texts
        self.locale = locale
        # The same texts in each locale asked for, one catalog each (see :meth:`with_locale`).
        self._siblings = {} if _siblings is None else _siblings
        self._siblings.setdefault(locale, self)

    def with_locale(self, locale: str) -> Catalog:
        """The same catalog speaking another locale: one catalog per locale, the same one
        every time (a page asks at every request), so what is kept per catalog (the
        deadline's words, :func:`bot.texts.presenters.deadline_text`) is kept once."""
        sibling = self._siblings.get(locale)
        if sibling is None:
            sibling = Catalog(self._texts, locale, _siblings=self._siblings)
        return sibling

    def all_keys(self, locale: str | None = None) -> set[str]:
        """Every key of a locale."""
        return set(self._texts[locale or self.locale])

    def template(self, key: str, locale: str | None = None) -> str:
        """The raw template of ``key``."""
        return self._texts[locale or self.locale][key]

    def html(self, key: str, /, **params: object) -> Html:
        """``key`` filled with HTML-escaped parameters."""
        safe = {
            name: value if isinstance(value, Html) else html.escape(str(value), quote=False)
            for name, value in params.items()
        }
        return Html(self.template(key).format_map(safe))

    def plain(self, key: str, /, **params: object) -> str:
        """``key`` filled as plain text (for the terminal and files)."""
        return self.template(key).format_map({k: str(v) for k, v in params.items()})

    def number(self, value: int) -> str:
        """``value`` with its thousands grouped as this locale writes them (2.412, 2,412)."""
        return format_number(value, self.locale)

    def has(self, key: str) -> bool:
        """Whether ``key`` exists in this locale."""
        return key in self._texts[self.locale]


@cache
def _load_all() -> dict[str, dict[str, str]]:
    texts: dict[str, dict[str, str]] = {}
    for locale in LOCALES:
        with (_HERE / f"{locale}.toml").open("rb") as fh:
            texts[locale] = _flatten(tomllib.load(fh))
    return texts


def format_number(value: int, locale: str) -> str:
    """``value`` with its thousands grouped: a dot in Vietnamese (3.000), a comma in English."""
    grouped = f"{value:,}"
    return grouped.replace(",", ".") if locale == "vi" else grouped


def load_catalog(locale: str = DEFAULT_LOCALE) -> Catalog:
    """The catalog shipped with hoinghi, speaking ``locale``."""
    return Catalog(_load_all(), locale)
