"""Vector stores behind one contract (`base.VectorStore`); `open_vector_store` picks one by its setting."""

from __future__ import annotations

from pathlib import Path

from corpus.errors import ConfigError
from index.stores.base import StoreOpener, VectorStore
from index.stores.faiss import FaissStore
from index.stores.memory import MemoryStore

# A new backend is one module implementing VectorStore and one entry here.
VECTOR_STORES: dict[str, StoreOpener] = {
    "faiss": FaissStore.open,
    "memory": MemoryStore.open,
}


def open_vector_store(name: str, folder: Path, dimension: int) -> VectorStore:
    """The vector store named by `index.store`, over a generation folder."""
    try:
        opener = VECTOR_STORES[name]
    except KeyError:
        known = ", ".join(sorted(VECTOR_STORES))
        raise ConfigError(f"unknown vector store {name!r} (index.store): use one of {known}") from None
    return opener(folder, dimension)
