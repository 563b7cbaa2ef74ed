"""Dates and times as an official letter writes them, in the meeting's local time."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time, timedelta

from bot.texts import Catalog


def long_date(catalog: Catalog, local: datetime) -> str:
    """``Thứ Ba, ngày 28/5/2024`` (no leading zeros, as Vietnamese letters write it)."""
    return catalog.plain(
        "date.long",
        weekday=catalog.plain(f"date.weekday.{local.weekday()}"),
        day=local.day,
        month=local.month,
        year=local.year,
    )


def clock(value: datetime | time) -> str:
    """``08:00``."""
    return value.strftime("%H:%M")


def arrival_time(catalog: Catalog, local: datetime, *, several_days: bool) -> str:
    """When someone was checked in: ``07:45``, or ``07:45, 17/12`` at a meeting of several
    days, where a time alone reads as today's (day one's check-in shown on day two)."""
    return short_moment(catalog, local) if several_days else clock(local)


def moment(catalog: Catalog, local: datetime) -> str:
    """``17:00, Thứ Ba, ngày 21/5/2024``."""
    return catalog.plain("date.moment", time=clock(local), date=long_date(catalog, local))


def meeting_time(
    catalog: Catalog, key: str, starts: datetime, ends: datetime
) -> tuple[str, dict[str, str]]:
    """The catalog key and parameters that say when a meeting is (local ``starts``, ``ends``):
    ``key`` with the date and both clocks, or ``key_days`` with both dates as well when it ends
    on another day than it starts."""
    params = {"date": long_date(catalog, starts), "start": clock(starts), "end": clock(ends)}
    if ends.date() == starts.date():
        return key, params
    return f"{key}_days", {**params, "end_date": long_date(catalog, ends)}


def short_moment(catalog: Catalog, local: datetime) -> str:
    """``14:05, 28/4``, as a receipt says it."""
    return catalog.plain("date.short", time=clock(local), day=local.day, month=local.month)


def day_month(catalog: Catalog, day: date) -> str:
    """``18/12``: a meeting day named without its year."""
    return catalog.plain("date.day", day=day.day, month=day.month)


def day_list(catalog: Catalog, days: Sequence[date]) -> str:
    """``17/12``, ``17/12 và 18/12``, ``17/12, 18/12 và 19/12``."""
    names = [day_month(catalog, day) for day in days]
    if len(names) < 2:
        return "".join(names)
    return catalog.plain("date.and", first=", ".join(names[:-1]), last=names[-1])


def file_size(catalog: Catalog, size: int) -> str:
    """``245 KB``, ``1,2 MB`` (a decimal comma where the locale writes one)."""
    if size < 1024:
        return catalog.plain("size.bytes", value=size)
    if size < 1024 * 1024:
        return catalog.plain("size.kb", value=-(-size // 1024))
    value = f"{size / (1024 * 1024):.1f}"
    if catalog.locale == "vi":
        value = value.replace(".", ",")
    return catalog.plain("size.mb", value=value)


def delay(catalog: Catalog, span: timedelta) -> str:
    """``5 ngày 23 giờ``, ``2 giờ 15 phút``, ``12 phút``: how late, in its two largest units
    (a second unit of zero is left out), rounded down to the minute."""
    minutes = max(0, int(span.total_seconds()) // 60)
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    if days:
        units = [("days", days), ("hours", hours)]
    elif hours:
        units = [("hours", hours), ("minutes", minutes)]
    else:
        units = [("minutes", minutes)]
    return " ".join(
        catalog.plain(f"duration.{unit}", value=value)
        for index, (unit, value) in enumerate(units)
        if value or index == 0
    )
