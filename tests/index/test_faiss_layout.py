"""The FAISS VectorIndex on small random data: both layouts (flat, IVF) and the automatic switch between them."""

from __future__ import annotations

import numpy as np
import pytest

import index.stores.faiss_layout as vectors_module
from index.stores.faiss import VectorIndex

DIM = 32


def _unit(n: int, seed: int) -> np.ndarray:
    vecs = np.random.default_rng(seed).standard_normal((n, DIM)).astype(np.float32)
    return vecs / np.linalg.norm(vecs, axis=1, keepdims=True)


@pytest.mark.parametrize("kind", ["flat", "ivf"])
def test_add_search_remove_serialize(kind: str) -> None:
    vecs = _unit(3000, seed=1)
    ids = np.arange(10, 3010)
    index = VectorIndex.build(DIM, ids, vecs, kind=kind)  # type: ignore[arg-type]
    assert index.layout == kind
    assert index.size == 3000
    assert sorted(index.ids().tolist()) == ids.tolist()

    # A stored vector is its own nearest neighbour (IVF probes the query's own cell first).
    hits = index.search(vecs[5], 3)
    assert hits[0][0] == 15
    assert hits[0][1] == pytest.approx(1.0, abs=0.02)

    assert index.remove([15, 16, 99999]) == 2
    assert 15 not in [i for i, _ in index.search(vecs[5], 10)]
    assert index.size == 2998

    allowed = [20, 21, 22, 2000]
    found = index.search(vecs[10], 10, allowed=allowed)
    assert {i for i, _ in found} == set(allowed)
    assert found[0][0] == 20
    assert index.search(vecs[10], 10, allowed=[]) == []

    index.add([5000], vecs[5:6])
    loaded = VectorIndex.from_bytes(index.to_bytes(), DIM)
    assert loaded.layout == kind
    assert loaded.size == 2999
    assert loaded.search(vecs[5], 1)[0][0] == 5000
    assert sorted(loaded.ids().tolist()) == sorted(index.ids().tolist())


def test_empty_index_searches() -> None:
    index = VectorIndex(DIM)
    assert index.layout == "flat"
    assert index.search(_unit(1, seed=2)[0], 5) == []
    assert index.ids().tolist() == []


def test_auto_layout_switches_to_ivf_past_the_flat_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(vectors_module, "FLAT_MAX", 2000)
    vecs = _unit(2600, seed=3)
    assert VectorIndex.build(DIM, np.arange(1500), vecs[:1500]).layout == "flat"
    assert VectorIndex.build(DIM, np.arange(2600), vecs).layout == "ivf"

    index = VectorIndex(DIM)
    for start in range(0, 2600, 500):
        index.add(list(range(start, min(start + 500, 2600))), vecs[start : start + 500])
    # Crossing FLAT_MAX retrained it as IVF with every vector kept under its id.
    assert index.layout == "ivf"
    assert sorted(index.ids().tolist()) == list(range(2600))
    assert index.search(vecs[2100], 1)[0][0] == 2100
    assert index.remove(list(range(100))) == 100
    assert index.size == 2500


def test_pinned_flat_layout_never_switches(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(vectors_module, "FLAT_MAX", 100)
    index = VectorIndex(DIM, kind="flat")
    index.add(list(range(300)), _unit(300, seed=4))
    assert index.layout == "flat"


def _clustered(n: int, seed: int, dim: int = 64) -> np.ndarray:
    """Noisy copies of 50 centres: the kind of structure PQ codes are trained to keep."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((50, dim)).astype(np.float32)
    vecs = centres[rng.integers(50, size=n)] + 0.3 * rng.standard_normal((n, dim)).astype(np.float32)
    return vecs / np.linalg.norm(vecs, axis=1, keepdims=True)


def test_ivfpq_layout_search_remove_serialize() -> None:
    vecs = _clustered(4000, seed=5)
    index = VectorIndex.build(64, np.arange(4000), vecs, kind="ivfpq")
    assert index.layout == "ivfpq"
    # PQ codes are approximate: the exact top 10 of a stored vector is mostly in the PQ top 50.
    exact = np.argsort(-(vecs @ vecs[7]))[:10]
    found = [i for i, _ in index.search(vecs[7], 50)]
    assert len(set(found) & set(exact.tolist())) >= 7
    assert index.search(vecs[7], 50)[0][1] == pytest.approx(1.0, abs=0.1)
    assert index.remove([7, 8]) == 2
    assert 7 not in [i for i, _ in index.search(vecs[7], 50)]
    assert {i for i, _ in index.search(vecs[9], 5, allowed=[9, 10])} == {9, 10}
    loaded = VectorIndex.from_bytes(index.to_bytes(), 64)
    assert loaded.layout == "ivfpq"
    assert loaded.size == 3998
    ids, decoded = loaded.vectors()
    assert len(ids) == 3998
    # Decoded PQ vectors stay close to the originals.
    assert float(np.mean(np.sum(decoded * vecs[ids], axis=1))) > 0.9


def test_auto_layout_moves_to_pq_past_pq_min(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(vectors_module, "FLAT_MAX", 1000)
    monkeypatch.setattr(vectors_module, "PQ_MIN", 3000)
    assert vectors_module.layout_for(999) == "flat"
    assert vectors_module.layout_for(2999) == "ivf"
    assert vectors_module.layout_for(3000) == "ivfpq"
    assert vectors_module.layout_for(10, "ivfpq") == "ivfpq"
    vecs = _clustered(3600, seed=6)
    index = VectorIndex(64)
    for start in range(0, 3600, 600):
        index.add(list(range(start, start + 600)), vecs[start : start + 600])
    assert index.layout == "ivfpq"
    assert sorted(index.ids().tolist()) == list(range(3600))
    # Removing below PQ_MIN does not retrain back to 8-bit codes.
    index.remove(list(range(1000)))
    index.add([5000], vecs[:1])
    assert index.layout == "ivfpq"


def test_streamed_build_trains_on_a_sample_and_sizes_cells_for_the_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(vectors_module, "FLAT_MAX", 1000)
    vecs = _clustered(6000, seed=7)
    n = len(vecs)
    train = vecs[: vectors_module.train_size(n)]
    batches = [(np.arange(s, s + 1000), vecs[s : s + 1000]) for s in range(0, n, 1000)]
    index = VectorIndex.build_stream(64, train, iter(batches), n)
    assert index.layout == "ivf"
    assert index.size == n
    assert index.search(vecs[4321], 1)[0][0] == 4321
    assert vectors_module.cells_for(10_000_000, "ivfpq") == vectors_module.PQ_MAX_CELLS
    assert vectors_module.cells_for(1_000_000, "ivf") == vectors_module.ideal_cells(1_000_000)
