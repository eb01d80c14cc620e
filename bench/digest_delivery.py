"""Benchmark: deliver a digest to N subscribers through the Bot API stand-in that enforces 30 messages/s.

Run as `python -m bench.digest_delivery [--subscribers 5000] [--limit 30]`. It must reach at least 90% of the
limit with every subscriber getting exactly one digest.
"""

from __future__ import annotations

import argparse
import logging
import tempfile
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import cast

from pydantic import SecretStr

from bench.botapi_stub import BotApiStub
from bot.context import NewsCore
from bot.delivery import send_digest_now
from bot.subscriptions import SubscriptionStore
from corpus.settings import DigestSettings, Settings, TelegramSettings
from index.digest import Digest, Story


class DigestOnly:
    """Serves a fixed digest of eight stories; delivery needs nothing else from the core."""

    def digest(self, as_of: datetime | None = None) -> Digest:
        now = datetime.now(UTC)
        stories = tuple(
            Story(
                f"Headline number {n} of the day",
                f"One sentence summing up story {n}.",
                f"https://news.example/{n}",
                "ILKHA",
                now,
                (f"a{n}",),
            )
            for n in range(8)
        )
        return Digest(now.date(), now, now, stories)


def run(subscribers: int, limit: float) -> bool:
    """Deliver once, print the table, and say whether the bar was met."""
    with tempfile.TemporaryDirectory() as tmp, BotApiStub(rate_limit=limit, burst=int(limit)) as stub:
        settings = Settings(
            data_dir=Path(tmp),
            telegram=TelegramSettings(token=SecretStr(stub.token), base_url=stub.base_url),
            digest=DigestSettings(messages_per_second=limit),
        )
        store = SubscriptionStore(Path(tmp) / "bot.db")
        for chat in range(1, subscribers + 1):
            store.subscribe(chat, "08:00", "UTC")
        store.close()
        report = send_digest_now(settings, cast(NewsCore, DigestOnly()))
        accepted = stub.calls_to("sendMessage")
        rejected = len(stub.calls_to("sendMessage", ok_only=False)) - len(accepted)
        per_chat = Counter(c.params["chat_id"] for c in accepted)
    span = accepted[-1].at - accepted[0].at if len(accepted) > 1 else 0.0
    rate = (len(accepted) - 1) / span if span > 0 else 0.0
    lost = sum(1 for chat in range(1, subscribers + 1) if per_chat[chat] != 1)
    ok = lost == 0 and rate >= 0.9 * limit
    rows = [
        ("subscribers", f"{subscribers}"),
        ("stand-in limit (msg/s)", f"{limit:g}"),
        ("delivered", f"{report.sent}"),
        ("lost or duplicated", f"{lost}"),
        ("429 answers", f"{rejected}"),
        ("network retries", f"{report.network_retries}"),
        ("delivery time (s)", f"{report.seconds:.1f}"),
        ("throughput (msg/s)", f"{rate:.2f}"),
        ("share of limit", f"{rate / limit:.1%}"),
        ("result", "PASS" if ok else "FAIL (needs >= 90% and 0 lost)"),
    ]
    width = max(len(k) for k, _ in rows)
    print(f"{'metric':<{width}}  value")
    print(f"{'-' * width}  {'-' * 12}")
    for key, value in rows:
        print(f"{key:<{width}}  {value}")
    return ok


def main() -> None:
    """Parse arguments and run the benchmark; exit 1 when the bar is missed."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--subscribers", type=int, default=5000)
    parser.add_argument("--limit", type=float, default=30.0, help="messages/s the stand-in allows")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    raise SystemExit(0 if run(args.subscribers, args.limit) else 1)


if __name__ == "__main__":
    main()
