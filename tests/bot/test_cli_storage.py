"""`newsbot migrate`: creates the PostgreSQL schema once, says so on repeat runs, and has nothing to do on SQLite."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

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
    code, out, _ = run_cli(["migrate"], capsys)
    assert code == 0 and "empty -> revision 0001" in out
    code, out, _ = run_cli(["migrate"], capsys)
    assert code == 0 and "already at revision 0001" in out
