"""Issue 12's smaller cases at loader level: odd fields, broken front matter, folder walks, limits, streaming."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from corpus.loaders import iter_input_files, load_file
from corpus.loaders.common import RecordError, parse_datetime
from corpus.models import LoadResult
from corpus.settings import CorpusSettings

BODY = "The harbour of Varna reopened to ferries on Monday."


@pytest.fixture
def settings() -> CorpusSettings:
    return CorpusSettings(default_language="en")


def _write(path: Path, content: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def _reasons(result: LoadResult) -> list[tuple[int | None, str]]:
    return [(p.line, p.reason) for p in result.problems]


# --- dates ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        "9999-12-31",
        "0001-01-01",
        "1799-12-31",
        "2200-01-01",
        "9999-12-31T23:59:59-12:00",
        "0001-01-01T00:00+14:00",
    ],
)
def test_implausible_years_are_a_bad_date(raw: str) -> None:
    with pytest.raises(RecordError, match="out of range: expected a year from 1800 to 2199"):
        parse_datetime(raw)


def test_dates_at_the_edges_of_the_range_parse() -> None:
    assert parse_datetime("1800-01-01") == datetime(1800, 1, 1, tzinfo=UTC)
    assert parse_datetime("2199-12-31T23:00:00-00:30") == datetime(2199, 12, 31, 23, 30, tzinfo=UTC)


def test_datetime_values_out_of_range_are_a_bad_date_too() -> None:
    with pytest.raises(RecordError, match="out of range"):
        parse_datetime(datetime(9999, 12, 31, 23, 0, tzinfo=UTC))
    with pytest.raises(RecordError, match="bad date a list"):
        parse_datetime([2024, 1, 1])


# --- JSON records -----------------------------------------------------------------------------------------


def test_language_that_is_not_a_code_is_reported_and_the_article_kept(
    tmp_path: Path, settings: CorpusSettings
) -> None:
    rows = [
        {"title": "Number", "body": BODY, "language": 5},
        {"title": "List", "body": BODY, "lang": ["en"]},
        {"title": "Tag", "body": BODY, "language": "pt-BR"},
    ]
    result = load_file(_write(tmp_path / "l.jsonl", "\n".join(json.dumps(r) for r in rows)), settings)
    assert [a.language for a in result.articles] == [None, None, "pt-br"]
    assert _reasons(result) == [
        (
            1,
            "'language' 5 is not a language code such as 'en' or 'pt-BR'; its language is detected from the text",
        ),
        (
            2,
            "'language' a list is not a language code such as 'en' or 'pt-BR'; its language is detected from the text",
        ),
    ]


def test_json_file_items_report_language_and_depth(tmp_path: Path, settings: CorpusSettings) -> None:
    items = [{"title": "A", "body": BODY, "language": 7}, {"title": "B", "body": BODY}]
    result = load_file(_write(tmp_path / "list.json", json.dumps(items)), settings)
    assert [a.title for a in result.articles] == ["A", "B"]
    assert _reasons(result) == [
        (
            None,
            "item 1: 'language' 7 is not a language code such as 'en' or 'pt-BR'; its language is detected from the text",
        )
    ]


def test_huge_integer_and_lone_surrogates(tmp_path: Path, settings: CorpusSettings) -> None:
    lines = [
        '{"title": "Digits", "body": "x", "id": ' + "9" * 5000 + "}",
        '{"title": "Broken \\ud800 text", "body": "A body with a lone \\udfff surrogate.", "id": "s\\ud801"}',
    ]
    result = load_file(_write(tmp_path / "odd.jsonl", "\n".join(lines)), settings)
    assert result.problems[0].line == 1 and result.problems[0].reason.startswith("broken JSON: ")
    (article,) = result.articles
    assert article.title == "Broken \ufffd text" and article.id == "s\ufffd"
    assert "\ufffd surrogate" in article.body


def test_title_that_is_a_body_is_refused(tmp_path: Path, settings: CorpusSettings) -> None:
    rows = [{"title": "word " * 400, "body": BODY}, {"title": "Fine", "body": BODY}]
    result = load_file(_write(tmp_path / "t.jsonl", "\n".join(json.dumps(r) for r in rows)), settings)
    assert [a.title for a in result.articles] == ["Fine"]
    assert _reasons(result) == [(1, "title is 1,999 characters long (a headline has at most 1,000)")]


# --- JSON Lines streaming ---------------------------------------------------------------------------------


def test_oversized_line_is_skipped_and_the_lines_after_it_load(tmp_path: Path) -> None:
    settings = CorpusSettings(max_record_bytes=1_000)
    lines = [
        json.dumps({"title": "First", "body": BODY}),
        json.dumps({"title": "Huge", "body": "x" * 5_000}),
        json.dumps({"title": "Third", "body": BODY}),
    ]
    result = load_file(_write(tmp_path / "s.jsonl", "\r\n".join(lines) + "\r\n"), settings)
    assert [a.title for a in result.articles] == ["First", "Third"]
    assert _reasons(result) == [
        (2, "line is 5.0 kB, over the limit of 1.0 kB (corpus.max_record_bytes); skipped")
    ]


def test_line_ends_encodings_and_blank_files(tmp_path: Path, settings: CorpusSettings) -> None:
    row = json.dumps({"title": "Café", "body": "A café reopened."}, ensure_ascii=False)
    for name, data in [
        ("cr.jsonl", f"{row}\r\r{row}\r".encode()),  # old Mac line ends
        ("u16.jsonl", f"{row}\n\n{row}\n".encode("utf-16")),
        ("latin.jsonl", f"{row}\n\n{row}\n".encode("latin-1")),
    ]:
        result = load_file(_write(tmp_path / name, data), settings)
        assert [a.title for a in result.articles] == ["Café", "Café"], name
    blank = load_file(_write(tmp_path / "blank.jsonl", b"\n \r\n\t\n"), settings)
    assert _reasons(blank) == [(None, "empty file")]
    binary = load_file(_write(tmp_path / "bin.jsonl", b"\x00\x01\x02" * 100), settings)
    assert _reasons(binary) == [(None, "binary or non-text file")]


def test_file_over_the_limit_is_not_read(tmp_path: Path) -> None:
    settings = CorpusSettings(max_file_bytes=1_000)
    for name in ("big.jsonl", "big.txt", "big.md", "big.json", "big.html"):
        result = load_file(_write(tmp_path / name, "x" * 2_500), settings)
        assert _reasons(result) == [
            (
                None,
                "file is 2.5 kB, over the limit of 1.0 kB (corpus.max_file_bytes); not read: split it or raise the limit",
            )
        ], name


def test_one_article_files_over_the_record_limit_are_refused(tmp_path: Path) -> None:
    settings = CorpusSettings(max_record_bytes=1_000)
    md = load_file(_write(tmp_path / "a.md", "# Title\n\n" + "Words of text. " * 100), settings)
    assert md.articles == () and "file (one article) is 1.5 kB, over the limit" in md.problems[0].reason
    page = "<html><body><article><p>" + "Words of text. " * 100 + "</p></article></body></html>"
    html = load_file(_write(tmp_path / "a.html", page), settings)
    assert html.articles == () and "HTML page is 1.6 kB, over the limit" in html.problems[0].reason


def test_agency_paragraph_over_the_limit_leaves_the_others(tmp_path: Path) -> None:
    settings = CorpusSettings(max_record_bytes=1_000)
    text = f"Ferries return to Varna\n{BODY}\n{'Endless text ' * 200}\nThe port authority welcomed the news."
    result = load_file(_write(tmp_path / "agency.txt", text), settings)
    assert [a.title for a in result.articles] == ["Ferries return to Varna"]
    assert "welcomed" in result.articles[0].body and "Endless" not in result.articles[0].body
    assert _reasons(result) == [
        (3, "paragraph is 2.6 kB, over the limit of 1.0 kB (corpus.max_record_bytes); skipped")
    ]


# --- front matter -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("title: [unclosed", "front matter 'title': malformed value (unclosed '['); ignored"),
        ('title: "half quoted', "front matter 'title': malformed value (unclosed \" quote); ignored"),
        ("title: 'half quoted", "front matter 'title': malformed value (unclosed ' quote); ignored"),
        ("title: [a, b]", "front matter 'title': a list, not text; ignored"),
        ("title: {a: b}", "front matter 'title': a mapping, not text; ignored"),
        ("tags: [one, two", "front matter 'tags': malformed value (unclosed '['); ignored"),
        ("title @ home", "front matter line is not 'key: value': 'title @ home'; ignored"),
    ],
)
def test_malformed_front_matter_is_reported_and_not_stored(
    tmp_path: Path, settings: CorpusSettings, line: str, reason: str
) -> None:
    text = f"---\n{line}\ndate: 2024-01-02\n---\n\n# Heading title\n\n{BODY}\n"
    result = load_file(_write(tmp_path / "fm.md", text), settings)
    (article,) = result.articles
    assert article.title == "Heading title"
    assert article.published_at == datetime(2024, 1, 2, tzinfo=UTC)
    assert _reasons(result) == [(2, reason)]


def test_front_matter_yaml_scalars_are_read_as_yaml_means_them(
    tmp_path: Path, settings: CorpusSettings
) -> None:
    text = (
        "---\n"
        "title: >\n  A folded\n  title\n"
        "source: 'Agency''s wire'\n"
        'url: "https://example.org/a?b=\\u00e9"\n'
        "title: Second title\n"
        "language: 5\n"
        "tags:\n  - one\n  - two\n"
        "---\n\n"
        f"{BODY}\n"
    )
    result = load_file(_write(tmp_path / "y.md", text), settings)
    (article,) = result.articles
    assert (article.title, article.source, article.url) == (
        "A folded title",
        "Agency's wire",
        "https://example.org/a?b=é",
    )
    assert article.language is None  # not a code: detected at ingest
    assert _reasons(result) == [
        (7, "front matter key 'title' repeated (first on line 2); ignored"),
        (
            8,
            "'language' '5' is not a language code such as 'en' or 'pt-BR'; its language is detected from the text",
        ),
    ]


# --- folder walks -----------------------------------------------------------------------------------------


@pytest.fixture
def tree(tmp_path: Path) -> Iterator[Path]:
    root = tmp_path / "corpus"
    _write(root / "a.jsonl", json.dumps({"title": "A", "body": BODY}))
    _write(root / "notes.pdf", b"%PDF")
    _write(root / "sheet.xlsx", b"PK")
    _write(root / "README", "read me")
    _write(root / "sub" / "b.md", f"# B\n\n{BODY}\n")
    _write(root / "locked" / "c.md", f"# C\n\n{BODY}\n")
    os.symlink("loop.txt", root / "loop.txt")
    os.symlink("missing.md", root / "gone.md")
    os.symlink("..", root / "sub" / "up")
    (root / "locked").chmod(0)
    yield root
    (root / "locked").chmod(0o755)


def test_folder_walk_reports_what_it_skips(
    tree: Path, monkeypatch: pytest.MonkeyPatch, settings: CorpusSettings
) -> None:
    locked = tree / "locked"
    if os.access(locked, os.R_OK):  # root reads anything: make the folder fail as it does for a user
        real_scandir = os.scandir

        def scandir(path: str | os.PathLike[str]) -> Iterator[os.DirEntry[str]]:
            if Path(path) == locked:
                raise PermissionError(13, "Permission denied", str(path))
            return real_scandir(path)

        monkeypatch.setattr(os, "scandir", scandir)
    files, problems = iter_input_files([tree, tree / "loop.txt"])
    assert files == [tree / "a.jsonl", tree / "sub" / "b.md"]
    assert sorted((Path(p.path).relative_to(tree.parent).as_posix(), p.reason) for p in problems) == [
        ("corpus", "skipped 3 files of unsupported type (1 (no suffix), 1 .pdf, 1 .xlsx)"),
        ("corpus/gone.md", "broken symbolic link (to 'missing.md'); skipped"),
        ("corpus/locked", "cannot read folder: Permission denied; skipped"),
        ("corpus/loop.txt", "symbolic link loop; skipped"),
        ("corpus/loop.txt", "symbolic link loop; skipped"),
        ("corpus/sub/up", "symbolic link to a folder, not followed; skipped"),
    ]
    assert all(load_file(f, settings).articles for f in files)


def test_folder_with_only_unsupported_files_says_so(tmp_path: Path) -> None:
    _write(tmp_path / "docs" / "a.pdf", b"%PDF")
    files, problems = iter_input_files([tmp_path / "docs"])
    assert files == []
    assert [p.reason for p in problems] == ["skipped 1 file of unsupported type (1 .pdf)"]
