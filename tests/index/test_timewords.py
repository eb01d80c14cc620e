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


def test_month_name_in_the_future_means_last_year_and_what_was_published_since() -> None:
    w = parse_time_window("What did Bulgaria decide in December?", NOW)
    assert w.since == datetime(2025, 12, 1, tzinfo=UTC)
    # A month still to come may also be what is announced now: "slashing 31,000 flights during November".
    assert w.until == datetime(2026, 11, 27, 23, 59, 59, 999999, tzinfo=UTC)


def test_a_past_month_is_news_published_in_it_or_after() -> None:
    # "The record set in the middle of June", asked in August, is reported in August too.
    w = parse_time_window("What was the record price, set in the middle of June?", NOW)
    assert w.since == datetime(2026, 6, 1, tzinfo=UTC)
    assert w.until == datetime(2026, 11, 27, 23, 59, 59, 999999, tzinfo=UTC)
    # A month with its year is that month only.
    dated = parse_time_window("strikes in March 2024", NOW)
    assert dated.until == datetime(2024, 3, 31, 23, 59, 59, 999999, tzinfo=UTC)


def test_month_with_year_and_past_days() -> None:
    assert parse_time_window("strikes in March 2024", NOW).since == datetime(2024, 3, 1, tzinfo=UTC)
    assert parse_time_window("in the past 3 days", NOW).since == datetime(2026, 11, 24, tzinfo=UTC)


def test_no_time_words() -> None:
    w = parse_time_window("What projects did Iran and Azerbaijan discuss?", NOW)
    assert (w.since, w.until, w.phrase) == (None, None, None)
