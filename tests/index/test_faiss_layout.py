"""The FAISS VectorIndex on small random data: both layouts (flat, IVF) and the automatic switch between them."""

from __future__ import annotations

import numpy as np
import pytest

import index.stores.faiss as vectors_module
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
