"""Shared fixtures: the real embedding model (loaded once per session) and a service over the sample corpus."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from corpus.settings import Settings
from index.embeddings import Embedder
from index.service import NewsService

REPO = Path(__file__).resolve().parent.parent
SAMPLES = REPO / "samples"


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    """The bundled all-MiniLM-L6-v2, loaded once: loading costs ~10 s on two cores."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    return Embedder("bundled:all-MiniLM-L6-v2")


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
