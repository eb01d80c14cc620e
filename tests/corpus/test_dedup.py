"""Canonical URLs and near-duplicate resolution against a real SQLite ArticleStore."""

from __future__ import annotations

import functools
import itertools
import random
from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from corpus.dedup import canonical_url, jaccard, prefix, resolve_near_duplicates, shingles
from corpus.models import Article, stable_id
from corpus.store import ArticleStore

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
THRESHOLD = 0.9


def _vocabulary(rng: random.Random, n: int = 6000) -> list[str]:
    letters = "abcdefghijklmnoprstuvwyz"
    return ["".join(rng.choice(letters) for _ in range(rng.randint(2, 9))) for _ in range(n)]


@functools.cache
def _cumulative(n: int) -> list[float]:
    return list(itertools.accumulate(1 / (rank + 1) for rank in range(n)))


def story(rng: random.Random, vocab: Sequence[str], words: int = 300) -> str:
    """Zipf-like random text: common words recur across stories the way they do in news."""
    sentences = []
    chosen = rng.choices(vocab, cum_weights=_cumulative(len(vocab)), k=words)
    for start in range(0, words, 15):
        sentences.append(" ".join(chosen[start : start + 15]).capitalize() + ".")
    return " ".join(sentences)


def edit(rng: random.Random, text: str, n: int = 2) -> str:
    """A few small edits: words replaced, as in a corrected republication."""
    words = text.split()
    for _ in range(n):
        words[rng.randrange(len(words))] = "corrected"
    return " ".join(words)


def art(url: str, title: str, body: str, published: datetime | None, source: str = "Agency") -> Article:
    return Article(id=stable_id(url), title=title, body=body, url=url, source=source, published_at=published)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[ArticleStore]:
    s = ArticleStore(tmp_path / "articles.db")
    yield s
    s.close()


@pytest.fixture
def rng() -> random.Random:
    return random.Random(7)


@pytest.fixture
def vocab(rng: random.Random) -> list[str]:
    return _vocabulary(rng)


def ingest(store: ArticleStore, articles: Sequence[Article]) -> list[Article]:
    resolved = resolve_near_duplicates(articles, store, THRESHOLD)
    store.upsert(resolved)
    return resolved


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (
            "HTTPS://News.Example.COM/a/b?utm_source=rss&utm_medium=x&id=3#top",
            "https://news.example.com/a/b?id=3",
        ),
        ("http://example.com:80/x?fbclid=1&gclid=2&ref=tw", "http://example.com/x"),
        ("https://example.com:8443?b=2&a=1", "https://example.com:8443/?a=1&b=2"),
        ("https://example.com/story?page=2&mc_cid=9", "https://example.com/story?page=2"),
    ],
)
def test_canonical_url(raw: str, expected: str) -> None:
    assert canonical_url(raw) == expected


def test_prefix_filter_is_exact_for_similar_sets(rng: random.Random, vocab: list[str]) -> None:
    a = Article(id="a", title="t", body=story(rng, vocab))
    b = Article(id="b", title="t", body=edit(rng, a.body, 1))
    sa, sb = shingles(a), shingles(b)
    assert jaccard(sa, sb) >= THRESHOLD
    assert set(prefix(sa, THRESHOLD)) & set(prefix(sb, THRESHOLD))


def test_newer_republication_replaces_the_stored_version(
    store: ArticleStore, rng: random.Random, vocab: list[str]
) -> None:
    body = story(rng, vocab)
    old = art("https://a.example/v1", "Quake hits coast", body, T0)
    ingest(store, [old])
    new = art("https://a.example/v2", "Quake hits coast", edit(rng, body), T0 + timedelta(hours=3))
    resolved = ingest(store, [new])
    assert [a.id for a in resolved] == [old.id]
    assert store.count() == 1
    kept = store.get(old.id)
    assert kept is not None and kept.url == new.url and kept.body == new.body


def test_older_version_is_dropped(store: ArticleStore, rng: random.Random, vocab: list[str]) -> None:
    body = story(rng, vocab)
    ingest(store, [art("https://a.example/new", "Vote today", body, T0)])
    older = art(
        "https://b.example/old", "Vote today", edit(rng, body), T0 - timedelta(hours=1), source="Other"
    )
    assert ingest(store, [older]) == []
    assert store.count() == 1


def test_different_stories_are_kept(store: ArticleStore, rng: random.Random, vocab: list[str]) -> None:
    first = [art(f"https://a.example/{i}", f"Story {i}", story(rng, vocab), T0) for i in range(20)]
    assert len(ingest(store, first)) == 20
    second = [art(f"https://a.example/x{i}", f"Other {i}", story(rng, vocab), T0) for i in range(20)]
    assert len(ingest(store, second)) == 20
    assert store.count() == 40


def test_near_duplicates_within_one_batch_keep_the_newest(
    rng: random.Random, vocab: list[str], store: ArticleStore
) -> None:
    body = story(rng, vocab)
    v1 = art("https://a.example/1", "Fire", body, T0)
    v3 = art("https://a.example/3", "Fire", edit(rng, body, 2), T0 + timedelta(hours=2))
    v2 = art("https://a.example/2", "Fire", edit(rng, body, 1), T0 + timedelta(hours=1))
    resolved = ingest(store, [v1, v3, v2])
    assert len(resolved) == 1 and resolved[0].id == v1.id and resolved[0].body == v3.body
    assert store.count() == 1


def test_window_of_days_limits_candidates(store: ArticleStore, rng: random.Random, vocab: list[str]) -> None:
    body = story(rng, vocab)
    ingest(store, [art("https://a.example/2025", "Annual report", body, T0 - timedelta(days=365))])
    assert len(ingest(store, [art("https://a.example/2026", "Annual report", body + " more", T0)])) == 1
    assert store.count() == 2


def test_repoll_of_the_replaced_url_does_not_flip_back(
    store: ArticleStore, rng: random.Random, vocab: list[str]
) -> None:
    body = story(rng, vocab)
    v1 = art("https://a.example/v1", "Flood", body, T0)
    v2 = art("https://a.example/v2", "Flood", edit(rng, body), T0 + timedelta(hours=1))
    ingest(store, [v1])
    ingest(store, [v2])
    # The feed still lists v1; its natural id now holds v2, which must stay.
    assert ingest(store, [v1]) == []
    kept = store.get(v1.id)
    assert kept is not None and kept.body == v2.body


def test_index_follows_updates(store: ArticleStore, rng: random.Random, vocab: list[str]) -> None:
    body = story(rng, vocab)
    fresh = art("https://a.example/b", "Storm", body, T0 + timedelta(hours=1))
    assert [r.id for r in ingest(store, [fresh])] == [fresh.id]
    # Rewritten in place by another path: the old text must no longer match.
    store.upsert([replace(fresh, body=story(rng, vocab), hash="")])
    again = art("https://a.example/c", "Storm", edit(rng, body), T0 + timedelta(hours=2))
    assert [r.id for r in ingest(store, [again])] == [again.id]


def test_lower_threshold_rebuilds_the_index(
    store: ArticleStore, rng: random.Random, vocab: list[str]
) -> None:
    body = story(rng, vocab)
    ingest(store, [art("https://a.example/a", "Heat", body, T0)])
    looser = art("https://a.example/b", "Heat", edit(rng, body, 25), T0 + timedelta(hours=1))
    assert [r.id for r in resolve_near_duplicates([looser], store, 0.5)] == [stable_id("https://a.example/a")]


def test_undated_articles_fall_back_to_fetched_at(
    store: ArticleStore, rng: random.Random, vocab: list[str]
) -> None:
    body = story(rng, vocab)
    old = replace(art("https://a.example/a", "Undated", body, None), fetched_at=T0)
    ingest(store, [old])
    new = replace(
        art("https://a.example/b", "Undated", edit(rng, body), None), fetched_at=T0 + timedelta(days=1)
    )
    assert [r.id for r in ingest(store, [new])] == [old.id]


def test_four_thousand_articles_resolve_at_scale(
    store: ArticleStore, rng: random.Random, vocab: list[str]
) -> None:
    base = [
        art(
            f"https://a.example/{i}",
            f"Story {i}",
            story(rng, vocab, rng.randint(150, 600)),
            T0 + timedelta(hours=i),
        )
        for i in range(4000)
    ]
    assert len(ingest(store, base)) == 4000
    republished = [
        art(f"https://b.example/{i}", a.title, edit(rng, a.body), T0 + timedelta(hours=i, minutes=30))
        for i, a in enumerate(base[:200])
    ]
    fresh = [art(f"https://c.example/{i}", f"New {i}", story(rng, vocab), T0) for i in range(200)]
    resolved = ingest(store, republished + fresh)
    assert sorted(r.id for r in resolved[:200]) == sorted(a.id for a in base[:200])
    # Speed is measured in bench.feeds_poll, never in a test.
    assert len(resolved) == 400 and store.count() == 4200


def test_one_boilerplate_body_under_unrelated_headlines_is_not_merged(
    store: ArticleStore, rng: random.Random, vocab: list[str]
) -> None:
    wall = story(rng, vocab)  # e.g. a consent wall extracted instead of two different stories
    first = art("https://a.example/1", "Parliament passes budget", wall, T0)
    second = art("https://a.example/2", "Storm floods harbour district", wall + " x", T0 + timedelta(hours=1))
    assert len(ingest(store, [first, second])) == 2
    reworded = art(
        "https://a.example/3", "UPDATE 1-Parliament passes budget bill", wall, T0 + timedelta(hours=2)
    )
    assert [r.id for r in ingest(store, [reworded])] == [first.id]
