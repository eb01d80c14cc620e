"""Time words resolve to windows relative to now."""

from __future__ import annotations

from datetime import UTC, datetime

from index.timewords import parse_time_window

NOW = datetime(2026, 11, 27, 15, 0, tzinfo=UTC)  # a Friday


def test_yesterday() -> None:
    w = parse_time_window("What happened yesterday in Sofia?", NOW)
    assert (w.since, w.until) == (
        datetime(2026, 11, 26, tzinfo=UTC),
        datetime(2026, 11, 26, 23, 59, 59, 999999, tzinfo=UTC),
    )
    assert w.query == "What happened in Sofia?"


def test_this_week_starts_on_monday() -> None:
    w = parse_time_window("Any news on Iran this week?", NOW)
    assert w.since == datetime(2026, 11, 23, tzinfo=UTC)


def test_month_name_in_the_future_means_last_year() -> None:
    w = parse_time_window("What did Bulgaria decide in December?", NOW)
    assert w.since == datetime(2025, 12, 1, tzinfo=UTC)
    assert w.until is not None and w.until.month == 12 and w.until.year == 2025


def test_month_with_year_and_past_days() -> None:
    assert parse_time_window("strikes in March 2024", NOW).since == datetime(2024, 3, 1, tzinfo=UTC)
    assert parse_time_window("in the past 3 days", NOW).since == datetime(2026, 11, 24, tzinfo=UTC)


def test_no_time_words() -> None:
    w = parse_time_window("What projects did Iran and Azerbaijan discuss?", NOW)
    assert (w.since, w.until, w.phrase) == (None, None, None)
