"""A real Milvus standalone server from the `milvus` package, on 127.0.0.1 with free ports, for tests and benches.

The package's own start waits up to 180 s even when the server has died, and its embedded etcd listens on the
fixed ports 2379/2380, so a second server on the machine cannot start. Here every port is free, the etcd ports
come from an etcd config file (Milvus reads its path from ETCD_CONFIG_PATH), and a dead server is noticed.

    python -m bench.milvus_server DATA_DIR     # runs until Ctrl-C, prints its URI
"""

from __future__ import annotations

import argparse
import os
import socket
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

START_TIMEOUT_SECONDS = 120.0


class MilvusStartError(RuntimeError):
    """The server did not come up: not installed, died, or too slow."""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class RunningMilvus:
    """A started server: its URI, process id and how to stop it."""

    uri: str
    pid: int
    data_dir: Path
    server: Any

    def stop(self) -> None:
        """Terminate the server (killed after a second, as the package does)."""
        self.server.stop()


def start_milvus(data_dir: Path, timeout: float = START_TIMEOUT_SECONDS) -> RunningMilvus:
    """Start Milvus standalone with its data, logs and unpacked binaries (~240 MB) under data_dir."""
    try:
        from milvus import MilvusServer, MilvusServerConfig
    except ImportError as exc:
        raise MilvusStartError("the milvus package is not installed: pip install -e '.[milvus]'") from exc
    data_dir.mkdir(parents=True, exist_ok=True)
    client_port, peer_port = _free_port(), _free_port()
    etcd_config = data_dir / "embedEtcd.yaml"
    etcd_config.write_text(
        f"listen-client-urls: http://127.0.0.1:{client_port}\n"
        f"advertise-client-urls: http://127.0.0.1:{client_port}\n"
        f"listen-peer-urls: http://127.0.0.1:{peer_port}\n"
        f"initial-advertise-peer-urls: http://127.0.0.1:{peer_port}\n"
        f"initial-cluster: default=http://127.0.0.1:{peer_port}\n"
    )
    config = MilvusServerConfig(data_dir=str(data_dir))
    # Every port free now, rather than the package's first free one after each default: two servers
    # starting at once on one machine would otherwise pick the same ones.
    ports = {key: _free_port() for key in config.configurable_items if key.endswith("_port")}
    config.update(**{**ports, "etcd_port": client_port})
    server = MilvusServer(config, wait_for_started=False)
    server.webservice_port = _free_port()
    previous = os.environ.get("ETCD_CONFIG_PATH")
    # The package passes its own environment to the server process; this is the only way in.
    os.environ["ETCD_CONFIG_PATH"] = str(etcd_config)
    try:
        server.start()
    finally:
        if previous is None:
            os.environ.pop("ETCD_CONFIG_PATH", None)
        else:
            os.environ["ETCD_CONFIG_PATH"] = previous
    health = f"http://127.0.0.1:{server.webservice_port}/healthz"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.server_proc.poll() is not None:
            server.stop()
            raise MilvusStartError(f"the Milvus server exited at start (logs in {data_dir / 'logs'})")
        try:
            with urllib.request.urlopen(health, timeout=2) as resp:
                if b"OK" in resp.read():
                    return RunningMilvus(
                        f"http://127.0.0.1:{server.listen_port}", server.server_proc.pid, data_dir, server
                    )
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.2)
    server.stop()
    raise MilvusStartError(
        f"the Milvus server did not answer within {timeout:.0f} s (logs in {data_dir / 'logs'})"
    )


def main() -> None:
    """Run a server until interrupted."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data_dir", type=Path)
    args = parser.parse_args()
    started = time.perf_counter()
    running = start_milvus(args.data_dir)
    print(
        f"Milvus at {running.uri} (pid {running.pid}), up in {time.perf_counter() - started:.1f} s",
        flush=True,
    )
    try:
        while running.server.server_proc.poll() is None:
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    finally:
        running.stop()


if __name__ == "__main__":
    main()
