"""Index-test fixtures: one real Milvus standalone server per session, started from the `milvus` package."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest

from bench.milvus_server import MilvusStartError, start_milvus


@pytest.fixture(scope="session")
def milvus_uri(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URI of a Milvus server on 127.0.0.1 with its data under a temp folder; skips if it cannot start."""
    data = tmp_path_factory.mktemp("milvus-server")
    try:
        running = start_milvus(data)
    except MilvusStartError as exc:
        pytest.skip(f"no Milvus server for this test: {exc}")
    try:
        yield running.uri
    finally:
        running.stop()
        # The unpacked server binaries alone are ~240 MB.
        shutil.rmtree(data, ignore_errors=True)
