"""The Milvus vector store: one collection per index generation, date/source/language filters run inside Milvus.

The generation folder records its collection's name (milvus.json), so `reindex` still builds a new generation
aside and swaps the CURRENT pointer atomically; the old collection is dropped with the old folder (`discard`).
The client talks to a standalone server or a cluster's proxy alike: nothing here depends on which.
Writes are durable once Milvus acknowledges them and visible to searches at once (within the consistency
level); `flush` seals them into indexed segments and stamps the folder, which is what `refresh` watches.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
from pymilvus import DataType, MilvusClient, MilvusException

from corpus.errors import ConfigError, IndexMismatchError, StoreError
from corpus.settings import MilvusSettings, Settings
from index.query import Filters
from index.stores.base import NO_FILTERS, VectorAttrs, check_rows

RECORD_FILE = "milvus.json"
STAMP_FILE = "milvus.flushed"
# Rows per insert request: 2,000 vectors of 384 floats are ~3 MB, far under gRPC's 64 MB message limit.
BATCH_ROWS = 2_000
# Milvus' ceiling on a search's limit and on a query page.
MAX_TOPK = 16_384
# Ids per `id in [...]` expression: the expression parser slows down on very long lists.
IDS_PER_EXPR = 5_000
SOURCE_CHARS = 512
LANGUAGE_CHARS = 16


def collection_name(prefix: str, folder: Path) -> str:
    """The collection of a generation folder: its name made a Milvus identifier, plus a hash of its path."""
    slug = re.sub(r"[^A-Za-z0-9_]", "_", folder.name)
    # Two data dirs sharing one server may both have a folder of the same name (tests do).
    digest = hashlib.sha1(str(folder.resolve()).encode()).hexdigest()[:8]
    # A prefix of at most 64 and a folder name of ~40 characters stay far under Milvus' 255.
    return f"{prefix}_{slug}_{digest}"


def _seconds(value: datetime) -> int:
    """Whole epoch seconds, as the other stores compare dates."""
    return math.floor(value.timestamp())


def _text(value: str) -> str:
    """A string literal of Milvus' expression language (double-quoted, backslash escapes)."""
    return json.dumps(value, ensure_ascii=False)


def filter_expr(filters: Filters) -> str:
    """The filters as a Milvus boolean expression ("" for none); an undated passage never passes a date filter."""
    parts = []
    if filters.since is not None or filters.until is not None:
        parts.append("dated == true")
    if filters.since is not None:
        parts.append(f"published_at >= {_seconds(filters.since)}")
    if filters.until is not None:
        parts.append(f"published_at <= {_seconds(filters.until)}")
    if filters.sources:
        names = sorted({s.lower()[:SOURCE_CHARS] for s in filters.sources})
        parts.append(f"source in [{', '.join(_text(n) for n in names)}]")
    return " and ".join(parts)


def _row(chunk_id: int, vector: np.ndarray, attrs: VectorAttrs) -> dict[str, Any]:
    return {
        "id": chunk_id,
        "vector": vector,
        "published_at": _seconds(attrs.effective_at) if attrs.effective_at else 0,
        "dated": attrs.effective_at is not None,
        # Lowercased: the source filter ignores case, as in the other stores.
        "source": (attrs.source or "").lower()[:SOURCE_CHARS],
        "language": (attrs.language or "")[:LANGUAGE_CHARS],
    }


class MilvusStore:
    """The VectorStore contract over one Milvus collection (inner product on normalised vectors)."""

    def __init__(self, folder: Path, dimension: int, settings: MilvusSettings) -> None:
        self.folder = folder
        self.dimension = dimension
        self._settings = settings
        self._stamp = folder / STAMP_FILE
        self.collection = _recorded(folder) or _record(
            folder, collection_name(settings.collection_prefix, folder)
        )
        self._client = _connect(settings)
        # Milvus 2.3 does not hand a delete's timestamp to the client's session, so the reads right after
        # one wait for everything ("Strong", ~200 ms once) to see it.
        self._deleted = False
        try:
            with self._errors("opening the collection"):
                self._ensure_collection()
        except (StoreError, IndexMismatchError):
            self._client.close()
            raise
        self._seen = self._stamp_mtime()

    @classmethod
    def open(cls, folder: Path, dimension: int, settings: Settings | None = None) -> MilvusStore:
        """The store of a generation folder: its recorded collection, created when new."""
        if settings is None:
            raise ConfigError("index.store = 'milvus' needs the [milvus] settings to reach the server")
        return cls(folder, dimension, settings.milvus)

    @classmethod
    def discard(cls, folder: Path, settings: Settings | None = None) -> None:
        """Drop the collection a generation folder records (nothing when it records none)."""
        name = _recorded(folder)
        if name is None:
            return
        if settings is None:
            raise ConfigError(f"dropping Milvus collection {name} needs the [milvus] settings")
        client = _connect(settings.milvus)
        try:
            with _wrapped(f"dropping collection {name}", settings.milvus.uri):
                if client.has_collection(name, timeout=settings.milvus.timeout_seconds):
                    client.drop_collection(name, timeout=settings.milvus.timeout_seconds)
        finally:
            client.close()

    @contextmanager
    def _errors(self, what: str) -> Iterator[None]:
        with _wrapped(f"{what} ({self.collection})", self._settings.uri):
            yield

    def _ensure_collection(self) -> None:
        timeout = self._settings.timeout_seconds
        if not self._client.has_collection(self.collection, timeout=timeout):
            self._create()
            return
        info = self._client.describe_collection(self.collection, timeout=timeout)
        dims = [f.get("params", {}).get("dim") for f in info["fields"] if f["name"] == "vector"]
        if dims and int(dims[0]) != self.dimension:
            raise IndexMismatchError(
                f"Milvus collection {self.collection} has dimension {dims[0]}, the model gives"
                f" {self.dimension}: run `newsbot reindex`"
            )
        state = self._client.get_load_state(self.collection, timeout=timeout)
        if "NotLoad" in str(state.get("state")):
            # A server restarted from its own storage does not always load collections again.
            self._client.load_collection(self.collection, timeout=timeout)

    def _create(self) -> None:
        s = self._settings
        schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("id", DataType.INT64, is_primary=True)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=self.dimension)
        schema.add_field("published_at", DataType.INT64)
        # Milvus 2.3 has no NULL: undated passages are marked so that date filters skip them.
        schema.add_field("dated", DataType.BOOL)
        schema.add_field("source", DataType.VARCHAR, max_length=SOURCE_CHARS)
        schema.add_field("language", DataType.VARCHAR, max_length=LANGUAGE_CHARS)
        params: dict[str, int] = {}
        if s.index_type == "HNSW":
            params = {"M": s.hnsw_m, "efConstruction": s.hnsw_ef_construction}
        elif s.index_type == "IVF_FLAT":
            params = {"nlist": s.ivf_nlist}
        index = self._client.prepare_index_params()
        index.add_index(field_name="vector", index_type=s.index_type, metric_type="IP", params=params)
        self._client.create_collection(
            self.collection,
            schema=schema,
            index_params=index,
            consistency_level=s.consistency_level,
            timeout=s.timeout_seconds,
        )

    def _level(self, wanted: str = "Session") -> str:
        """The consistency level of a read: at least its own writes (Session), all of them after a delete."""
        if self._deleted:
            self._deleted = False
            return "Strong"
        return "Strong" if self._settings.consistency_level == "Strong" else wanted

    def _search_params(self, limit: int) -> dict[str, Any]:
        s = self._settings
        params: dict[str, int] = {}
        if s.index_type == "HNSW":
            # HNSW cannot return more than ef results.
            params = {"ef": max(s.hnsw_ef, limit)}
        elif s.index_type == "IVF_FLAT":
            params = {"nprobe": min(s.ivf_nprobe, s.ivf_nlist)}
        return {"metric_type": "IP", "params": params}

    def add(self, ids: Sequence[int], vectors: np.ndarray, attrs: Sequence[VectorAttrs]) -> None:
        """Add (or replace) vectors under their chunk ids, with their filter attributes as scalar fields."""
        check_rows(ids, attrs)
        if not len(ids):
            return
        rows = np.asarray(vectors, dtype=np.float32).reshape(-1, self.dimension)
        with self._errors("adding vectors"):
            for start in range(0, len(ids), BATCH_ROWS):
                stop = min(start + BATCH_ROWS, len(ids))
                batch = [_row(int(ids[i]), rows[i], attrs[i]) for i in range(start, stop)]
                # Upsert: an id added again replaces its vector, as in the other stores.
                self._client.upsert(self.collection, batch, timeout=self._settings.timeout_seconds)

    def remove(self, ids: Sequence[int]) -> int:
        """Remove vectors by chunk id; returns how many went."""
        wanted = sorted({int(i) for i in ids})
        gone = 0
        with self._errors("removing vectors"):
            for start in range(0, len(wanted), IDS_PER_EXPR):
                part = wanted[start : start + IDS_PER_EXPR]
                # Milvus counts the ids it was asked to delete, not the ones it held.
                present = [
                    int(r["id"])
                    for r in self._client.query(
                        self.collection,
                        filter=f"id in {part}",
                        output_fields=["id"],
                        consistency_level=self._level(),
                        timeout=self._settings.timeout_seconds,
                    )
                ]
                if present:
                    self._client.delete(self.collection, ids=present, timeout=self._settings.timeout_seconds)
                    self._deleted = True
                gone += len(present)
        return gone

    def search(self, vector: np.ndarray, k: int, filters: Filters = NO_FILTERS) -> list[tuple[int, float]]:
        """The k nearest chunk ids passing the filters, the filters evaluated by Milvus."""
        if k <= 0:
            return []
        limit = min(k, MAX_TOPK)
        with self._errors("searching"):
            hits = self._client.search(
                self.collection,
                data=[np.asarray(vector, dtype=np.float32).reshape(-1)],
                filter=filter_expr(filters),
                limit=limit,
                output_fields=[],
                search_params=self._search_params(limit),
                consistency_level=self._level(self._settings.consistency_level),
                timeout=self._settings.timeout_seconds,
            )
        return [(int(h["id"]), float(h["distance"])) for h in hits[0]] if hits else []

    def count(self) -> int:
        """Number of vectors."""
        with self._errors("counting"):
            rows = self._client.query(
                self.collection,
                filter="",
                output_fields=["count(*)"],
                consistency_level=self._level(),
                timeout=self._settings.timeout_seconds,
            )
        return int(rows[0]["count(*)"]) if rows else 0

    def ids(self) -> np.ndarray:
        """All chunk ids held, read in pages in primary-key order."""
        out: list[int] = []
        # Chunk ids are positive; Milvus parses "-9223372036854775808" as minus an out-of-range number.
        last = -(2**63 - 1)
        with self._errors("listing ids"):
            while True:
                page = self._client.query(
                    self.collection,
                    filter=f"id > {last}",
                    output_fields=["id"],
                    limit=MAX_TOPK,
                    consistency_level=self._level(),
                    timeout=self._settings.timeout_seconds,
                )
                got = sorted(int(r["id"]) for r in page)
                out += got
                if len(got) < MAX_TOPK:
                    return np.asarray(out, dtype=np.int64)
                last = got[-1]

    def index_progress(self) -> tuple[int, int]:
        """(rows indexed, rows in sealed segments): Milvus builds the vector index after a flush, in the background."""
        with self._errors("reading the index state"):
            info = self._client.describe_index(
                self.collection, "vector", timeout=self._settings.timeout_seconds
            )
        return int(info.get("indexed_rows", 0)), int(info.get("total_rows", 0))

    def flush(self) -> None:
        """Seal what was written into persisted segments (indexed in the background), then stamp the folder."""
        with self._errors("flushing"):
            self._client.flush(self.collection, timeout=self._settings.timeout_seconds)
        tmp = self._stamp.with_name(STAMP_FILE + ".tmp")
        tmp.write_text(f"{self.collection}\n")
        os.replace(tmp, self._stamp)
        self._seen = self._stamp_mtime()

    def refresh(self) -> bool:
        """Whether another process flushed since this one looked (searches always see the server's data)."""
        mtime = self._stamp_mtime()
        if mtime == self._seen:
            return False
        self._seen = mtime
        return True

    def close(self) -> None:
        """Close the connection."""
        self._client.close()

    def _stamp_mtime(self) -> int:
        return self._stamp.stat().st_mtime_ns if self._stamp.exists() else 0


@contextmanager
def _wrapped(what: str, uri: str) -> Iterator[None]:
    """Milvus' errors as the project's StoreError, naming the server."""
    try:
        yield
    except MilvusException as exc:
        raise StoreError(f"Milvus at {uri}: {what} failed: {exc.message}") from exc


def _connect(settings: MilvusSettings) -> MilvusClient:
    token = settings.token.get_secret_value() if settings.token is not None else ""
    with _wrapped("connecting", settings.uri):
        return MilvusClient(uri=settings.uri, token=token, timeout=settings.timeout_seconds)


def _recorded(folder: Path) -> str | None:
    """The collection name a generation folder records, if any."""
    try:
        data = json.loads((folder / RECORD_FILE).read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise StoreError(f"{folder / RECORD_FILE} is unreadable ({exc}): run `newsbot reindex`") from exc
    name = data.get("collection") if isinstance(data, dict) else None
    if not isinstance(name, str) or not name:
        raise StoreError(f"{folder / RECORD_FILE} names no collection: run `newsbot reindex`")
    return name


def _record(folder: Path, name: str) -> str:
    """Write the collection's name into the generation folder (before creating it, so it is never orphaned)."""
    tmp = folder / (RECORD_FILE + ".tmp")
    tmp.write_text(json.dumps({"collection": name}) + "\n")
    os.replace(tmp, folder / RECORD_FILE)
    return name
