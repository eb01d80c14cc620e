"""Time words in questions ("yesterday", "this week", "in November") turned into a date window."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

_MONTHS = {
    name: i + 1
    for i, names in enumerate(
        [
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ]
    )
    for name in names
}
_MONTH_RE = "|".join(sorted(_MONTHS, key=len, reverse=True))
_WEEKDAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
_NUM_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "ten": 10}

_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    ("today", re.compile(r"\b(today|tonight|this morning|this afternoon|this evening)\b", re.I)),
    ("yesterday", re.compile(r"\byesterday\b", re.I)),
    (
        "last_n",
        re.compile(
            r"\b(?:in the )?(?:last|past) (\d+|one|two|three|four|five|six|seven|ten) "
            r"(day|week|month)s?\b",
            re.I,
        ),
    ),
    ("this_week", re.compile(r"\bthis week\b", re.I)),
    ("last_week", re.compile(r"\b(last|past) week\b", re.I)),
    ("this_month", re.compile(r"\bthis month\b", re.I)),
    ("last_month", re.compile(r"\blast month\b", re.I)),
    ("this_year", re.compile(r"\bthis year\b", re.I)),
    ("month", re.compile(rf"\b(?:in|during|since|of) ({_MONTH_RE})\.?(?:,? (\d{{4}}))?\b", re.I)),
    ("weekday", re.compile(rf"\b(?:on|last) ({'|'.join(_WEEKDAYS)})\b", re.I)),
    ("year", re.compile(r"\bin (20\d\d|19\d\d)\b", re.I)),
]


@dataclass(frozen=True)
class TimeWindow:
    """A [since, until] window a question asks about, and the question without the time words."""

    since: datetime | None
    until: datetime | None
    query: str
    phrase: str | None = None


def _day_start(dt: datetime) -> datetime:
    return datetime.combine(dt.date(), time.min, tzinfo=dt.tzinfo or UTC)


def _month_window(year: int, month: int) -> tuple[datetime, datetime]:
    start = datetime(year, month, 1, tzinfo=UTC)
    end = datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=UTC)
    return start, end - timedelta(microseconds=1)


def _window(kind: str, m: re.Match[str], now: datetime) -> tuple[datetime, datetime]:
    """The window one matched phrase stands for, relative to now."""
    today = _day_start(now)
    end_of_today = today + timedelta(days=1) - timedelta(microseconds=1)
    if kind == "today":
        return today, end_of_today
    if kind == "yesterday":
        return today - timedelta(days=1), today - timedelta(microseconds=1)
    if kind == "last_n":
        n = int(m.group(1)) if m.group(1).isdigit() else _NUM_WORDS[m.group(1).lower()]
        days = {"day": 1, "week": 7, "month": 30}[m.group(2).lower()] * n
        return today - timedelta(days=days), end_of_today
    if kind == "this_week":
        return today - timedelta(days=today.weekday()), end_of_today
    if kind == "last_week":
        return today - timedelta(days=7), end_of_today
    if kind == "this_month":
        return today.replace(day=1), end_of_today
    if kind == "last_month":
        first = today.replace(day=1)
        prev = first - timedelta(days=1)
        return _month_window(prev.year, prev.month)
    if kind == "this_year":
        return today.replace(month=1, day=1), end_of_today
    if kind == "month":
        month = _MONTHS[m.group(1).lower()]
        year = int(m.group(2)) if m.group(2) else (now.year if month <= now.month else now.year - 1)
        start, end = _month_window(year, month)
        # Without its year, a month's news is published in it and after it ("the record set in the middle of
        # June", asked in August); one still to come this year is last year's, or what is announced for it now.
        return start, min(end, end_of_today) if m.group(2) else end_of_today
    if kind == "weekday":
        back = (today.weekday() - _WEEKDAYS.index(m.group(1).lower())) % 7 or 7
        day = today - timedelta(days=back)
        # News of "on Thursday" is often published the next morning.
        return day, day + timedelta(days=2) - timedelta(microseconds=1)
    year = int(m.group(1))
    return datetime(year, 1, 1, tzinfo=UTC), min(datetime(year + 1, 1, 1, tzinfo=UTC), end_of_today)


def parse_time_window(question: str, now: datetime) -> TimeWindow:
    """Find the first time phrase in a question and resolve it against now."""
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    for kind, pattern in _PATTERNS:
        m = pattern.search(question)
        if m:
            since, until = _window(kind, m, now)
            query = re.sub(r"\s{2,}", " ", (question[: m.start()] + question[m.end() :])).strip()
            return TimeWindow(since=since, until=until, query=query or question, phrase=m.group(0))
    return TimeWindow(since=None, until=None, query=question)
