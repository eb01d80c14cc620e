"""Index generations on disk: passages + a vector store + manifest in one folder, swapped in atomically via CURRENT."""

from __future__ import annotations

import fcntl
import json
import logging
import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from corpus.errors import IndexBusyError, IndexMismatchError, StoreError
from corpus.settings import Settings
from index.passages import PassageStore
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


class Generation:
    """One built (or being built) index folder: its passages, its vectors and its manifest."""

    def __init__(self, folder: Path, manifest: Manifest, settings: Settings | None = None) -> None:
        self.folder = folder
        self.manifest = manifest
        self.passages = PassageStore(folder / PASSAGES_FILE)
        # Settings reach stores that live on a server (milvus); file stores need none.
        self.vectors: VectorStore = open_vector_store(manifest.store, folder, manifest.dimension, settings)

    @classmethod
    def create(cls, folder: Path, manifest: Manifest, settings: Settings | None = None) -> Generation:
        """A new empty generation."""
        folder.mkdir(parents=True, exist_ok=False)
        stamped = Manifest(
            **{**asdict(manifest), "created_at": datetime.now(UTC).isoformat(timespec="seconds")}
        )
        (folder / MANIFEST_FILE).write_text(json.dumps(asdict(stamped), indent=2))
        return cls(folder, stamped, settings)

    @classmethod
    def open(cls, folder: Path, settings: Settings | None = None) -> Generation:
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
        return cls(folder, manifest, settings)

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


class IndexDirectory:
    """data_dir/index: generations, the CURRENT pointer, and the writer lock."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)
        self.pointer = root / "CURRENT"

    def current_name(self) -> str | None:
        """Folder name of the serving generation."""
        try:
            name = self.pointer.read_text().strip()
        except FileNotFoundError:
            return None
        return name if name and (self.root / name).is_dir() else None

    def pointer_mtime(self) -> int:
        """Change marker of the CURRENT pointer."""
        return self.pointer.stat().st_mtime_ns if self.pointer.exists() else 0

    def new_folder(self) -> Path:
        """A fresh folder name for a generation being built."""
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        return self.root / f"gen-{stamp}-{os.getpid()}-{time.monotonic_ns() % 1_000_000:06d}"

    def publish(self, folder: Path) -> None:
        """Make a built generation the serving one in one atomic rename."""
        tmp = self.pointer.with_suffix(".tmp")
        tmp.write_text(folder.name)
        os.replace(tmp, self.pointer)

    def remove_old(self, keep: str, settings: Settings | None = None) -> None:
        """Delete every generation but `keep` (and anything half-built by a crashed rebuild), with its store."""
        for child in self.root.iterdir():
            if child.is_dir() and child.name.startswith("gen-") and child.name != keep:
                try:
                    _discard_store(child, settings)
                except StoreError as exc:
                    # The folder names the store's data: kept, so that the next reindex drops both.
                    log.warning("old index %s kept: %s", child.name, exc)
                    continue
                shutil.rmtree(child, ignore_errors=True)

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
