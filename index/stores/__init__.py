"""Vector stores behind one contract (`base.VectorStore`); `open_vector_store` picks one by its setting."""

from __future__ import annotations

from pathlib import Path

from corpus.errors import ConfigError
from corpus.settings import Settings
from index.stores.base import StoreDiscarder, StoreOpener, VectorStore
from index.stores.faiss import FaissStore
from index.stores.memory import MemoryStore


def _milvus_open(folder: Path, dimension: int, settings: Settings | None = None) -> VectorStore:
    # Imported when used: pymilvus is an optional extra (`.[milvus]`) and takes ~0.4 s to import.
    from index.stores.milvus import MilvusStore

    return MilvusStore.open(folder, dimension, settings)


def _milvus_discard(folder: Path, settings: Settings | None = None) -> None:
    from index.stores.milvus import MilvusStore

    MilvusStore.discard(folder, settings)


# A new backend is one module implementing VectorStore and one entry here.
VECTOR_STORES: dict[str, StoreOpener] = {
    "faiss": FaissStore.open,
    "memory": MemoryStore.open,
    "milvus": _milvus_open,
}
# Stores that keep data outside the generation folder, and how that data goes with the folder.
STORE_DISCARDERS: dict[str, StoreDiscarder] = {
    "milvus": _milvus_discard,
}


def open_vector_store(
    name: str, folder: Path, dimension: int, settings: Settings | None = None
) -> VectorStore:
    """The vector store named by `index.store`, over a generation folder (a server store needs the settings)."""
    try:
        opener = VECTOR_STORES[name]
    except KeyError:
        known = ", ".join(sorted(VECTOR_STORES))
        raise ConfigError(f"unknown vector store {name!r} (index.store): use one of {known}") from None
    return opener(folder, dimension, settings)


def discard_vector_store(name: str, folder: Path, settings: Settings | None = None) -> None:
    """Delete what a generation's store keeps outside its folder (a server collection); files go with it."""
    discarder = STORE_DISCARDERS.get(name)
    if discarder is not None:
        discarder(folder, settings)
