"""`newsbot migrate`: creates the PostgreSQL schema once, says so on repeat runs, and has nothing to do on SQLite."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from corpus.migrate import head_revision
from tests.conftest import run_cli


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for env in ("NEWSBOT_CONFIG", "NEWSBOT_STORAGE__URL", "NEWSBOT_STORAGE__PASSWORD", "PGPASSWORD"):
        monkeypatch.delenv(env, raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NEWSBOT_DATA_DIR", str(tmp_path / "data"))
    return tmp_path


def test_migrate_on_sqlite_has_nothing_to_do(cli_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(["migrate"], capsys)
    assert code == 0 and "nothing to migrate" in out


@pytest.mark.postgres
def test_migrate_creates_the_schema_once(
    cli_env: Path, pg_server: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute('CREATE DATABASE "t_cli_migrate"')
    host = psycopg.conninfo.conninfo_to_dict(pg_server)["host"]
    monkeypatch.setenv("NEWSBOT_STORAGE__URL", f"postgresql://postgres@/t_cli_migrate?host={host}")
    code, _, err = run_cli(["feeds", "list"], capsys)
    assert code != 0 and "run `newsbot migrate`" in err
    head = head_revision()
    code, out, _ = run_cli(["migrate"], capsys)
    assert code == 0 and f"empty -> revision {head}" in out
    code, out, _ = run_cli(["migrate"], capsys)
    assert code == 0 and f"already at revision {head}" in out


@pytest.mark.postgres
def test_migrate_upgrades_a_database_of_an_older_newsbot(
    cli_env: Path, pg_server: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute('CREATE DATABASE "t_cli_upgrade"')
    host = psycopg.conninfo.conninfo_to_dict(pg_server)["host"]
    url = f"postgresql://postgres@/t_cli_upgrade?host={host}"
    monkeypatch.setenv("NEWSBOT_STORAGE__URL", url)
    assert run_cli(["migrate"], capsys)[0] == 0
    # The database as schema 0001 left it: subscriptions had no language yet and passages no keyword
    # statistics; one subscriber and one passage stored.
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("ALTER TABLE subscribers DROP COLUMN language")
        conn.execute("DROP TABLE keyword_stats")
        conn.execute(
            "INSERT INTO passages (generation, article_id, ord, title, text, embed_hash, kw_config)"
            " VALUES ('gen-1', 'a', 0, 'Rail link', 'The new railway opened on Monday.', 'h', 'english')"
        )
        conn.execute("UPDATE alembic_version SET version_num = '0001'")
        conn.execute("INSERT INTO subscribers VALUES (7, '08:00', 'UTC', TRUE, now())")
    code, _, err = run_cli(["feeds", "list"], capsys)
    assert code != 0 and "is at schema 0001" in err and "run `newsbot migrate`" in err
    code, out, _ = run_cli(["migrate"], capsys)
    assert code == 0 and f"0001 -> revision {head_revision()}" in out
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT chat_id, language FROM subscribers").fetchone()
        stats = conn.execute("SELECT generation, passages, lexemes FROM keyword_stats").fetchall()
    assert row == (7, None)
    # BM25's statistics are counted from the passages already there: six lexemes once stopwords are gone.
    assert stats == [("gen-1", 1, 6)]
