"""JSON Lines (one article per line) and JSON (a list of articles) files, validated as untrusted input."""

from __future__ import annotations

import json
from datetime import datetime

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from corpus.loaders.common import Provenance, RecordError, build_article, parse_datetime
from corpus.models import Article, LoadProblem, LoadResult


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
    language: str | None = Field(None, validation_alias=AliasChoices("language", "lang"))

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


def record_to_article(data: object, prov: Provenance) -> Article:
    """Validate one decoded JSON value and build its article; RecordError says what is wrong."""
    if not isinstance(data, dict):
        raise RecordError(f"expected a JSON object, got {type(data).__name__}")
    try:
        record = ArticleRecord.model_validate(data)
    except ValidationError as exc:
        raise RecordError(describe_validation_error(exc)) from None
    return build_article(
        prov,
        title=record.title,
        body=record.body,
        url=record.url,
        source=record.source,
        published_at=record.published_at,
        language=record.language,
        explicit_id=record.id,
    )


def load_jsonl(text: str, path: str, prov: Provenance) -> LoadResult:
    """Load one article per line; bad lines become problems naming their line, blank lines are skipped."""
    articles: list[Article] = []
    problems: list[LoadProblem] = []
    # split("\n"), not splitlines(): JSON strings may legally contain U+2028 and other line separators.
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append(LoadProblem(path, number, f"broken JSON: {exc.msg} at column {exc.colno}"))
            continue
        try:
            articles.append(record_to_article(data, prov))
        except RecordError as exc:
            problems.append(LoadProblem(path, number, str(exc)))
    return LoadResult(tuple(articles), tuple(problems))


def load_json(text: str, path: str, prov: Provenance) -> LoadResult:
    """Load a JSON file holding one article object, a list of them, or {"articles": [...]}."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        return LoadResult(problems=(LoadProblem(path, exc.lineno, f"broken JSON: {exc.msg}"),))
    if isinstance(data, dict) and isinstance(data.get("articles"), list):
        data = data["articles"]
    items = data if isinstance(data, list) else [data]
    articles: list[Article] = []
    problems: list[LoadProblem] = []
    for number, item in enumerate(items, start=1):
        try:
            articles.append(record_to_article(item, prov))
        except RecordError as exc:
            where = f"item {number}: " if isinstance(data, list) else ""
            problems.append(LoadProblem(path, None, f"{where}{exc}"))
    return LoadResult(tuple(articles), tuple(problems))
