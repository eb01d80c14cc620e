"""A small client of any OpenAI-compatible `POST {base_url}/chat/completions`; its replies are untrusted."""

from __future__ import annotations

import time
from collections.abc import Callable, Generator, Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass
from typing import Literal

import httpx
from pydantic import BaseModel, Field, ValidationError

from corpus.errors import AnswerModelError
from corpus.settings import AnswerSettings

# A reply of max_tokens tokens is a few kilobytes; a server sending more is broken or hostile.
MAX_REPLY_BYTES = 1_000_000


@dataclass(frozen=True)
class ChatMessage:
    """One message of the conversation sent to the model."""

    role: Literal["system", "user", "assistant"]
    content: str


class _Message(BaseModel):
    content: str | None = None


class _Choice(BaseModel):
    message: _Message


class _Completion(BaseModel):
    """The part of a chat completion we read; anything else the server adds is ignored."""

    choices: list[_Choice] = Field(min_length=1)


class _Delta(BaseModel):
    content: str | None = None


class _StreamChoice(BaseModel):
    delta: _Delta = Field(default_factory=_Delta)


class _Chunk(BaseModel):
    """One server-sent event of a streamed chat completion."""

    choices: list[_StreamChoice] = Field(default_factory=list)


class ChatClient:
    """Sends one conversation and returns the model's reply text; every failure is an AnswerModelError."""

    def __init__(self, settings: AnswerSettings, transport: httpx.BaseTransport | None = None) -> None:
        self.settings = settings
        self.url = f"{settings.base_url}/chat/completions"
        self._transport = transport

    def complete(self, messages: Sequence[ChatMessage]) -> str:
        """The reply to the conversation, in one piece."""
        with closing(self._post(messages, stream=False)) as chunks:
            body = b"".join(chunks)
        try:
            return _Completion.model_validate_json(body).choices[0].message.content or ""
        except ValidationError as exc:
            raise AnswerModelError(f"malformed chat completion from {self.url}: {_first_error(exc)}") from exc

    def stream(self, messages: Sequence[ChatMessage], on_text: Callable[[str], None]) -> str:
        """The reply, streamed: on_text gets the text so far after every piece; returns the whole text."""
        text = ""
        with closing(self._post(messages, stream=True)) as chunks:
            for line in _lines(chunks):
                if not line.startswith("data:"):
                    continue  # SSE comments, event names, keep-alives
                data = line[len("data:") :].strip()
                if data == "[DONE]":
                    break
                try:
                    chunk = _Chunk.model_validate_json(data)
                except ValidationError as exc:
                    raise AnswerModelError(
                        f"malformed stream event from {self.url}: {_first_error(exc)}"
                    ) from exc
                piece = "".join(c.delta.content or "" for c in chunk.choices)
                if piece:
                    text += piece
                    on_text(text)
        return text

    def _payload(self, messages: Sequence[ChatMessage], stream: bool) -> dict[str, object]:
        s = self.settings
        return {
            "model": s.model,
            "messages": [{"role": m.role, "content": m.content} for m in messages],
            "max_tokens": s.max_tokens,
            "temperature": s.temperature,
            "stream": stream,
        }

    def _post(self, messages: Sequence[ChatMessage], stream: bool) -> Generator[bytes, None, None]:
        """The response body's bytes as they arrive, within the size cap and the total deadline."""
        s = self.settings
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if s.api_key is not None:
            headers["Authorization"] = f"Bearer {s.api_key.get_secret_value()}"
        deadline = time.monotonic() + s.timeout_seconds
        # One client per answer: the model takes seconds, a connection to it a millisecond. No proxy
        # variables from the environment: the question and the passages go to base_url and nowhere else.
        client = httpx.Client(
            timeout=httpx.Timeout(s.timeout_seconds), transport=self._transport, trust_env=False
        )
        try:
            with (
                client,
                client.stream("POST", self.url, headers=headers, json=self._payload(messages, stream)) as r,
            ):
                if r.status_code != 200:
                    raise AnswerModelError(f"HTTP {r.status_code} {r.reason_phrase} from {self.url}")
                size = 0
                for chunk in r.iter_bytes():
                    size += len(chunk)
                    if size > MAX_REPLY_BYTES:
                        raise AnswerModelError(f"reply over {MAX_REPLY_BYTES} bytes from {self.url}")
                    if time.monotonic() > deadline:
                        raise AnswerModelError(
                            f"no complete reply within {s.timeout_seconds:g}s from {self.url}"
                        )
                    yield chunk
        except httpx.TimeoutException as exc:
            raise AnswerModelError(f"timed out after {s.timeout_seconds:g}s: {self.url}") from exc
        except httpx.HTTPError as exc:
            # The exception's text names the URL at most; headers (the key) are never part of it.
            raise AnswerModelError(f"{type(exc).__name__} from {self.url}") from exc


def _lines(chunks: Iterator[bytes]) -> Iterator[str]:
    """The text lines of a byte stream split anywhere, decoded as UTF-8."""
    buffer = b""
    for chunk in chunks:
        buffer += chunk
        *complete, buffer = buffer.split(b"\n")
        for line in complete:
            yield line.decode("utf-8", errors="replace").rstrip("\r")
    if buffer:
        yield buffer.decode("utf-8", errors="replace")


def _first_error(exc: ValidationError) -> str:
    """The first problem pydantic found, without echoing the (untrusted, maybe long) input."""
    err = exc.errors(include_input=False)[0]
    where = ".".join(str(p) for p in err["loc"]) or "body"
    return f"{where}: {err['msg']}"
