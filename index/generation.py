"""Index generations on disk: passages + a vector store + manifest in one folder, swapped in atomically via CURRENT."""

from __future__ import annotations

import fcntl
import json
import logging
import os
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from corpus.errors import ConfigError, IndexBusyError, IndexMismatchError, StoreError
from corpus.settings import Settings
from corpus.storage import Storage
from index.passages import PassageIndex, PassageStore
from index.stores import discard_vector_store, open_vector_store
from index.stores.base import VectorStore

# 2: vectors saved with their filter attributes, by the store the manifest names.
# 3: the keyword index holds Snowball stems of non-English passages (index/keywords.py).
FORMAT_VERSION = 3
PASSAGES_FILE = "passages.db"
MANIFEST_FILE = "manifest.json"

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Manifest:
    """What an index generation was built with; a mismatch with the settings is never silently mixed."""

    model: str
    dimension: int
    chunk_words: int
    chunk_overlap_sentences: int
    # Vectors of different inference backends differ slightly; manifests from before backends were torch.
    backend: str = "torch"
    # The cap on tokens a passage was embedded with; 0 = the model's own max_seq_length (and older manifests).
    max_tokens: int = 0
    # The vector store holding the vectors (index.store).
    store: str = "faiss"
    # The keyword index beside the passages (index.keywords): SQLite FTS5, or tantivy for big corpora.
    keywords: str = "fts5"
    format_version: int = FORMAT_VERSION
    created_at: str = ""

    def differences(self, other: Manifest) -> list[str]:
        """Human-readable differences that make two manifests incompatible."""
        out = []
        for name in (
            "model",
            "backend",
            "max_tokens",
            "dimension",
            "chunk_words",
            "chunk_overlap_sentences",
            "store",
            "keywords",
            "format_version",
        ):
            mine, theirs = getattr(self, name), getattr(other, name)
            if mine != theirs:
                out.append(
                    f"{name} {_shown(name, mine)} in the index, {_shown(name, theirs)} in the settings"
                )
        return out


def _shown(name: str, value: object) -> str:
    """A manifest value as the settings spell it."""
    return "None (the model's own)" if name == "max_tokens" and value == 0 else repr(value)


PassageOpener = Callable[[Path], PassageIndex]


def sqlite_passages(folder: Path) -> PassageIndex:
    """The passages of a generation in its own SQLite file (the default)."""
    return PassageStore(folder / PASSAGES_FILE)


def _open_passages(folder: Path, keywords: str, open_passages: PassageOpener) -> PassageIndex:
    """The generation's passages with the keyword index its manifest names."""
    if keywords == "fts5":
        return open_passages(folder)
    if keywords != "tantivy":
        raise ConfigError(f"unknown keyword index {keywords!r} (index.keywords): use fts5 or tantivy")
    if open_passages is not sqlite_passages:
        raise ConfigError("index.keywords = 'tantivy' keeps its index beside SQLite passages, not on PostgreSQL")
    # Imported when used: tantivy's wheel is loaded only by the corpora that ask for it.
    from index.tantivy_passages import TantivyPassageStore

    return TantivyPassageStore(folder / PASSAGES_FILE)


class Generation:
    """One built (or being built) index folder: its passages, its vectors and its manifest."""

    def __init__(
        self,
        folder: Path,
        manifest: Manifest,
        open_passages: PassageOpener = sqlite_passages,
        settings: Settings | None = None,
    ) -> None:
        self.folder = folder
        self.manifest = manifest
        self.passages = _open_passages(folder, manifest.keywords, open_passages)
        # Settings reach stores that live on a server (milvus); file stores need none.
        self.vectors: VectorStore = open_vector_store(manifest.store, folder, manifest.dimension, settings)

    @classmethod
    def create(
        cls,
        folder: Path,
        manifest: Manifest,
        open_passages: PassageOpener = sqlite_passages,
        settings: Settings | None = None,
    ) -> Generation:
        """A new empty generation."""
        folder.mkdir(parents=True, exist_ok=False)
        stamped = Manifest(
            **{**asdict(manifest), "created_at": datetime.now(UTC).isoformat(timespec="seconds")}
        )
        (folder / MANIFEST_FILE).write_text(json.dumps(asdict(stamped), indent=2))
        return cls(folder, stamped, open_passages, settings)

    @classmethod
    def open(
        cls, folder: Path, open_passages: PassageOpener = sqlite_passages, settings: Settings | None = None
    ) -> Generation:
        """Open a generation that exists on disk."""
        try:
            data = json.loads((folder / MANIFEST_FILE).read_text())
            manifest = Manifest(**data)
        except (OSError, ValueError, TypeError) as exc:
            raise StoreError(
                f"index manifest in {folder} is unreadable ({exc}): run `newsbot reindex`"
            ) from exc
        if manifest.format_version != FORMAT_VERSION:
            raise IndexMismatchError(
                f"index in {folder} has format {manifest.format_version}, this newsbot reads {FORMAT_VERSION}:"
                " run `newsbot reindex`"
            )
        return cls(folder, manifest, open_passages, settings)

    def close(self) -> None:
        """Release the passage database and the vector store."""
        self.passages.close()
        self.vectors.close()


def _discard_store(folder: Path, settings: Settings | None) -> None:
    """Drop what a generation's vector store keeps outside the folder (a Milvus collection)."""
    try:
        store = json.loads((folder / MANIFEST_FILE).read_text()).get("store", "faiss")
    except (OSError, ValueError, AttributeError):
        # Half-built before its manifest was written: nothing was stored anywhere else yet.
        return
    discard_vector_store(str(store), folder, settings)


class GenerationPointer(Protocol):
    """Which generation serves, and the writer lock: a file and flock here, a row and an advisory lock on PostgreSQL."""

    def current(self) -> str | None: ...
    def version(self) -> int: ...
    def publish(self, name: str) -> None: ...
    def remove_others(self, keep: str) -> None: ...
    def writer_lock(self, wait: bool = True) -> AbstractContextManager[None]: ...
    def close(self) -> None: ...


class FilePointer:
    """data_dir/index/CURRENT names the serving generation; data_dir/index/.lock is the writer lock."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.path = root / "CURRENT"

    def current(self) -> str | None:
        """Folder name in CURRENT."""
        try:
            return self.path.read_text().strip() or None
        except FileNotFoundError:
            return None

    def version(self) -> int:
        """Change marker of CURRENT."""
        return self.path.stat().st_mtime_ns if self.path.exists() else 0

    def publish(self, name: str) -> None:
        """Point CURRENT at a generation in one atomic rename."""
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(name)
        os.replace(tmp, self.path)

    def remove_others(self, keep: str) -> None:
        """Nothing lives outside the generation folders."""

    @contextmanager
    def writer_lock(self, wait: bool = True) -> Iterator[None]:
        """One writer at a time across processes (bot, CLI, scheduled polls)."""
        with (self.root / ".lock").open("w") as fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
            except BlockingIOError as exc:
                raise IndexBusyError("another process is rebuilding the index right now") from exc
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def close(self) -> None:
        """Nothing held open."""


class IndexDirectory:
    """data_dir/index: generation folders, the pointer to the serving one, and the writer lock."""

    def __init__(
        self,
        root: Path,
        pointer: GenerationPointer | None = None,
        open_passages: PassageOpener = sqlite_passages,
        settings: Settings | None = None,
    ) -> None:
        self.root = root
        self.settings = settings
        self.root.mkdir(parents=True, exist_ok=True)
        self.pointer = root / "CURRENT"
        self.serving: GenerationPointer = pointer or FilePointer(root)
        self.open_passages = open_passages

    def current_name(self) -> str | None:
        """Folder name of the serving generation."""
        name = self.serving.current()
        return name if name and (self.root / name).is_dir() else None

    def pointer_mtime(self) -> int:
        """Change marker of the serving pointer."""
        return self.serving.version()

    def new_folder(self) -> Path:
        """A fresh folder name for a generation being built."""
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        return self.root / f"gen-{stamp}-{os.getpid()}-{time.monotonic_ns() % 1_000_000:06d}"

    def open(self, folder: Path) -> Generation:
        """Open an existing generation with this directory's passage store."""
        return Generation.open(folder, self.open_passages, self.settings)

    def create(self, folder: Path, manifest: Manifest) -> Generation:
        """A new empty generation with this directory's passage store."""
        return Generation.create(folder, manifest, self.open_passages, self.settings)

    def publish(self, folder: Path) -> None:
        """Make a built generation the serving one atomically."""
        self.serving.publish(folder.name)

    def remove_old(self, keep: str, settings: Settings | None = None) -> None:
        """Delete every generation but `keep` (and anything half-built by a crashed rebuild), with its store."""
        for child in self.root.iterdir():
            if child.is_dir() and child.name.startswith("gen-") and child.name != keep:
                try:
                    _discard_store(child, settings or self.settings)
                except StoreError as exc:
                    # The folder names the store's data: kept, so that the next reindex drops both.
                    log.warning("old index %s kept: %s", child.name, exc)
                    continue
                shutil.rmtree(child, ignore_errors=True)
        self.serving.remove_others(keep)

    def writer_lock(self, wait: bool = True) -> AbstractContextManager[None]:
        """One writer at a time across processes (and machines, on PostgreSQL)."""
        return self.serving.writer_lock(wait)

    def close(self) -> None:
        """Release the pointer's connection, if any."""
        self.serving.close()


def open_index_directory(storage: Storage, settings: Settings | None = None) -> IndexDirectory:
    """data_dir/index with its pointer, lock and passages in the storage the settings name."""
    root = storage.data_dir / "index"
    if not storage.postgres:
        return IndexDirectory(root, settings=settings)
    from index.pgpassages import PgGenerationPointer, PgPassageStore

    def open_passages(folder: Path) -> PassageIndex:
        return PgPassageStore(storage.url, storage.password, folder.name)

    return IndexDirectory(root, PgGenerationPointer(storage.url, storage.password), open_passages, settings)
