"""The Milvus store's pieces that need no server: settings, filter expressions, names, errors."""

from __future__ import annotations

import json
import socket
from datetime import UTC, datetime
from pathlib import Path

import pytest

from corpus.errors import ConfigError, StoreError
from corpus.settings import Settings, load_settings
from index.generation import MANIFEST_FILE, IndexDirectory
from index.query import Filters
from index.stores import discard_vector_store, open_vector_store
from index.stores.milvus import RECORD_FILE, collection_name, filter_expr

TOKEN = "root:s3cret-milvus"


def test_the_token_comes_from_the_environment_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSBOT_MILVUS__TOKEN", TOKEN)
    config = tmp_path / "settings.toml"
    config.write_text(
        '[index]\nstore = "milvus"\n[milvus]\nuri = "http://milvus:19530"\nindex_type = "IVF_FLAT"\n'
    )
    settings = load_settings(config)
    assert settings.index.store == "milvus" and settings.milvus.index_type == "IVF_FLAT"
    assert settings.milvus.token is not None and settings.milvus.token.get_secret_value() == TOKEN
    assert TOKEN not in repr(settings)
    config.write_text(f'[milvus]\ntoken = "{TOKEN}"\n')
    with pytest.raises(ConfigError, match="NEWSBOT_MILVUS__TOKEN") as err:
        load_settings(config)
    assert TOKEN not in str(err.value)


@pytest.mark.parametrize(
    ("section", "field"),
    [
        ('index_type = "HNSW_PQ"', "milvus.index_type"),
        ('collection_prefix = "9-bad"', "milvus.collection_prefix"),
    ],
)
def test_bad_milvus_settings_name_the_field(tmp_path: Path, section: str, field: str) -> None:
    config = tmp_path / "settings.toml"
    config.write_text(f"[milvus]\n{section}\n")
    with pytest.raises(ConfigError, match=f"invalid setting {field}"):
        load_settings(config)


def test_filters_become_one_boolean_expression() -> None:
    assert filter_expr(Filters()) == ""
    since = datetime(2024, 3, 1, tzinfo=UTC)
    until = datetime(2024, 3, 2, 12, 30, 59, 900_000, tzinfo=UTC)
    expr = filter_expr(Filters(since=since, until=until, sources=("CNN", 'Ajans "Haber"', "cnn")))
    assert expr == (
        f"dated == true and published_at >= {int(since.timestamp())} and published_at <= {int(until.timestamp())}"
        ' and source in ["ajans \\"haber\\"", "cnn"]'
    )


def test_collection_names_are_milvus_identifiers_per_folder(tmp_path: Path) -> None:
    folder = tmp_path / "index" / "gen-20261202T083500-1234-567890"
    name = collection_name("newsbot", folder)
    assert name.startswith("newsbot_gen_20261202T083500_1234_567890_")
    assert name.replace("_", "").isalnum() and len(name) <= 255
    assert collection_name("newsbot", tmp_path / "other" / folder.name) != name


def test_a_server_store_needs_settings_and_a_server(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"\[milvus\]"):
        open_vector_store("milvus", tmp_path, 8)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings = Settings(milvus={"uri": f"http://127.0.0.1:{port}", "timeout_seconds": 1})  # type: ignore[arg-type]
    with pytest.raises(StoreError, match=f"Milvus at http://127.0.0.1:{port}: connecting failed"):
        open_vector_store("milvus", tmp_path, 8, settings)
    # The name was recorded before connecting, so a later discard knows what to drop; it fails the same way.
    assert (tmp_path / RECORD_FILE).exists()
    with pytest.raises(StoreError):
        discard_vector_store("milvus", tmp_path, settings)
    # A folder that recorded no collection has nothing to drop, and file stores have nothing outside it.
    discard_vector_store("milvus", tmp_path / "empty", settings)
    discard_vector_store("faiss", tmp_path, None)


def test_an_old_generation_whose_collection_cannot_be_dropped_is_kept(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    index = IndexDirectory(tmp_path / "index")
    old, faiss_old, new = (index.root / f"gen-{n}" for n in ("old", "faiss", "new"))
    for folder, store in ((old, "milvus"), (faiss_old, "faiss"), (new, "milvus")):
        folder.mkdir()
        (folder / MANIFEST_FILE).write_text(json.dumps({"store": store}))
    (old / RECORD_FILE).write_text(json.dumps({"collection": "newsbot_gen_old"}))
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    settings = Settings(milvus={"uri": f"http://127.0.0.1:{port}", "timeout_seconds": 1})  # type: ignore[arg-type]
    index.remove_old(keep=new.name, settings=settings)
    # Kept with its record, so that the next reindex drops both; the FAISS one had nothing elsewhere.
    assert old.exists() and not faiss_old.exists() and new.exists()
    assert "old index gen-old kept" in caplog.text
