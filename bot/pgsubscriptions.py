"""Digest subscribers and deliveries in PostgreSQL: every replica claims from one table, row by row."""

from __future__ import annotations

from datetime import date

from bot.subscriptions import Subscription
from corpus.pgdb import PgDatabase, Row


def _sub(r: Row) -> Subscription:
    language = r["language"]
    return Subscription(
        int(r["chat_id"]),
        str(r["send_time"]),
        str(r["timezone"]),
        bool(r["active"]),
        str(language) if language is not None else None,
    )


class PgSubscriptionStore(PgDatabase):
    """Subscribers and (chat, digest date) deliveries shared by every bot replica."""

    def subscribe(self, chat_id: int, time: str, timezone: str, language: str | None = None) -> Subscription:
        """Create or change a subscription and make it active."""
        self.run(
            "INSERT INTO subscribers (chat_id, send_time, timezone, active, updated_at, language)"
            " VALUES (%s, %s, %s, TRUE, now(), %s)"
            " ON CONFLICT (chat_id) DO UPDATE SET send_time = excluded.send_time,"
            " timezone = excluded.timezone, active = TRUE, updated_at = excluded.updated_at,"
            " language = excluded.language",
            (chat_id, time, timezone, language),
        )
        return Subscription(chat_id, time, timezone, True, language)

    def unsubscribe(self, chat_id: int) -> bool:
        """Remove a subscription; False when there was none."""
        return self.run("DELETE FROM subscribers WHERE chat_id = %s", (chat_id,)) > 0

    def set_active(self, chat_id: int, active: bool) -> bool:
        """Mark a subscriber (in)active after a block or unblock; False when not subscribed."""
        return (
            self.run(
                "UPDATE subscribers SET active = %s, updated_at = now() WHERE chat_id = %s", (active, chat_id)
            )
            > 0
        )

    def get(self, chat_id: int) -> Subscription | None:
        """One chat's subscription."""
        rows = self.execute("SELECT * FROM subscribers WHERE chat_id = %s", (chat_id,))
        return _sub(rows[0]) if rows else None

    def active(self) -> list[Subscription]:
        """Every active subscription."""
        return [_sub(r) for r in self.execute("SELECT * FROM subscribers WHERE active ORDER BY chat_id")]

    def languages(self) -> dict[int, str]:
        """The digest language of every active subscriber who has one."""
        rows = self.execute("SELECT chat_id, language FROM subscribers WHERE active AND language IS NOT NULL")
        return {int(r["chat_id"]): str(r["language"]) for r in rows}

    def slots(self) -> set[tuple[str, str]]:
        """The distinct (time, timezone) pairs active subscribers want their digest at."""
        rows = self.execute("SELECT DISTINCT send_time, timezone FROM subscribers WHERE active")
        return {(str(r["send_time"]), str(r["timezone"])) for r in rows}

    def pending(self, digest_date: date, slot: tuple[str, str] | None = None) -> list[int]:
        """Active subscribers (of one slot, or all) without a delivery for that digest date."""
        time_, tz = slot or (None, None)
        rows = self.execute(
            "SELECT chat_id FROM subscribers s WHERE active"
            " AND (%(time)s::text IS NULL OR (send_time = %(time)s AND timezone = %(tz)s))"
            " AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.chat_id = s.chat_id AND d.digest_date = %(day)s)"
            " ORDER BY chat_id",
            {"time": time_, "tz": tz, "day": digest_date},
        )
        return [int(r["chat_id"]) for r in rows]

    def claim(self, chat_id: int, digest_date: date) -> bool:
        """Reserve this chat's digest of that date; only one caller, on any replica, ever gets True.

        The primary key decides: of racing inserts one lands, the others wait on its row lock and then
        find the conflict, so no digest is claimed twice even by replicas on different machines.
        """
        return (
            self.run(
                "INSERT INTO deliveries (chat_id, digest_date, status, claimed_at) VALUES (%s, %s, 'claimed', now())"
                " ON CONFLICT (chat_id, digest_date) DO NOTHING",
                (chat_id, digest_date),
            )
            == 1
        )

    def mark_sent(self, chat_id: int, digest_date: date) -> None:
        """Record that a claimed digest went out."""
        self.run(
            "UPDATE deliveries SET status = 'sent' WHERE chat_id = %s AND digest_date = %s", (chat_id, digest_date)
        )

    def release(self, chat_id: int, digest_date: date) -> None:
        """Give a claim back after a send that failed for good, so a later run may try again."""
        self.run(
            "DELETE FROM deliveries WHERE chat_id = %s AND digest_date = %s AND status = 'claimed'",
            (chat_id, digest_date),
        )

    def counts(self) -> tuple[int, int]:
        """(active, all) subscribers."""
        row = self.execute("SELECT COUNT(*) FILTER (WHERE active) AS a, COUNT(*) AS n FROM subscribers")[0]
        return int(row["a"]), int(row["n"])
