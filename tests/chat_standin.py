"""A stand-in OpenAI-compatible chat-completions server on 127.0.0.1 that replies with what a test sets."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class _QuietServer(ThreadingHTTPServer):
    """Clients hanging up mid-response (timeouts) are expected here, not errors."""

    def handle_error(self, request: object, client_address: object) -> None:
        pass


@dataclass(frozen=True)
class ChatRequest:
    """One request the stand-in received."""

    path: str
    headers: dict[str, str]
    payload: dict[str, Any]


class ChatStandIn:
    """Serves POST /v1/chat/completions: `reply` as a completion (or as SSE when asked to stream).

    `status` other than 200 answers with an error body, `raw` replaces the body with bytes as they are,
    `delay` holds the answer back and `piece_delay` paces a streamed one (both cut short when it stops).
    """

    def __init__(self) -> None:
        self.reply = ""
        self.status = 200
        self.raw: bytes | None = None
        self.delay = 0.0
        self.piece_delay = 0.0
        self.requests: list[ChatRequest] = []
        self.stopping = threading.Event()
        standin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass

            def do_POST(self) -> None:  # noqa: N802
                standin._handle(self)

        self.httpd = _QuietServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        """What `answer.base_url` is set to."""
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        body = h.rfile.read(int(h.headers.get("Content-Length", "0")))
        payload = json.loads(body)
        self.requests.append(ChatRequest(h.path, {k.lower(): v for k, v in h.headers.items()}, payload))
        if self.delay:
            self.stopping.wait(self.delay)
        if h.path != "/v1/chat/completions":
            self._send(h, 404, b'{"error": "not found"}', "application/json")
        elif self.raw is not None:
            self._send(h, self.status, self.raw, "application/json")
        elif self.status != 200:
            self._send(h, self.status, b'{"error": {"message": "the model crashed"}}', "application/json")
        elif payload.get("stream"):
            self._stream(h)
        else:
            completion = {
                "id": "chatcmpl-standin",
                "object": "chat.completion",
                "model": payload.get("model"),
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": self.reply},
                        "finish_reason": "stop",
                    }
                ],
            }
            self._send(h, 200, json.dumps(completion).encode(), "application/json")

    def _stream(self, h: BaseHTTPRequestHandler) -> None:
        """The reply as server-sent events of a few characters each, paced like a model writing tokens."""
        pieces = [self.reply[i : i + 7] for i in range(0, len(self.reply), 7)]
        events = [{"choices": [{"index": 0, "delta": {"role": "assistant"}}]}]
        events += [{"choices": [{"index": 0, "delta": {"content": p}}]} for p in pieces]
        lines = [f"data: {json.dumps(e)}\n\n" for e in events] + [": keep-alive\n\n", "data: [DONE]\n\n"]
        h.send_response(200)
        h.send_header("Content-Type", "text/event-stream")
        h.send_header("Connection", "close")
        h.end_headers()
        h.close_connection = True
        for line in lines:
            h.wfile.write(line.encode())
            h.wfile.flush()
            if self.piece_delay:
                self.stopping.wait(self.piece_delay)

    @staticmethod
    def _send(h: BaseHTTPRequestHandler, status: int, body: bytes, content_type: str) -> None:
        h.send_response(status)
        h.send_header("Content-Type", content_type)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)


@contextmanager
def running_standin() -> Iterator[ChatStandIn]:
    """Start a ChatStandIn and stop it afterwards (releasing any delayed answer)."""
    standin = ChatStandIn()
    standin.thread.start()
    try:
        yield standin
    finally:
        standin.stopping.set()
        standin.httpd.shutdown()
        standin.httpd.server_close()
