"""The speed bench's synthetic scales (built in stages, resumable, exact top-k for recall) and its rows file."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

import bench.scale_build as scale_build
from bench.scale_build import BasePassages, SyntheticScale
from bench.speed_plot import LatencyRow, plot, read_rows, write_rows
from index.generation import Generation, IndexDirectory, Manifest
from index.query import Filters

DIM = 16


def _base(size: int) -> BasePassages:
    rng = np.random.default_rng(3)
    vecs = rng.standard_normal((size, DIM)).astype(np.float32)
    return BasePassages(
        titles=[f"headline {i}" for i in range(size)],
        texts=[f"passage {i} about the harbour strike and fuel prices in week {i}" for i in range(size)],
        urls=[f"https://example.org/{i}" for i in range(size)],
        sources=["Agency A" if i % 2 else "agency b" for i in range(size)],
        published=[datetime(2022, 8, 1 + i % 20, tzinfo=UTC) for i in range(size)],
        vectors=vecs / np.linalg.norm(vecs, axis=1, keepdims=True),
    )


def _manifest() -> Manifest:
    return Manifest(
        model="test", backend="torch", max_tokens=0, dimension=DIM, chunk_words=120,
        chunk_overlap_sentences=1, store="faiss",
    )


def _serving(data_dir: Path) -> Generation:
    index_dir = IndexDirectory(data_dir / "index")
    name = index_dir.current_name()
    assert name is not None
    return Generation.open(index_dir.root / name)


def test_scale_rows_repeat_the_base_with_their_attributes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(scale_build, "BATCH", 20)
    base = _base(30)
    scale = SyntheticScale(95, tmp_path / "scale", base)
    scale.build(_manifest(), "auto", lambda _: None)
    gen = _serving(scale.data_dir)
    try:
        assert gen.passages.count() == 95
        assert sorted(gen.vectors.ids().tolist()) == list(range(1, 96))
        rows = gen.passages.get([1, 31, 95])
        # Row 30 (id 31) copies row 0, row 94 copies row 4; the first copy dropped one word and doubled one.
        assert rows[31].text == rows[1].text
        assert rows[95].text == gen.passages.get([5])[5].text
        assert rows[1].text != base.texts[0]
        assert len(rows[1].text.split()) == len(base.texts[0].split())
        assert (rows[95].article_id, rows[95].ord) == ("syn90", 4)
        assert rows[95].source == "agency b"
        # The source filter sees the copies with their base's attributes.
        found = gen.vectors.search(base.vectors[1], 95, Filters(sources=("agency a",)))
        assert len(found) == sum(1 for r in range(95) if (r % 30) % 2 == 1)
    finally:
        gen.close()
    assert (scale.data_dir / "BUILT").read_text().startswith("95 passages, flat")


def test_exact_top_is_what_a_flat_store_returns(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(scale_build, "BATCH", 20)
    scale = SyntheticScale(70, tmp_path / "scale", _base(25))
    scale.build(_manifest(), "flat", lambda _: None)
    queries = scale.vectors(0, 20)[:3]
    exact = scale.exact_top(queries, 10)
    gen = _serving(scale.data_dir)
    try:
        for q, want in zip(queries, exact, strict=True):
            assert [i for i, _ in gen.vectors.search(q, 10)] == want.tolist()
    finally:
        gen.close()
    # The same rows always get the same vectors (the build and the recall check regenerate them).
    assert np.array_equal(scale.vectors(20, 40), scale.vectors(20, 40))


def test_a_scale_built_from_another_base_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(scale_build, "BATCH", 20)
    scale = SyntheticScale(40, tmp_path / "scale", _base(20))
    scale.build(_manifest(), "flat", lambda _: None)
    # The same base again: the built scale is reused as it is.
    SyntheticScale(40, scale.data_dir, _base(20)).build(_manifest(), "flat", lambda _: None)
    # The work dir it was taken from changed (a re-ingest): its rows would not match exact search any more.
    changed = _base(20)
    changed.texts[3] = "a re-ingested passage"
    with pytest.raises(SystemExit, match="built from another base"):
        SyntheticScale(40, scale.data_dir, changed).build(_manifest(), "flat", lambda _: None)


def test_an_interrupted_first_stage_resumes_with_sql_copies(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(scale_build, "BATCH", 20)
    scale = SyntheticScale(80, tmp_path / "scale", _base(30))
    gen = scale._generation(_manifest())
    scale._first_copy(gen, 30)
    folder = gen.folder
    gen.close()
    # As if stopped after 45 rows (a stopped run's open transaction rolls back): the copies go on from there.
    SyntheticScale(45, scale.data_dir, scale.base)._copies(folder / "passages.db", 30, lambda _: None)
    conn = sqlite3.connect(folder / "passages.db")
    assert conn.execute("SELECT count(*) FROM chunks").fetchone() == (45,)
    conn.close()
    scale.build(_manifest(), "auto", lambda _: None)
    gen = _serving(scale.data_dir)
    try:
        assert gen.passages.count() == 80
        assert gen.passages.get([46])[46].text == gen.passages.get([16])[16].text
        assert gen.vectors.count() == 80
    finally:
        gen.close()


def _row(stack: str, n: int, p95: float) -> LatencyRow:
    return LatencyRow(stack, n, "default", "flat", p95 / 2, p95, p95 / 3, p95 / 2, 500.0, 10.0, 0.1, 1.0, 2.0)


def test_rows_merge_by_stack_size_and_pipeline_and_plot(tmp_path: Path) -> None:
    path = tmp_path / "speed.csv"
    write_rows(path, [_row("sqlite+faiss", 10_000, 50.0), _row("sqlite+faiss", 100_000, 80.0)])
    write_rows(path, [_row("postgresql+milvus", 10_000, 70.0), _row("sqlite+faiss", 100_000, 90.0)])
    rows = read_rows(path)
    assert [(r.stack, r.passages, r.cold_p95_ms) for r in rows] == [
        ("postgresql+milvus", 10_000, 70.0),
        ("sqlite+faiss", 10_000, 50.0),
        ("sqlite+faiss", 100_000, 90.0),
    ]
    out = tmp_path / "speed.png"
    plot(rows, out, targets=[(100_000, 100.0)])
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
