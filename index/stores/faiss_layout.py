"""FAISS index layouts (flat, 8-bit IVF, IVF-PQ): which one a size gets, its cells, and its training.

The layouts themselves and why each is used where it is are told in index/stores/faiss.py.
"""

from __future__ import annotations

import math
import os
from typing import Any, Literal

import faiss
import numpy as np

IndexKind = Literal["auto", "flat", "ivf", "ivfpq"]
Layout = Literal["flat", "ivf", "ivfpq"]

# Exact search stays cheap up to here. Past it a query reads more memory than a cell scan ever will:
# measured at 100k vectors on two cores, flat took 17-30 ms a query and IVF 1-2 ms.
FLAT_MAX = 80_000
# From here on vectors are product-quantized: 8-bit codes take 1.6 GB at 4M vectors, PQ codes a seventh.
PQ_MIN = 4_000_000
# Dimensions per 8-bit sub-quantizer: 384-dimensional vectors become 48-byte codes. On 400k synthetic
# vectors, 4 dimensions a byte (96) raised recall@10 from 0.76 to 0.84 at twice the memory; the exact top
# 10 was inside the top 100 either way (0.985 / 0.999), and retrieval fuses and reranks the top 100.
PQ_DIMS_PER_BYTE = 8
# Cells of a PQ index at most: each vector added is compared with every cell (10M x 2048 x 384 multiply-adds,
# ~5 CPU-minutes), while a probe of 64 cells at 10M still scans only ~300k 48-byte codes, a few ms.
PQ_MAX_CELLS = 2048
# Cells scanned per query: at 1M vectors and 2048 cells that is ~3% of the vectors, a few ms.
NPROBE = 64
# Filtered searches whose allowed set is below this share of the index scan every cell instead, since
# the few allowed vectors may lie outside the probed ones.
EXHAUSTIVE_FILTER_SHARE = 0.2
# k-means wants about this many training points per cell; more only costs time.
TRAIN_POINTS_PER_CELL = 40


def ideal_cells(n: int) -> int:
    """Number of IVF cells for n vectors: about 2 sqrt(n), a power of two, at least 64."""
    # 2 sqrt(n) rather than the textbook 4 sqrt(n): half the k-means and assignment work on two cores,
    # and NPROBE cells of ~500 vectors each still scan in a few milliseconds at 1M.
    return max(64, 1 << round(math.log2(2 * math.sqrt(max(n, 1)))))


def layout_for(n: int, kind: IndexKind = "auto") -> Layout:
    """The layout n vectors get (the one asked, unless "auto")."""
    if kind != "auto":
        return kind
    if n < FLAT_MAX:
        return "flat"
    return "ivf" if n < PQ_MIN else "ivfpq"


def cells_for(n: int, layout: Layout) -> int:
    """IVF cells for an index of n vectors, bounded by what k-means can place with n training points."""
    cells = ideal_cells(n)
    if layout == "ivfpq":
        cells = min(cells, PQ_MAX_CELLS)
    # Fewer cells than ideal for small sets: k-means needs ~39 points per cell to place them well.
    return max(1, min(cells, n // 39))


def train_size(n: int, kind: IndexKind = "auto") -> int:
    """How many of n vectors training the layout they get looks at (all of them for flat)."""
    layout = layout_for(n, kind)
    return n if layout == "flat" else min(n, cells_for(n, layout) * TRAIN_POINTS_PER_CELL)


def omp_threads(n: int) -> None:
    """Set faiss' OpenMP thread count (process-wide; a race between threads only costs speed)."""
    # One query gains nothing from a second thread, and on a busy machine OpenMP's spin-waiting for it
    # made a flat search 2.5-3.5x slower; training and bulk adds do use every core.
    faiss.omp_set_num_threads(n)


def new_flat(dimension: int) -> Any:
    """An empty exact index keyed by passage id."""
    return faiss.IndexIDMap2(faiss.IndexFlatIP(dimension))


def train_ivf(dimension: int, vectors: np.ndarray, n: int | None = None, pq: bool = False, seed: int = 1234) -> Any:
    """An empty IVF index (8-bit or PQ codes) for n vectors, trained on (a sample of) vectors."""
    layout: Layout = "ivfpq" if pq else "ivf"
    # The cells n vectors call for, as many as the sample can train (k-means wants ~39 points a cell).
    cells = max(1, min(cells_for(n or len(vectors), layout), len(vectors) // 39))
    quantizer = faiss.IndexFlatIP(dimension)
    index: Any
    if pq and dimension % PQ_DIMS_PER_BYTE == 0:
        m = dimension // PQ_DIMS_PER_BYTE
        index = faiss.IndexIVFPQ(quantizer, dimension, cells, m, 8, faiss.METRIC_INNER_PRODUCT)
    else:
        index = faiss.IndexIVFScalarQuantizer(
            quantizer, dimension, cells, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT
        )
    sample = vectors
    limit = cells * TRAIN_POINTS_PER_CELL
    if len(vectors) > limit:
        pick = np.random.default_rng(seed).choice(len(vectors), size=limit, replace=False)
        sample = vectors[np.sort(pick)]
    index.cp.seed = seed
    omp_threads(os.cpu_count() or 1)
    # Ten k-means rounds place the cells about as well as faiss' default 25, at 40% of the time.
    index.cp.niter = 10
    index.train(np.ascontiguousarray(sample, dtype=np.float32))
    index.nprobe = NPROBE
    return index


def ivf_part(index: Any) -> Any:
    """The IVF part of an index, or None for flat (typed Any: faiss' stubs lack several IVF members)."""
    return faiss.try_extract_index_ivf(index)


def layout_of(index: Any) -> Layout:
    """Which layout an index has."""
    ivf = ivf_part(index)
    if ivf is None:
        return "flat"
    return "ivfpq" if isinstance(faiss.downcast_index(ivf), faiss.IndexIVFPQ) else "ivf"
