"""End to end on a real Milvus: sample ingest, cited answer, reindex into a new collection; each index type."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from pymilvus import MilvusClient

from corpus.settings import Settings
from index.embeddings import Embedder
from index.query import Filters, Query
from index.service import NewsService
from index.stores import discard_vector_store, open_vector_store
from index.stores.base import VectorAttrs
from index.stores.milvus import RECORD_FILE, MilvusStore
from tests.conftest import SAMPLES, make_settings

pytestmark = pytest.mark.milvus

QUESTION = "What projects did Iran and Azerbaijan discuss?"


def _serving_folder(service: NewsService) -> Path:
    name = service.index_dir.current_name()
    assert name is not None
    return service.index_dir.root / name


def test_ingest_ask_and_reindex_swaps_collections(
    tmp_path: Path, embedder: Embedder, milvus_uri: str
) -> None:
    settings = make_settings(
        tmp_path / "data", index={"store": "milvus"}, milvus={"uri": milvus_uri, "collection_prefix": "e2e"}
    )
    service = NewsService.open(settings, embedder=embedder)
    client = MilvusClient(uri=milvus_uri)
    try:
        report = service.ingest_paths([SAMPLES])
        assert report.passages_indexed > 0
        first = _serving_folder(service)
        gen = service._serving()
        assert gen is not None and isinstance(gen.vectors, MilvusStore)
        old_collection = gen.vectors.collection
        assert old_collection in (first / RECORD_FILE).read_text() and old_collection.startswith("e2e_gen_")
        assert client.has_collection(old_collection)
        assert gen.vectors.count() == gen.passages.count() == report.passages_indexed

        answer = service.ask(Query(QUESTION))
        assert answer.answered and "Rasht–Astara" in answer.text
        assert answer.citations and all(c.source == "ILKHA" for c in answer.citations)
        # The agency and date filters run inside Milvus.
        vector = service.queries.encode(QUESTION)
        assert gen.vectors.search(vector, 5, Filters(sources=("ilkha",)))
        assert gen.vectors.search(vector, 5, Filters(sources=("Reuters",))) == []
        assert gen.vectors.search(vector, 5, Filters(until=datetime(2000, 1, 1, tzinfo=UTC))) == []

        service.reindex()
        second = _serving_folder(service)
        new_gen = service._serving()
        assert new_gen is not None and isinstance(new_gen.vectors, MilvusStore)
        assert second != first and not first.exists()
        assert new_gen.vectors.collection != old_collection
        assert client.has_collection(new_gen.vectors.collection)
        assert not client.has_collection(old_collection)
        again = service.ask(Query(QUESTION))
        assert again.answered and "Rasht–Astara" in again.text
    finally:
        client.close()
        service.close()


@pytest.mark.parametrize("kind", ["IVF_FLAT", "FLAT"])
def test_other_index_types_build_and_search(tmp_path: Path, milvus_uri: str, kind: str) -> None:
    settings = Settings(milvus={"uri": milvus_uri, "index_type": kind, "ivf_nlist": 8, "ivf_nprobe": 8})  # type: ignore[arg-type]
    vecs = np.random.default_rng(7).standard_normal((1500, 16)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    store = open_vector_store("milvus", tmp_path, 16, settings)
    assert isinstance(store, MilvusStore)
    client = MilvusClient(uri=milvus_uri)
    try:
        store.add(list(range(1, 1501)), vecs, [VectorAttrs(None, "A")] * 1500)
        store.flush()
        info = client.describe_index(store.collection, "vector")
        assert info["index_type"] == kind and info["metric_type"] == "IP"
        hits = store.search(vecs[42], 3, Filters(sources=("a",)))
        assert hits[0][0] == 43 and hits[0][1] == pytest.approx(1.0, abs=1e-4)
        indexed, total = store.index_progress()
        assert 0 <= indexed <= total <= 1500
    finally:
        client.close()
        store.close()
        discard_vector_store("milvus", tmp_path, settings)
