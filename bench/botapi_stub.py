"""A Telegram Bot API stand-in on 127.0.0.1 that records every call, for tests and benchmarks."""

from __future__ import annotations

import json
import math
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

# PTB sends strings raw and everything else JSON-encoded, so these keys must not be JSON-decoded.
_RAW_KEYS = frozenset({"text", "parse_mode", "action", "url", "secret_token", "language_code", "caption"})
_COUNTED = frozenset({"sendMessage", "editMessageText"})


@dataclass(frozen=True)
class Call:
    """One request the bot made."""

    method: str
    params: dict[str, Any]
    at: float
    status: int


@dataclass
class _Faults:
    """Failure switches, all guarded by the stub's lock."""

    forbidden_chats: set[int] = field(default_factory=set)
    too_many: int = 0
    retry_after: int = 1
    bad_gateway: int = 0


class BotApiStub:
    """Serves getMe/getUpdates/sendMessage/... like api.telegram.org, in a thread."""

    def __init__(
        self,
        token: str = "123456:TEST-TOKEN",
        *,
        username: str = "newsbot_test_bot",
        rate_limit: float | None = None,
        burst: int | None = None,
    ) -> None:
        self.token = token
        self.bot_user = {
            "id": int(token.split(":")[0]),
            "is_bot": True,
            "first_name": "Newsbot",
            "username": username,
        }
        self.rate_limit = rate_limit
        self._capacity = float(burst if burst is not None else (rate_limit or 1))
        self._tokens = self._capacity
        self._refilled = time.monotonic()
        self.faults = _Faults()
        self.calls: list[Call] = []
        self.commands: dict[str, list[dict[str, Any]]] = {}
        self._updates: list[dict[str, Any]] = []
        self._next_update_id = 1
        self._next_message_id = 1000
        self._cond = threading.Condition()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="botapi-stub", daemon=True)

    # -- lifecycle ---------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """What to put in telegram.base_url."""
        return f"http://127.0.0.1:{self._server.server_address[1]}/bot"

    def start(self) -> BotApiStub:
        """Start serving."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and wake any long poll."""
        with self._cond:
            self._cond.notify_all()
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> BotApiStub:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- feeding updates ---------------------------------------------------------------------------

    def push_update(self, payload: dict[str, Any]) -> int:
        """Queue one update (without update_id) for getUpdates; returns its id."""
        with self._cond:
            update_id = self._next_update_id
            self._next_update_id += 1
            self._updates.append({"update_id": update_id, **payload})
            self._cond.notify_all()
        return update_id

    def push_message(self, chat_id: int, text: str, **options: Any) -> int:
        """Queue a text message from a user (options as for message_update)."""
        return self.push_update(self.message_update(chat_id, text, **options))

    def message_update(
        self,
        chat_id: int,
        text: str,
        *,
        user_id: int | None = None,
        chat_type: str = "private",
        reply_to_bot: bool = False,
    ) -> dict[str, Any]:
        """An update (without update_id): a user's text message with the entities Telegram adds."""
        user = {"id": user_id if user_id is not None else chat_id, "is_bot": False, "first_name": "User"}
        message: dict[str, Any] = {
            "message_id": self._new_message_id(),
            "date": int(time.time()),
            "chat": {
                "id": chat_id,
                "type": chat_type,
                **({"title": "Group"} if chat_type != "private" else {}),
            },
            "from": user,
            "text": text,
        }
        entities = _entities(text)
        if entities:
            message["entities"] = entities
        if reply_to_bot:
            message["reply_to_message"] = {
                "message_id": 1,
                "date": int(time.time()),
                "chat": message["chat"],
                "from": self.bot_user,
                "text": "earlier answer",
            }
        return {"message": message}

    def push_inline_query(self, user_id: int, query: str, *, language_code: str | None = None) -> str:
        """Queue an inline query (`@bot query` typed in any chat) from a user; returns its id."""
        query_id = f"iq{self._new_message_id()}"
        user: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": "User"}
        if language_code:
            user["language_code"] = language_code
        self.push_update(
            {"inline_query": {"id": query_id, "from": user, "query": query, "offset": "", "chat_type": "sender"}}
        )
        return query_id

    def inline_answer(self, query_id: str) -> dict[str, Any] | None:
        """The parameters of the answerInlineQuery call for one inline query, None while there is none."""
        calls = [c for c in self.calls_to("answerInlineQuery") if c.params.get("inline_query_id") == query_id]
        return calls[-1].params if calls else None

    def push_member_status(self, chat_id: int, old: str, new: str) -> int:
        """Queue a my_chat_member update: the user blocked (kicked) or unblocked (member) the bot."""

        def member(status: str) -> dict[str, Any]:
            return {
                "status": status,
                "user": self.bot_user,
                **({"until_date": 0} if status == "kicked" else {}),
            }

        return self.push_update(
            {
                "my_chat_member": {
                    "chat": {"id": chat_id, "type": "private"},
                    "from": {"id": chat_id, "is_bot": False, "first_name": "User"},
                    "date": int(time.time()),
                    "old_chat_member": member(old),
                    "new_chat_member": member(new),
                }
            }
        )

    # -- inspecting --------------------------------------------------------------------------------

    def calls_to(self, method: str, chat_id: int | None = None, ok_only: bool = True) -> list[Call]:
        """Recorded calls of one method, optionally for one chat and only successful ones."""
        with self._cond:
            calls = list(self.calls)
        return [
            c
            for c in calls
            if c.method == method
            and (chat_id is None or c.params.get("chat_id") == chat_id)
            and (not ok_only or c.status == 200)
        ]

    def texts_to(self, chat_id: int) -> list[str]:
        """Texts successfully sent to a chat, in order."""
        return [str(c.params.get("text", "")) for c in self.calls_to("sendMessage", chat_id)]

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 30.0) -> bool:
        """Poll until predicate() holds or the timeout passes."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return True
            time.sleep(0.05)
        return predicate()

    def pending_updates(self) -> int:
        """Updates not yet confirmed by the bot."""
        with self._cond:
            return len(self._updates)

    # -- serving -----------------------------------------------------------------------------------

    def _new_message_id(self) -> int:
        with self._cond:
            self._next_message_id += 1
            return self._next_message_id

    def _take_token(self) -> float:
        """0 when a message may go now; else seconds until it may (token bucket of the rate limit)."""
        if self.rate_limit is None:
            return 0.0
        now = time.monotonic()
        self._tokens = min(self._capacity, self._tokens + (now - self._refilled) * self.rate_limit)
        self._refilled = now
        if self._tokens >= 1:
            self._tokens -= 1
            return 0.0
        return (1 - self._tokens) / self.rate_limit

    def handle(self, method: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """Answer one Bot API call; returns HTTP status and JSON body."""
        if method == "getUpdates":
            return 200, {"ok": True, "result": self._get_updates(params)}
        with self._cond:
            status, body = self._respond(method, params)
            self.calls.append(Call(method, params, time.monotonic(), status))
        return status, body

    def _respond(self, method: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        chat_id = params.get("chat_id")
        if method in _COUNTED:
            if self.faults.bad_gateway > 0:
                self.faults.bad_gateway -= 1
                return 502, {"ok": False, "error_code": 502, "description": "Bad Gateway"}
            if chat_id in self.faults.forbidden_chats:
                return 403, {
                    "ok": False,
                    "error_code": 403,
                    "description": "Forbidden: bot was blocked by the user",
                }
            wait = self._take_token()
            if self.faults.too_many > 0 or wait > 0:
                self.faults.too_many = max(0, self.faults.too_many - 1)
                retry = max(self.faults.retry_after, math.ceil(wait))
                return 429, {
                    "ok": False,
                    "error_code": 429,
                    "description": f"Too Many Requests: retry after {retry}",
                    "parameters": {"retry_after": retry},
                }
        return 200, {"ok": True, "result": self._result(method, params)}

    def _result(self, method: str, params: dict[str, Any]) -> Any:
        if method == "getMe":
            return self.bot_user
        if method in ("sendMessage", "editMessageText"):
            message_id = params.get("message_id") or self._next_message_id + 1
            self._next_message_id = max(self._next_message_id, int(message_id))
            return {
                "message_id": message_id,
                "date": int(time.time()),
                "text": params.get("text", ""),
                "chat": {"id": params.get("chat_id"), "type": "private"},
                "from": self.bot_user,
            }
        if method == "setMyCommands":
            self.commands[json.dumps(params.get("scope") or {"type": "default"}, sort_keys=True)] = list(
                params.get("commands") or []
            )
            return True
        if method == "getMyCommands":
            return self.commands.get(
                json.dumps(params.get("scope") or {"type": "default"}, sort_keys=True), []
            )
        if method == "getWebhookInfo":
            return {"url": "", "has_custom_certificate": False, "pending_update_count": 0}
        return True

    def _get_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        offset = int(params.get("offset") or 0)
        timeout = float(params.get("timeout") or 0)
        limit = int(params.get("limit") or 100)
        deadline = time.monotonic() + timeout
        with self._cond:
            # Recorded on arrival, so a test can see that the bot has started polling.
            self.calls.append(Call("getUpdates", params, time.monotonic(), 200))
            # An offset confirms every update before it, exactly like Telegram.
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
            while not self._updates and time.monotonic() < deadline:
                self._cond.wait(min(0.5, max(0.0, deadline - time.monotonic())))
                self._updates = [u for u in self._updates if u["update_id"] >= offset]
            return list(self._updates[:limit])


def _entities(text: str) -> list[dict[str, Any]]:
    """bot_command and mention entities, as the Telegram client would attach them."""
    out: list[dict[str, Any]] = []
    offset = 0
    for word in text.split(" "):
        if word.startswith("/") and offset == 0 and len(word) > 1:
            out.append({"type": "bot_command", "offset": 0, "length": len(word)})
        elif word.startswith("@") and len(word) > 1:
            out.append({"type": "mention", "offset": offset, "length": len(word)})
        offset += len(word) + 1
    return out


def _decode(body: bytes, content_type: str) -> dict[str, Any]:
    """Parameters of a request: JSON body, or form fields whose non-string values are JSON."""
    if not body:
        return {}
    if content_type.startswith("application/json"):
        data = json.loads(body)
        return data if isinstance(data, dict) else {}
    params: dict[str, Any] = {}
    for key, value in parse_qsl(body.decode(), keep_blank_values=True):
        if key in _RAW_KEYS:
            params[key] = value
            continue
        try:
            params[key] = json.loads(value)
        except ValueError:
            params[key] = value
    return params


def _handler_for(stub: BotApiStub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self) -> None:
            super().setup()
            # Headers and body go out in separate writes; without this Nagle adds ~40 ms per reply.
            self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            self._serve()

        def do_GET(self) -> None:  # noqa: N802
            self._serve()

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            prefix, _, method = self.path.rpartition("/")
            if prefix != f"/bot{stub.token}":
                status, reply = 401, {"ok": False, "error_code": 401, "description": "Unauthorized"}
            else:
                status, reply = stub.handle(method, _decode(body, self.headers.get("Content-Type") or ""))
            data = json.dumps(reply).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - base class signature
            return

    return Handler
