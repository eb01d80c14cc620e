"""End to end on a real Milvus: ingest the sample, answer with citations, reindex into a new collection."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from pymilvus import MilvusClient

from index.embeddings import Embedder
from index.query import Filters, Query
from index.service import NewsService
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
