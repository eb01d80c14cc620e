"""Fuzzing every loader: random bytes, JSON, front matter and dates never raise; every failure is a problem."""

from __future__ import annotations

import itertools
import json
import re
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from corpus.loaders import SUPPORTED_SUFFIXES, load_file
from corpus.loaders.common import (
    BINARY_SAMPLE_BYTES,
    EARLIEST_YEAR,
    LATEST_YEAR,
    MAX_TITLE_CHARS,
    Provenance,
    RecordError,
    looks_binary,
    parse_datetime,
)
from corpus.loaders.frontmatter import KEYS
from corpus.loaders.records import load_jsonl, record_to_article
from corpus.models import LoadResult
from corpus.settings import CorpusSettings

SETTINGS = CorpusSettings(default_language="en")
PROV = Provenance(SETTINGS)
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
_LANGUAGE_RE = re.compile(r"[a-z]{2,8}(?:[-_][a-z0-9]{1,8})*")

WORDS = st.sampled_from(
    [
        "Varna",
        "harbour",
        "ferries",
        "reopened",
        "(ILKHA)",
        "LEGAL WARNING:",
        "Mr.",
        "—",
        "“quoted”",
        "#",
        "---",
        "[link](http://x)",
        "\t",
        "é",
        "\u2028",
        "\x00",
        "\ufeff",
        ".",
        "?",
        "...",
        "<p>",
        "</p>",
        ":",
        "'",
        '"',
    ]
)
TEXTISH = st.lists(st.one_of(WORDS, st.text(max_size=12)), max_size=60).map(
    lambda parts: "".join(p + (" " if i % 5 else "\n") for i, p in enumerate(parts))
)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
OFFSETS = st.timedeltas(
    min_value=-timedelta(hours=23, minutes=59), max_value=timedelta(hours=23, minutes=59)
).map(lambda d: timezone(timedelta(minutes=int(d.total_seconds() // 60))))
MOMENTS = st.datetimes(
    min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59), timezones=st.none() | OFFSETS
)
DATES = st.one_of(
    MOMENTS.map(lambda d: d.isoformat()),
    MOMENTS.map(lambda d: f"{d.year:04d}/{d.month}/{d.day}"),
    MOMENTS.filter(lambda d: d.tzinfo is not None).map(format_datetime),
    st.text(max_size=30),
    JSON_VALUES,
)
FIELD = st.one_of(TEXTISH, st.text(max_size=40), JSON_VALUES)
RECORDS = st.fixed_dictionaries(
    {},
    optional={
        "title": FIELD,
        "body": FIELD,
        "text": FIELD,
        "published_at": DATES,
        "language": st.one_of(st.sampled_from(["en", "pt-BR", "de_DE", "english", ""]), JSON_VALUES),
        "id": FIELD,
        "url": FIELD,
        "source": FIELD,
    },
)


def check(result: LoadResult, path: str) -> None:
    """What every loader promises: problems name the file, articles are clean, whole and storable."""
    assert isinstance(result, LoadResult)
    for problem in result.problems:
        assert problem.path == path and problem.reason
        # The last-resort nets (one line, one file) must never be what catches a fuzzed input.
        assert "could not be loaded (unexpected" not in problem.reason, problem.reason
        assert problem.line is None or problem.line >= 1
    for article in result.articles:
        assert article.id and article.title and article.body
        assert "\n" not in article.title and len(article.title) <= MAX_TITLE_CHARS
        assert article.language is None or _LANGUAGE_RE.fullmatch(article.language)
        if article.published_at is not None:
            assert article.published_at.tzinfo is not None
            assert EARLIEST_YEAR <= article.published_at.year <= LATEST_YEAR
        for text in (article.id, article.title, article.body, article.url or "", article.source or ""):
            text.encode("utf-8")  # storable: no lone surrogates


def _renumbered(result: LoadResult, line: int) -> LoadResult:
    """A one-line result's problems moved to the given line."""
    problems = tuple(type(p)(p.path, line, p.reason) for p in result.problems)
    return LoadResult(result.articles, problems)


@FUZZ
@given(
    data=st.one_of(st.binary(max_size=3000), TEXTISH.map(str.encode), st.text(max_size=500).map(str.encode)),
    suffix=st.sampled_from(sorted(SUPPORTED_SUFFIXES)),
)
def test_random_bytes_in_every_format(tmp_path: Path, data: bytes, suffix: str) -> None:
    path = tmp_path / f"input{suffix}"
    path.write_bytes(data)
    result = load_file(path, SETTINGS)
    check(result, str(path))
    if data.strip():
        assert result.articles or result.problems, "non-blank input vanished without a word"


@FUZZ
@given(
    lines=st.lists(
        st.one_of(
            RECORDS.map(json.dumps),
            JSON_VALUES.map(json.dumps),
            TEXTISH,
            st.integers(400, 3000).map(lambda d: "[" * d + "]" * d),
        ),
        max_size=8,
    )
)
def test_random_json_lines_are_each_an_article_or_a_problem(tmp_path: Path, lines: list[str]) -> None:
    # A leading U+FEFF would be read as the file's byte-order mark, not as part of line 1.
    text = "\n".join(line.replace("\n", " ").replace("\r", " ") for line in lines).lstrip("\ufeff")
    path = tmp_path / "input.jsonl"
    path.write_text(text, encoding="utf-8")
    result = load_file(path, SETTINGS)
    check(result, str(path))
    if [p.reason for p in result.problems] == ["binary or non-text file"]:
        assert not result.articles and looks_binary(path.read_bytes()[:BINARY_SAMPLE_BYTES])
        return
    # The file is exactly its lines loaded one at a time: no line lost, none affecting another.
    articles, problems = [], []
    for number, line in enumerate(text.split("\n"), start=1):
        if line.strip():
            alone = _renumbered(load_jsonl(line, str(path), PROV), number)
            assert alone.articles or alone.problems
            articles += alone.articles
            problems += alone.problems
    if not articles and not problems:
        assert [p.reason for p in result.problems] == ["empty file"]
    else:
        assert (list(result.articles), list(result.problems)) == (articles, problems)


@FUZZ
@given(items=st.lists(st.one_of(RECORDS, JSON_VALUES), max_size=6), wrap=st.booleans())
def test_random_json_files_keep_every_good_item(tmp_path: Path, items: list[object], wrap: bool) -> None:
    path = tmp_path / "input.json"
    path.write_text(json.dumps({"articles": items} if wrap else items), encoding="utf-8")
    result = load_file(path, SETTINGS)
    check(result, str(path))
    expected = []
    for item in items:
        try:
            expected.append(record_to_article(item, PROV)[0])
        except RecordError:
            continue
    assert list(result.articles) == expected
    assert len(result.articles) + len({p.reason.split(":")[0] for p in result.problems}) >= len(items)


FM_KEYS = st.one_of(st.sampled_from(sorted(KEYS)), st.from_regex(r"[a-z_]{1,8}", fullmatch=True))
FM_VALUES = st.one_of(
    st.text(alphabet=st.sampled_from("ab c:#'\"[]{}|>-@`\\,é"), max_size=16),
    st.from_regex(r"[A-Za-z][A-Za-z ]{0,20}[A-Za-z]", fullmatch=True),
    DATES.map(str),
)
FM_LINES = st.one_of(
    st.tuples(FM_KEYS, FM_VALUES).map(lambda kv: f"{kv[0]}: {kv[1]}"),
    FM_VALUES.map(lambda v: f"  {v}"),  # continuation
    FM_VALUES.map(lambda v: f"- {v}"),
    st.text(max_size=20).map(lambda t: t.replace("\n", " ")),
)


@FUZZ
@given(
    lines=st.lists(FM_LINES, max_size=8),
    body=TEXTISH,
    suffix=st.sampled_from([".md", ".txt"]),
    closed=st.booleans(),
)
def test_random_front_matter(tmp_path: Path, lines: list[str], body: str, suffix: str, closed: bool) -> None:
    text = "---\n" + "".join(f"{line}\n" for line in lines) + ("---\n" if closed else "") + body
    path = tmp_path / f"input{suffix}"
    path.write_text(text, encoding="utf-8")
    result = load_file(path, SETTINGS)
    check(result, str(path))
    assert len(result.articles) <= 1
    assert result.articles or result.problems
    plain = re.compile(r"[A-Za-z][A-Za-z ]{0,20}[A-Za-z]")
    fences = [i for i, line in enumerate(lines) if line.strip() in ("---", "...")]
    titles = [i for i, line in enumerate(lines) if re.match(r"(title|headline)\s*:", line, re.IGNORECASE)]
    if not (closed and titles and result.articles) or (fences and fences[0] < titles[0]):
        return
    value = lines[titles[0]].split(":", 1)[1].strip()
    after = itertools.takewhile(lambda line: not line.strip() or line[:1].isspace(), lines[titles[0] + 1 :])
    if plain.fullmatch(value) and not any(line.strip() for line in after):
        # A plain one-line title is read as written, whatever else the front matter holds.
        assert result.articles[0].title == " ".join(value.split())


@FUZZ
@given(value=DATES)
def test_random_dates_parse_or_fail_cleanly(tmp_path: Path, value: object) -> None:
    try:
        parsed = parse_datetime(value)
    except RecordError as exc:
        assert str(exc)
    else:
        assert parsed is None or (parsed.tzinfo is not None and EARLIEST_YEAR <= parsed.year <= LATEST_YEAR)
    line = json.dumps({"title": "Dated", "body": "A dated record.", "published_at": value})
    path = tmp_path / "dated.jsonl"
    path.write_text(line + "\n", encoding="utf-8")
    result = load_file(path, SETTINGS)
    check(result, str(path))
    assert len(result.articles) + len(result.problems) == 1
