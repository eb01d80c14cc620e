"""The vector-store contract, run against every registered store: the same tests for FAISS, in-memory, Milvus."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from corpus.errors import ConfigError
from corpus.settings import Settings
from index.query import Filters
from index.stores import VECTOR_STORES, open_vector_store
from index.stores.base import VectorAttrs, VectorStore

DIM = 16
DAY = datetime(2024, 3, 1, 12, tzinfo=UTC)


def _unit(n: int, seed: int) -> np.ndarray:
    vecs = np.random.default_rng(seed).standard_normal((n, DIM)).astype(np.float32)
    return vecs / np.linalg.norm(vecs, axis=1, keepdims=True)


def _attrs(n: int) -> list[VectorAttrs]:
    """Passage i is dated i days after DAY; even ones come from Alpha, odd ones from Beta, every 10th undated."""
    return [
        VectorAttrs(
            effective_at=None if i % 10 == 9 else DAY.replace(day=1 + i % 28),
            source="Alpha" if i % 2 == 0 else "Beta",
        )
        for i in range(n)
    ]


# Stores that need a server carry its marker, so `-m "not milvus"` leaves them out.
SERVER_MARKS = {"milvus": pytest.mark.milvus}


@pytest.fixture(params=[pytest.param(n, marks=SERVER_MARKS.get(n, ())) for n in sorted(VECTOR_STORES)])
def store_name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def store_settings(store_name: str, request: pytest.FixtureRequest) -> Settings:
    """Settings for the store; the Milvus one points at the session's server (started only when needed)."""
    if store_name == "milvus":
        return Settings(milvus={"uri": request.getfixturevalue("milvus_uri")})  # type: ignore[arg-type]
    return Settings()


@pytest.fixture
def store(store_name: str, store_settings: Settings, tmp_path: Path) -> Iterator[VectorStore]:
    opened = open_vector_store(store_name, tmp_path, DIM, store_settings)
    yield opened
    opened.close()


@pytest.fixture
def filled(store: VectorStore) -> tuple[VectorStore, np.ndarray]:
    vecs = _unit(40, seed=1)
    store.add(list(range(100, 140)), vecs, _attrs(40))
    return store, vecs


def test_empty_store_finds_nothing(store: VectorStore) -> None:
    assert store.count() == 0
    assert store.search(_unit(1, 2)[0], 5) == []
    assert store.ids().tolist() == []


def test_nearest_first_with_cosine_scores(filled: tuple[VectorStore, np.ndarray]) -> None:
    store, vecs = filled
    hits = store.search(vecs[7], 5)
    assert hits[0][0] == 107 and hits[0][1] == pytest.approx(1.0, abs=1e-4)
    scores = [s for _, s in hits]
    assert scores == sorted(scores, reverse=True)
    assert len(hits) == 5
    assert store.count() == 40 and sorted(store.ids().tolist()) == list(range(100, 140))


def test_remove(filled: tuple[VectorStore, np.ndarray]) -> None:
    store, vecs = filled
    assert store.remove([107, 108, 9999]) == 2
    assert store.count() == 38
    assert 107 not in [i for i, _ in store.search(vecs[7], 40)]


def test_source_filter_ignores_case(filled: tuple[VectorStore, np.ndarray]) -> None:
    store, vecs = filled
    hits = store.search(vecs[7], 40, Filters(sources=("alpha",)))
    assert hits and all((i - 100) % 2 == 0 for i, _ in hits)
    assert len(hits) == 20
    assert store.search(vecs[7], 40, Filters(sources=("Gamma",))) == []


def test_date_filter_is_inclusive_and_drops_undated(filled: tuple[VectorStore, np.ndarray]) -> None:
    store, vecs = filled
    since, until = DAY.replace(day=3), DAY.replace(day=5)
    found = {i - 100 for i, _ in store.search(vecs[0], 40, Filters(since=since, until=until))}
    expected = {i for i, a in enumerate(_attrs(40)) if a.effective_at and since <= a.effective_at <= until}
    assert found == expected and found
    assert {i - 100 for i, _ in store.search(vecs[0], 40, Filters(since=DAY))} == {
        i for i in range(40) if i % 10 != 9
    }


def test_filters_combine(filled: tuple[VectorStore, np.ndarray]) -> None:
    store, vecs = filled
    hits = store.search(vecs[0], 40, Filters(since=DAY.replace(day=20), sources=("Beta",)))
    assert hits
    for i, _ in hits:
        attrs = _attrs(40)[i - 100]
        assert attrs.source == "Beta" and attrs.effective_at is not None and attrs.effective_at.day >= 20


def test_flush_then_a_second_reader_refreshes(
    filled: tuple[VectorStore, np.ndarray], store_name: str, store_settings: Settings, tmp_path: Path
) -> None:
    store, vecs = filled
    store.flush()
    reader = open_vector_store(store_name, tmp_path, DIM, store_settings)
    assert reader.count() == 40
    assert reader.search(vecs[3], 1, Filters(sources=("beta",)))[0][0] == 103
    assert reader.refresh() is False
    store.add([500], vecs[3:4], [VectorAttrs(DAY, "Gamma")])
    store.flush()
    assert reader.refresh() is True
    assert reader.count() == 41
    assert reader.search(vecs[3], 1, Filters(sources=("gamma",))) == [(500, pytest.approx(1.0, abs=1e-4))]
    reader.close()


def test_source_names_with_quotes_and_accents(store: VectorStore) -> None:
    names = ['Ajans "Haber"', "Agence\\France", "Şafak"]
    vecs = _unit(3, seed=4)
    store.add([1, 2, 3], vecs, [VectorAttrs(DAY, n) for n in names])
    for i, name in enumerate(names):
        assert store.search(vecs[i], 3, Filters(sources=(name.upper(),))) == [
            (i + 1, pytest.approx(1.0, abs=1e-4))
        ]


def test_attrs_must_match_ids(store: VectorStore) -> None:
    with pytest.raises(ValueError):
        store.add([1, 2], _unit(2, 3), _attrs(1))


def test_unknown_store_is_a_clear_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown vector store 'qdrant'.*faiss, memory"):
        open_vector_store("qdrant", tmp_path, DIM)
