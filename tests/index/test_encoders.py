"""The ONNX int8 backend against plain sentence-transformers, and backends never mixing in caches or indexes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from corpus.errors import ConfigError, IndexMismatchError
from index.embeddings import Embedder, EmbeddingCache
from index.generation import Manifest
from index.query import Query
from index.service import NewsService
from tests.conftest import make_settings

SENTENCES = [
    "The central bank raised interest rates by half a percentage point to curb inflation.",
    "Floods in the south of the country forced thousands of families to leave their homes.",
    "The striker scored twice as the home side won the cup final.",
    "Iran and Azerbaijan discussed joint energy and transport projects.",
    "A new vaccine trial showed strong protection against the virus in older adults. " * 12,
]


@pytest.fixture(scope="module")
def fast(models_dir: Path) -> Embedder:
    """The onnx-int8 backend without a token cap, its graph exported once for the session."""
    return Embedder("bundled:all-MiniLM-L6-v2", backend="onnx-int8", models_dir=models_dir)


@pytest.fixture(scope="module")
def plain() -> Embedder:
    """Plain sentence-transformers on torch, the reference."""
    return Embedder("bundled:all-MiniLM-L6-v2")


def test_onnx_int8_agrees_with_torch(fast: Embedder, plain: Embedder) -> None:
    reference = plain.encode(SENTENCES)
    quick = fast.encode(SENTENCES)
    assert quick.shape == reference.shape == (len(SENTENCES), 384)
    assert np.allclose(np.linalg.norm(quick, axis=1), 1.0, atol=1e-4)
    cosines = (reference * quick).sum(axis=1)
    assert cosines.min() > 0.98
    assert cosines.mean() > 0.99
    # Same nearest neighbour for every sentence among the others.
    assert ((quick @ reference.T).argmax(axis=1) == np.arange(len(SENTENCES))).all()


def test_onnx_int8_vector_does_not_depend_on_its_batchmates(fast: Embedder) -> None:
    # One activation scale per batch tensor would move a text's vector with what it is embedded beside.
    alone = fast.encode(SENTENCES[:1])[0]
    beside_shorter = fast.encode([SENTENCES[0], "Rates rose."])[0]  # one batch, SENTENCES[0] the longest
    beside_longer = fast.encode([SENTENCES[0], SENTENCES[4]])[0]  # one batch, padded to SENTENCES[4]
    assert np.array_equal(alone, beside_shorter)
    assert np.array_equal(alone, beside_longer)


def test_exported_graph_is_reused(fast: Embedder, tmp_path: Path) -> None:
    graphs = list(Path(fast._encoder._graph).parent.glob("*.onnx"))  # type: ignore[attr-defined]
    assert any(g.name == "model-int8.onnx" for g in graphs)
    again = Embedder("bundled:all-MiniLM-L6-v2", backend="onnx-int8", models_dir=Path(graphs[0]).parents[1])
    assert np.allclose(again.encode(SENTENCES[:2]), fast.encode(SENTENCES[:2]), atol=1e-6)


def test_unknown_backend_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="backend"):
        Embedder("bundled:all-MiniLM-L6-v2", backend="tpu")


def test_cache_keys_keep_backends_apart(fast: Embedder, plain: Embedder, tmp_path: Path) -> None:
    assert plain.cache_key == "bundled:all-MiniLM-L6-v2"
    assert fast.cache_key == "bundled:all-MiniLM-L6-v2#onnx-int8"
    torch_cache = EmbeddingCache(tmp_path / "embeddings.db", plain.cache_key)
    onnx_cache = EmbeddingCache(tmp_path / "embeddings.db", fast.cache_key)
    torch_cache.put_many({"h1": np.ones(384, dtype=np.float32)})
    assert onnx_cache.get_many(["h1"]) == {}
    assert list(torch_cache.get_many(["h1"])) == ["h1"]
    torch_cache.close()
    onnx_cache.close()


def test_index_of_another_backend_is_refused(fast: Embedder, plain: Embedder, tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "data")
    rows = [{"id": "a1", "title": "Harbour reopens", "body": "The harbour of Varna reopened to ferries."}]
    source = tmp_path / "a.jsonl"
    source.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    service = NewsService.open(settings, embedder=plain)
    service.ingest_paths([source])
    assert service.manifest() is not None and service.manifest()["backend"] == "torch"  # type: ignore[index]
    service.close()

    other = NewsService.open(settings, embedder=fast)
    with pytest.raises(IndexMismatchError, match="backend 'torch' in the index, 'onnx-int8'"):
        other.ask(Query("Is the Varna harbour open?"))
    other.close()


def test_manifests_from_before_backends_read_as_torch() -> None:
    old = Manifest(model="m", dimension=384, chunk_words=120, chunk_overlap_sentences=1)
    assert old.backend == "torch"
    new = Manifest(model="m", dimension=384, chunk_words=120, chunk_overlap_sentences=1, backend="onnx-int8")
    assert old.differences(new) == ["backend 'torch' in the index, 'onnx-int8' in the settings"]


def test_token_cap_truncates_and_is_recorded(fast: Embedder, models_dir: Path, tmp_path: Path) -> None:
    capped = Embedder("bundled:all-MiniLM-L6-v2", backend="onnx-int8", models_dir=models_dir, max_tokens=16)
    assert capped.cache_key == "bundled:all-MiniLM-L6-v2#onnx-int8@16"
    head = SENTENCES[4]
    other_tail = head + " The striker scored twice as the home side won the cup final."
    # Past the cap a text's tail is not read: only the uncapped model tells the two apart.
    same = capped.encode([head, other_tail])
    assert float(same[0] @ same[1]) > 0.9999
    full = fast.encode(
        [head[:80], head[:80] + " The striker scored twice as the home side won the cup final."]
    )
    assert float(full[0] @ full[1]) < 0.99

    settings = make_settings(tmp_path / "data")
    source = tmp_path / "a.jsonl"
    source.write_text(json.dumps({"id": "a1", "title": "Harbour reopens", "body": "Varna reopened."}) + "\n")
    service = NewsService.open(settings, embedder=fast)
    service.ingest_paths([source])
    service.close()
    other = NewsService.open(settings, embedder=capped)
    with pytest.raises(IndexMismatchError, match=r"max_tokens None \(the model's own\) in the index, 16"):
        other.ask(Query("Is the Varna harbour open?"))
    other.close()
