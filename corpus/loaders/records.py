"""JSON Lines (one article per line) and JSON (a list of articles) files, validated as untrusted input."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from corpus.loaders.common import (
    BINARY_SAMPLE_BYTES,
    EmptyBodyError,
    Provenance,
    RecordError,
    bom_encoding,
    build_article,
    check_size,
    decode_bytes,
    decode_plain,
    language_code,
    looks_binary,
    parse_datetime,
    valid_unicode,
)
from corpus.models import Article, LoadProblem, LoadResult

log = logging.getLogger(__name__)


class ArticleRecord(BaseModel):
    """One article as it appears in a JSON record; unknown keys are ignored."""

    model_config = ConfigDict(extra="ignore", coerce_numbers_to_str=True, str_strip_whitespace=True)

    id: str | None = None
    title: str
    body: str = Field("", validation_alias=AliasChoices("body", "text", "content"))
    url: str | None = None
    published_at: datetime | None = Field(
        None, validation_alias=AliasChoices("published_at", "publish_date", "published", "date")
    )
    source: str | None = None
    # `language` is read apart (record_language): a bad one is reported, not coerced ("5") or fatal.

    @field_validator("published_at", mode="before")
    @classmethod
    def _parse_date(cls, value: object) -> datetime | None:
        try:
            return parse_datetime(value)
        except RecordError as exc:
            raise ValueError(str(exc)) from None

    @model_validator(mode="after")
    def _require_body(self) -> ArticleRecord:
        if not self.body:
            raise ValueError("missing or empty 'body' (or 'text')")
        return self


def describe_validation_error(exc: ValidationError) -> str:
    """Plain words for the first problems pydantic found in a record."""
    reasons: list[str] = []
    for err in exc.errors()[:2]:
        field = ".".join(str(p) for p in err["loc"])
        if err["type"] == "missing":
            reasons.append(f"missing '{field}'")
        elif err["type"] == "value_error":
            reasons.append(str(err["msg"]).removeprefix("Value error, "))
        elif err["type"] == "string_type" and err.get("input") is None:
            reasons.append(f"'{field}' is null")
        elif err["type"] == "string_type":
            reasons.append(f"'{field}' must be text")
        else:
            reasons.append(f"'{field}': {err['msg']}" if field else str(err["msg"]))
    return "; ".join(reasons)


def record_language(data: dict[str, object]) -> str | None:
    """The record's language code ("language", else "lang"); RecordError when it is not one."""
    return language_code(data["language"] if "language" in data else data.get("lang"))


def record_to_article(data: object, prov: Provenance) -> tuple[Article, tuple[str, ...]]:
    """Validate one decoded JSON value and build its article, with notes on fields that were dropped.

    RecordError says why a record cannot become an article at all.
    """
    if not isinstance(data, dict):
        raise RecordError(f"expected a JSON object, got {_json_kind(data)}")
    # JSON escapes can spell lone surrogates ("\ud800"), which no text encoding can store.
    data = {k: valid_unicode(v) if isinstance(v, str) else v for k, v in data.items()}
    try:
        record = ArticleRecord.model_validate(data)
    except ValidationError as exc:
        raise RecordError(describe_validation_error(exc)) from None
    notes: tuple[str, ...] = ()
    try:
        language = record_language(data)
    except RecordError as exc:
        language = None
        notes = (f"{exc}; its language is detected from the text",)

    def build(body: str) -> Article:
        return build_article(
            prov,
            title=record.title,
            body=body,
            url=record.url,
            source=record.source,
            published_at=record.published_at,
            language=language,
            explicit_id=record.id,
        )

    try:
        article = build(record.body)
    except EmptyBodyError as exc:
        # A record names its headline explicitly; when its page was only an ad or a player, the headline
        # is still the agency's own statement, linked to its source: keep it as a one-line article.
        article = build(record.title)
        notes = (*notes, f"{exc}: kept as a headline-only article")
    return article, notes


def _json_kind(data: object) -> str:
    """The JSON name of a value's type, for messages."""
    kinds = {dict: "object", list: "array", str: "string", bool: "boolean", int: "number", float: "number"}
    return "null" if data is None else kinds.get(type(data), type(data).__name__)


class JsonError(RecordError):
    """Text that is not JSON; line and column say where, when known (1-based)."""

    def __init__(self, reason: str, line: int | None = None, column: int | None = None) -> None:
        super().__init__(reason)
        self.line = line
        self.column = column


# News records nest a few levels; json.loads recurses once a level, so past about 900 levels (less in a deep
# call stack) it raises RecursionError. A fixed limit makes the outcome the same wherever it is called.
MAX_JSON_DEPTH = 512
_JSON_NESTING_RE = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]')


def json_depth_over(text: str, limit: int = MAX_JSON_DEPTH) -> bool:
    """True when JSON text nests arrays and objects more than limit deep (brackets in strings do not count)."""
    if text.count("[") + text.count("{") <= limit:
        return False  # the usual case, decided in C
    depth = 0
    for match in _JSON_NESTING_RE.finditer(text):
        token = match.group()
        if token in "[{":
            depth += 1
            if depth > limit:
                return True
        elif token in "]}":
            depth -= 1
    return False


def parse_json(text: str) -> object:
    """json.loads with every failure a JsonError: broken syntax, too deep nesting, oversized numbers."""
    too_deep = f"JSON nested too deeply to read (more than {MAX_JSON_DEPTH} levels of [ or {{)"
    if json_depth_over(text):
        raise JsonError(too_deep)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise JsonError(f"broken JSON: {exc.msg}", exc.lineno, exc.colno) from None
    except RecursionError:  # within the limit, but called from an already deep stack
        raise JsonError(too_deep) from None
    except ValueError as exc:  # e.g. an integer of more than 4,300 digits
        raise JsonError(f"broken JSON: {exc}") from None


def _load_line(line: str, number: int, path: str, prov: Provenance) -> LoadResult:
    """One JSON Lines record: its article and notes, or the one problem that kept it out."""
    try:
        data = parse_json(line)
        article, notes = record_to_article(data, prov)
    except JsonError as exc:
        where = f" at column {exc.column}" if exc.column else ""
        return LoadResult(problems=(LoadProblem(path, number, f"{exc}{where}"),))
    except RecordError as exc:
        return LoadResult(problems=(LoadProblem(path, number, str(exc)),))
    except Exception as exc:  # a loader bug must cost this one line, never the rest of the file
        log.debug("unexpected error in %s:%s", path, number, exc_info=True)
        reason = f"could not be loaded (unexpected {type(exc).__name__}: {exc})"
        return LoadResult(problems=(LoadProblem(path, number, reason),))
    return LoadResult((article,), tuple(LoadProblem(path, number, note) for note in notes))


def _merge(results: Iterator[LoadResult]) -> LoadResult:
    """The articles and problems of many results, in order."""
    articles: list[Article] = []
    problems: list[LoadProblem] = []
    for result in results:
        articles.extend(result.articles)
        problems.extend(result.problems)
    return LoadResult(tuple(articles), tuple(problems))


def load_jsonl(text: str, path: str, prov: Provenance) -> LoadResult:
    """Load one article per line; bad lines become problems naming their line, blank lines are skipped."""
    # split("\n"), not splitlines(): JSON strings may legally contain U+2028 and other line separators.
    return _merge(
        _load_line(line, number, path, prov)
        for number, line in enumerate(text.split("\n"), start=1)
        if line.strip()
    )


def _raw_lines(fh: BinaryIO, limit: int) -> Iterator[tuple[bytes | None, int]]:
    """(line, size) per line without its ending; (None, size) for a line over limit, never held whole."""
    while raw := fh.readline(limit + 2):
        if len(raw) == limit + 2 and not raw.endswith(b"\n"):
            size = len(raw)
            while more := fh.readline(1 << 20):  # skip the rest, a megabyte at a time
                size += len(more)
                if more.endswith(b"\n"):
                    size -= 1
                    break
            yield None, size
            continue
        raw = raw.removesuffix(b"\n").removesuffix(b"\r")
        # A lone "\r" ends a line too, as in the text loaders.
        for part in raw.split(b"\r"):
            yield part, len(part)


def load_jsonl_file(path: Path, name: str, prov: Provenance) -> LoadResult:
    """Stream a JSON Lines file line by line: memory holds one record at a time, never the whole file."""
    limit = prov.settings.max_record_bytes
    results: list[LoadResult] = []
    with path.open("rb") as fh:
        head = fh.read(BINARY_SAMPLE_BYTES)
        encoding = bom_encoding(head)
        if encoding not in (None, "utf-8-sig") or (b"\r" in head and b"\n" not in head):
            # UTF-16/32 and old Mac line ends cannot be split at b"\n": read whole (max_file_bytes bounds it).
            text = decode_bytes(head + fh.read()).replace("\r\n", "\n").replace("\r", "\n")
            return load_jsonl(text, name, prov)
        if looks_binary(head):
            raise RecordError("binary or non-text file")
        fh.seek(3 if encoding else 0)
        for number, (raw, size) in enumerate(_raw_lines(fh, limit), start=1):
            try:
                check_size(size, prov.settings, "line")  # raises for every oversized (None) line
                line = decode_plain(raw or b"")
            except RecordError as exc:
                results.append(LoadResult(problems=(LoadProblem(name, number, str(exc)),)))
                continue
            if line.strip():  # blank as load_jsonl sees it: Unicode spaces and separators too
                results.append(_load_line(line, number, name, prov))
    if not results:
        raise RecordError("empty file")
    return _merge(iter(results))


def load_json(text: str, path: str, prov: Provenance) -> LoadResult:
    """Load a JSON file holding one article object, a list of them, or {"articles": [...]}."""
    try:
        data = parse_json(text)
    except JsonError as exc:
        return LoadResult(problems=(LoadProblem(path, exc.line, str(exc)),))
    if isinstance(data, dict) and isinstance(data.get("articles"), list):
        data = data["articles"]
    items = data if isinstance(data, list) else [data]
    articles: list[Article] = []
    problems: list[LoadProblem] = []
    for number, item in enumerate(items, start=1):
        where = f"item {number}: " if isinstance(data, list) else ""
        try:
            article, notes = record_to_article(item, prov)
        except RecordError as exc:
            problems.append(LoadProblem(path, None, f"{where}{exc}"))
            continue
        articles.append(article)
        problems.extend(LoadProblem(path, None, f"{where}{note}") for note in notes)
    return LoadResult(tuple(articles), tuple(problems))
