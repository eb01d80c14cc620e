"""Serve a GGUF model on 127.0.0.1 over llama.cpp's OpenAI-compatible HTTP server, for bench/llm_check.py.

Needs only `pip install xllamacpp` (prebuilt llama.cpp wheels), in any environment: it imports nothing of
newsbot, and it is never a dependency of the project.

    python bench/llm_server.py MODEL.gguf [--port 8091] [--threads 2]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("model", type=Path)
    parser.add_argument("--port", type=int, default=8091)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--context", type=int, default=4096)
    args = parser.parse_args()
    import xllamacpp as xlc  # the one optional tool of this script

    params = xlc.CommonParams()
    params.model.path = str(args.model)
    params.hostnames = ["127.0.0.1"]  # loopback only: the server has no API key
    params.port = args.port
    params.n_ctx = args.context
    params.n_parallel = 1
    params.cpuparams.n_threads = args.threads
    params.cpuparams_batch.n_threads = args.threads
    started = time.perf_counter()
    server = xlc.Server(params)
    print(
        f"serving {args.model.name} at {server.listening_address}/v1 ({time.perf_counter() - started:.1f}s)"
    )
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main()
