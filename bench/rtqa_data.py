"""RealTime QA as the benches read it: its questions (with or without a gold article) and its articles as a corpus."""

from __future__ import annotations

import gzip
import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / ".." / "shared" / "eval-data" / "realtimeqa"
# Weeks up to this one are for tuning; later weeks are held out and never tuned on.
LAST_TUNING_WEEK = "20220826"
_SOURCES = {"cnn.com": "CNN", "usatoday.com": "USA Today", "theweek.co.uk": "The Week"}


@dataclass(frozen=True)
class Question:
    """One quiz question and its gold articles (none when its quiz names none)."""

    qid: str
    week: str
    asked_at: datetime
    text: str
    answer: str
    gold_urls: frozenset[str]

    @property
    def gold_ids(self) -> frozenset[str]:
        """The article ids the corpus file gives the gold URLs."""
        return frozenset(article_id(u) for u in self.gold_urls)


def article_id(url: str) -> str:
    """A stable id per article URL, so that gold articles are known by id after ingestion."""
    return "rtqa-" + hashlib.sha1(url.encode()).hexdigest()[:16]


def _day(value: str | None) -> date | None:
    """A date from RealTime QA's 'YYYY/MM/DD' strings."""
    if not value:
        return None
    try:
        return datetime.strptime(value[:10], "%Y/%m/%d").date()
    except ValueError:
        return None


def _source(url: str) -> str:
    host = urlsplit(url).netloc.lower()
    return next((name for dom, name in _SOURCES.items() if host.endswith(dom)), host.removeprefix("www."))


def _slug_title(url: str, text: str) -> str:
    """A headline for gold articles, which come without one: the URL's slug, else the first sentence."""
    parts = [p for p in urlsplit(url).path.split("/") if "-" in p and not p.startswith("h_")]
    if parts and len(parts[-1]) < 120:
        words = re.sub(r"[-_]+", " ", parts[-1]).removesuffix(".html").split()
        # Drop CNN's edition tags (intl, hnk, trnd) which are no words of the story.
        words = [w for w in words if w not in {"intl", "hnk", "trnd", "scli", "gbr", "ctpr"}]
        if words:
            return " ".join(words).capitalize()
    first = re.split(r"(?<=[.!?])\s", " ".join(text.split()), maxsplit=1)[0]
    return " ".join(first.split()[:15])


def _jsonl(path: Path) -> Iterator[dict[str, Any]]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                yield json.loads(line)


def load_questions(data: Path, gold_only: bool = True) -> list[Question]:
    """The questions that have a gold article with text (or all, gold_urls empty), with the day they were asked."""
    gold: dict[str, frozenset[str]] = {}
    for path in sorted((data / "gold").glob("*_gold.jsonl")):
        for row in _jsonl(path):
            urls = frozenset(r["url"] for r in row["search_result"] if r.get("text"))
            if urls:
                gold[row["question_id"]] = urls
    out = []
    for path in sorted((data / "qa").glob("*_qa.jsonl")):
        for row in _jsonl(path):
            qid = row["question_id"]
            asked = _day(row["question_date"])
            if (gold_only and qid not in gold) or asked is None:
                continue
            # The quiz appears during its day: everything published that day may be known.
            when = datetime(asked.year, asked.month, asked.day, tzinfo=UTC) + timedelta(days=1, seconds=-1)
            answer = row["choices"][int(row["answer"][0])]
            urls = gold.get(qid, frozenset())
            out.append(Question(qid, qid.split("_")[0], when, row["question_sentence"], answer, urls))
    return out


def write_corpus(data: Path, out: Path, until: date | None) -> tuple[int, int]:
    """Gold and search-result articles, deduplicated by URL, as newsbot JSONL; returns (written, skipped)."""
    records: dict[str, dict[str, Any]] = {}
    for path in sorted((data / "gold").glob("*_gold.jsonl")):
        for row in _jsonl(path):
            for r in row["search_result"]:
                if r.get("text"):
                    records.setdefault(
                        r["url"], {"url": r["url"], "text": r["text"], "date": r.get("publish_date")}
                    )
    for path in sorted((data / "gcs").glob("*_gcs.jsonl.gz")):
        for row in _jsonl(path):
            for r in row["search_result"]:
                known = records.get(r["url"])
                if known is not None:
                    # The gold scrape is the full text; the search result only lends its headline and date.
                    known.setdefault("title", r.get("title"))
                    known["date"] = known["date"] or r.get("publish_date")
                elif r.get("text"):
                    records[r["url"]] = {
                        "url": r["url"],
                        "text": r["text"],
                        "title": r.get("title"),
                        "date": r.get("publish_date"),
                    }
    written = skipped = 0
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        for url, r in records.items():
            day = _day(r["date"])
            # Undated articles could never pass the as-of filter; later ones are invisible to the questions.
            if day is None or (until is not None and day > until):
                skipped += 1
                continue
            line = {
                "id": article_id(url),
                "title": r.get("title") or _slug_title(url, r["text"]),
                "body": r["text"],
                "url": url,
                "published_at": day.isoformat() + "T00:00:00+00:00",
                "source": _source(url),
                "language": "en",
            }
            fh.write(json.dumps(line, ensure_ascii=False) + "\n")
            written += 1
    tmp.replace(out)
    return written, skipped
