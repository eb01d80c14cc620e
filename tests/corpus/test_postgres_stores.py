"""The article and feed-state stores behave the same on SQLite and PostgreSQL; settings keep secrets out of files."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from corpus.dedup import resolve_near_duplicates
from corpus.errors import ConfigError, StoreError
from corpus.migrate import head_revision
from corpus.models import Article
from corpus.settings import FeedSettings, Settings, load_settings
from corpus.storage import Storage

T0 = datetime(2022, 8, 20, 12, 0, tzinfo=UTC)


def _storage(tmp_path: Path, url: str) -> Storage:
    return Storage(data_dir=tmp_path, url=url)


def _article(i: int, body: str | None = None, **kw: object) -> Article:
    return Article(
        id=f"a{i}",
        title=f"Story {i}",
        body=body or f"Body of story number {i} about the harbour.",
        url=f"https://news.example/{i}",
        source="Agency" if i % 2 else "Wire",
        published_at=T0 + timedelta(hours=i),
        language="en",
        **kw,  # type: ignore[arg-type]
    )


def test_article_store_contract(tmp_path: Path, storage_url: str) -> None:
    store = _storage(tmp_path, storage_url).articles()
    try:
        first = store.upsert([_article(i) for i in range(5)])
        assert first.added == [f"a{i}" for i in range(5)]
        again = store.upsert([_article(0), replace(_article(1), body="A corrected body.", hash="")])
        assert again.unchanged == ["a0"] and again.updated == ["a1"]
        twin = store.upsert([replace(_article(2), id="copy")])
        assert twin.duplicates == ["copy"] and store.count() == 5
        got = store.get("a3")
        assert got is not None and got.published_at == T0 + timedelta(hours=3) and got.language == "en"
        assert got.published_at is not None and got.published_at.tzinfo is not None
        assert set(store.get_many(["a1", "a4", "missing"])) == {"a1", "a4"}
        assert [a.id for a in store.latest(2)] == ["a4", "a3"]
        window = store.latest(10, since=T0 + timedelta(hours=1), until=T0 + timedelta(hours=2))
        assert [a.id for a in window] == ["a2", "a1"]
        assert set(store.by_source_urls("Agency", ["https://news.example/1", "https://news.example/2"])) == {
            "https://news.example/1"
        }
        assert store.versions()["a1"] == replace(_article(1), body="A corrected body.", hash="").hash
        assert dict((s, n) for s, n, _, _ in store.sources()) == {"Agency": 2, "Wire": 3}
        assert store.languages() == [("en", 5)]
        store.set_state("last_ingest", "x")
        store.set_state("last_ingest", "y")
        assert store.get_state("last_ingest") == "y" and store.get_state("nothing") is None
    finally:
        store.close()


def test_counters_from_parallel_writers_add_up(tmp_path: Path, storage_url: str) -> None:
    storage = _storage(tmp_path, storage_url)
    storage.articles().close()  # the SQLite schema exists before the threads race to create it

    def count() -> None:
        store = storage.articles()
        try:
            for _ in range(50):
                store.add_to_counter("questions_answered", 1)
        finally:
            store.close()

    threads = [threading.Thread(target=count) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    store = storage.articles()
    assert store.get_state("questions_answered") == "200"
    store.close()


def test_near_duplicates_are_found_in_either_store(tmp_path: Path, storage_url: str) -> None:
    body = " ".join(f"word{i} harbour ferry strike talks minister" for i in range(40))
    store = _storage(tmp_path, storage_url).articles()
    try:
        old = Article(id="old", title="Ferry strike talks", body=body, url="https://a.example/1", published_at=T0)
        kept = resolve_near_duplicates([old], store, 0.9)
        store.upsert(kept)
        newer = Article(
            id="new",
            title="Ferry strike talks resume",
            body=body + " Updated.",
            url="https://a.example/2",
            published_at=T0 + timedelta(hours=2),
        )
        resolved = resolve_near_duplicates([newer], store, 0.9)
        # The newer version takes over the stored one's id instead of becoming a second story.
        assert [a.id for a in resolved] == ["old"] and resolved[0].body.endswith("Updated.")
        unrelated = Article(id="other", title="Elections", body="Voters went to the polls in the capital today.")
        assert [a.id for a in resolve_near_duplicates([unrelated], store, 0.9)] == ["other"]
    finally:
        store.close()


def test_feed_state_contract(tmp_path: Path, storage_url: str) -> None:
    state = _storage(tmp_path, storage_url).feed_state()
    feed = "https://Feeds.Example/rss"
    try:
        assert state.add(FeedSettings(url=feed, source="Example"), title="Example news")
        assert not state.add(FeedSettings(url="https://feeds.example/rss", source="Again"))
        assert [f.source for f in state.imported()] == ["Example"]
        assert state.validators(feed) == (None, None)
        state.record_ok(feed, '"etag-1"', "Sat, 20 Aug 2022 10:00:00 GMT", seen=10, new=4)
        state.record_error(feed, "HTTP 503")
        row = state.state(feed)
        assert row is not None and row["articles_seen"] == 10 and row["error_count"] == 1
        assert isinstance(row["last_ok"], str) and datetime.fromisoformat(row["last_ok"]).tzinfo is not None
        assert state.validators(feed) == ('"etag-1"', "Sat, 20 Aug 2022 10:00:00 GMT")
        page = Article(id="p", title="Page", body="Summary", url="https://feeds.example/p1", language="en")
        first = state.record_page_failure(feed, page, "timeout", cap=96)
        assert (first.attempts, first.wait, first.due) == (1, 1, False)
        state.tick_retries(feed)
        assert state.retries(feed)["https://feeds.example/p1"].due
        for _ in range(12):
            last = state.record_page_failure(feed, page, "timeout", cap=4)
        assert last.gave_up
        state.forget_given_up(feed, listed=["https://feeds.example/p1"])
        assert "https://feeds.example/p1" in state.retries(feed)
        state.forget_given_up(feed, listed=[])
        assert state.retries(feed) == {}
    finally:
        state.close()


@pytest.mark.postgres
def test_migrate_is_idempotent_and_an_unmigrated_database_is_refused(pg_server: str, pg_url: str) -> None:
    storage = Storage(data_dir=Path("unused"), url=pg_url)
    before, after = storage.migrate()
    assert before == after == head_revision()
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute('CREATE DATABASE "t_empty_schema"')
    empty = Storage(data_dir=Path("unused"), url=pg_url.replace(pg_url.split("/")[3].split("?")[0], "t_empty_schema"))
    with pytest.raises(StoreError, match="newsbot migrate"):
        empty.articles()


def test_a_password_in_the_settings_file_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for env in ("NEWSBOT_CONFIG", "NEWSBOT_STORAGE__PASSWORD", "NEWSBOT_STORAGE__URL", "PGPASSWORD"):
        monkeypatch.delenv(env, raising=False)
    config = tmp_path / "settings.toml"
    config.write_text('[storage]\nurl = "postgresql://newsbot:s3cret@db.example:5432/news"\n')
    with pytest.raises(ConfigError, match="NEWSBOT_STORAGE__PASSWORD"):
        load_settings(config)
    config.write_text('[storage]\nurl = "postgresql://newsbot@db.example/news"\npassword = "s3cret"\n')
    with pytest.raises(ConfigError, match="must not be written"):
        load_settings(config)
    config.write_text('[storage]\nurl = "postgresql://newsbot@db.example/news"\n')
    monkeypatch.setenv("PGPASSWORD", "from-libpq-env")
    settings = load_settings(config)
    assert Storage.from_settings(settings).password == "from-libpq-env"
    monkeypatch.setenv("NEWSBOT_STORAGE__PASSWORD", "from-newsbot-env")
    storage = Storage.from_settings(load_settings(config))
    assert storage.password == "from-newsbot-env" and storage.postgres
    assert "s3cret" not in storage.describe() and "from-newsbot-env" not in storage.describe()
    with pytest.raises(ValueError):
        Settings(storage={"url": "mysql://db/news"})  # type: ignore[arg-type]


@pytest.mark.postgres
def test_a_dropped_connection_is_opened_again(tmp_path: Path, pg_url: str) -> None:
    store = Storage(data_dir=tmp_path, url=pg_url).articles()
    try:
        store.upsert([_article(1)])
        pid = store.execute("SELECT pg_backend_pid() AS pid")[0]["pid"]  # type: ignore[attr-defined]
        with psycopg.connect(pg_url, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        # A read is repeated once on a new connection; writes then use that connection too.
        assert store.count() == 1
        store.set_state("after", "reconnect")
        assert store.get_state("after") == "reconnect"
    finally:
        store.close()
