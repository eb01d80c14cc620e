"""Tests for the file loaders: agency text, JSON Lines, JSON, Markdown, HTML and bad files."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from corpus.loaders import SUPPORTED_SUFFIXES, iter_input_files, load_file, load_html
from corpus.models import Article, LoadResult, stable_id
from corpus.settings import CorpusSettings

SAMPLE = Path(__file__).resolve().parents[2] / "samples" / "ilkha_2025-12.txt"
FETCHED = datetime(2025, 12, 5, 8, 0, tzinfo=UTC)


@pytest.fixture
def settings() -> CorpusSettings:
    return CorpusSettings(default_source="Default Agency", default_language="en")


def _write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def _only_article(result: LoadResult) -> Article:
    assert result.problems == ()
    assert len(result.articles) == 1
    return result.articles[0]


# --- agency plain text -----------------------------------------------------------------------------------


def test_sample_yields_article_and_four_briefs(settings: CorpusSettings) -> None:
    result = load_file(SAMPLE, settings, fetched_at=FETCHED)
    assert result.problems == ()
    titles = [a.title for a in result.articles]
    assert len(titles) == 5
    assert titles[0] == "Iran–Azerbaijan ties enter new phase following Araghchi’s visit to Baku"
    assert "Seversk" in titles[1]
    assert titles[2].startswith("Hamas") and "Bolivia" in titles[2]
    assert "Security Service" in titles[3]
    assert titles[4].startswith("Bulgaria’s Prime Minister")
    assert all(a.source == "ILKHA" for a in result.articles)
    assert all(
        a.language is None and a.fetched_at == FETCHED and a.published_at is None for a in result.articles
    )


def test_sample_has_no_legal_warning_or_signature(settings: CorpusSettings) -> None:
    articles = load_file(SAMPLE, settings).articles
    for article in articles:
        assert "LEGAL WARNING" not in article.title + article.body
        assert "All rights" not in article.body
        assert "(ILKHA)" not in article.body
    main = articles[0]
    assert main.body.startswith("Relations between Iran and Azerbaijan are entering a new phase")
    assert main.body.endswith("advance their shared strategic interests.")
    assert main.body.count("\n") == 8  # nine paragraphs, headline not repeated
    assert articles[1].body.startswith("Russia’s top military leadership announced on Thursday")
    assert articles[4].body.endswith("no-confidence vote in parliament.")


def test_sample_ids_are_stable_across_loads(settings: CorpusSettings) -> None:
    first = load_file(SAMPLE, settings, fetched_at=FETCHED).articles
    second = load_file(SAMPLE, settings).articles
    assert [a.id for a in first] == [a.id for a in second]
    assert [a.hash for a in first] == [a.hash for a in second]
    assert len({a.id for a in first}) == 5
    assert first[0].id == stable_id("ILKHA", first[0].title)


def test_plain_single_article_without_signature(tmp_path: Path, settings: CorpusSettings) -> None:
    path = _write(
        tmp_path,
        "story.txt",
        "Bridge reopens after repairs\nThe bridge reopened on Monday.\nTraffic resumed.\n",
    )
    article = _only_article(load_file(path, settings))
    assert article.title == "Bridge reopens after repairs"
    assert article.body == "The bridge reopened on Monday.\nTraffic resumed."
    assert article.source == "Default Agency"


def test_several_signed_articles_with_briefs_between(tmp_path: Path, settings: CorpusSettings) -> None:
    text = (
        "Turkey and Iraq sign water deal\n"
        "Turkey and Iraq signed a water agreement in Baghdad on Monday.\n"
        "The deal covers dams on the Tigris and Euphrates. (AA)\n"
        "LEGAL WARNING: All rights reserved by the agency.\n"
        "A storm hit the coast of Antalya on Monday night, cutting power to thousands of homes.\n"
        "Parliament passes budget\n"
        "Parliament passed the 2026 budget after a marathon session.\n"
        "Opposition parties voted against it. (Reuters)\n"
        "Police in Istanbul detained 12 suspects in a fraud probe on Tuesday, prosecutors said.\n"
    )
    result = load_file(_write(tmp_path, "agency.txt", text), settings)
    assert result.problems == ()
    assert [(a.title, a.source) for a in result.articles] == [
        ("Turkey and Iraq sign water deal", "AA"),
        ("A storm hit the coast of Antalya", "AA"),
        ("Parliament passes budget", "Reuters"),
        ("Police in Istanbul detained 12 suspects in a fraud probe", "Reuters"),
    ]
    assert result.articles[0].body.endswith("Tigris and Euphrates.")
    assert result.articles[2].body == "Parliament passed the 2026 budget after a marathon session.\n" + (
        "Opposition parties voted against it."
    )


def test_hard_wrapped_text_is_unwrapped(tmp_path: Path, settings: CorpusSettings) -> None:
    text = (
        "Wrapped headline\n\n"
        "This paragraph was wrapped at a fixed column so\nthat lines end in the middle\nof a sentence.\n\n"
        "A second paragraph is also wrapped\nacross two lines.\n"
    )
    article = _only_article(load_file(_write(tmp_path, "wrapped.txt", text), settings))
    assert article.title == "Wrapped headline"
    assert article.body == (
        "This paragraph was wrapped at a fixed column so that lines end in the middle of a sentence.\n"
        "A second paragraph is also wrapped across two lines."
    )


def test_lone_headline_is_a_problem(tmp_path: Path, settings: CorpusSettings) -> None:
    result = load_file(_write(tmp_path, "lone.txt", "\n\nJust a headline\n"), settings)
    assert result.articles == ()
    assert len(result.problems) == 1
    assert result.problems[0].line == 3
    assert "headline without article text" in result.problems[0].reason


# --- JSON Lines ------------------------------------------------------------------------------------------


def _jsonl(*records: object) -> str:
    return "\n".join(r if isinstance(r, str) else json.dumps(r) for r in records) + "\n"


def test_jsonl_good_and_bad_lines(tmp_path: Path, settings: CorpusSettings) -> None:
    text = _jsonl(
        {
            "title": "First story",
            "body": "Body one.",
            "url": "https://example.com/1",
            "published_at": "2025-12-04",
        },
        '{"title": "broken", "body": ',
        "",
        {"title": "No body here", "url": "https://example.com/3"},
        {"title": "Bad date", "body": "Body four.", "published_at": "yesterday-ish"},
        {"id": "custom-5", "title": "Fifth story", "text": "Body five uses the text key.", "language": "TR"},
        ["not", "an", "object"],
        {"title": "   ", "body": "Whitespace title."},
    )
    path = _write(tmp_path, "news.jsonl", text)
    result = load_file(path, settings)
    assert [a.title for a in result.articles] == ["First story", "Fifth story"]
    problems = {p.line or 0: p.reason for p in result.problems}
    assert sorted(problems) == [2, 4, 5, 7, 8]  # line 3 is blank and skipped
    assert "broken JSON" in problems[2]
    assert "'body'" in problems[4]
    assert "bad date 'yesterday-ish'" in problems[5]
    assert "JSON object" in problems[7]
    assert "title is empty" in problems[8]
    assert all(p.path == str(path) for p in result.problems)
    assert str(result.problems[0]).startswith(f"{path}:2: ")
    first, fifth = result.articles
    assert first.id == stable_id("https://example.com/1")
    assert first.published_at == datetime(2025, 12, 4, tzinfo=UTC)
    assert first.source == "Default Agency"
    assert fifth.id == "custom-5"
    assert fifth.body == "Body five uses the text key."
    assert fifth.language == "tr"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2022/07/14", datetime(2022, 7, 14, tzinfo=UTC)),
        ("2022-07-14", datetime(2022, 7, 14, tzinfo=UTC)),
        ("2022-07-14T09:30:00", datetime(2022, 7, 14, 9, 30, tzinfo=UTC)),
        ("2022-07-14T09:30:00Z", datetime(2022, 7, 14, 9, 30, tzinfo=UTC)),
        ("2022-07-14T12:30:00+03:00", datetime(2022, 7, 14, 9, 30, tzinfo=UTC)),
        ("Thu, 14 Jul 2022 09:30:00 GMT", datetime(2022, 7, 14, 9, 30, tzinfo=UTC)),
    ],
)
def test_jsonl_date_formats(tmp_path: Path, settings: CorpusSettings, raw: str, expected: datetime) -> None:
    path = _write(tmp_path, "dates.jsonl", _jsonl({"title": "Dated", "body": "Text.", "published_at": raw}))
    article = _only_article(load_file(path, settings))
    assert article.published_at == expected
    assert article.published_at is not None and article.published_at.tzinfo is not None


def test_jsonl_cleans_text_and_ids_are_stable(tmp_path: Path, settings: CorpusSettings) -> None:
    record = {
        "title": "  Storm\u00a0warning ",
        "body": "Heavy rain is expected.\n\nAdvertisement\nRead more: Other story\nRivers may flood.",
        "source": "Example",
    }
    path = _write(tmp_path, "clean.jsonl", _jsonl(record))
    first = _only_article(load_file(path, settings))
    second = _only_article(load_file(path, settings))
    assert first.title == "Storm warning"
    assert first.body == "Heavy rain is expected.\nRivers may flood."
    assert first.id == second.id == stable_id("Example", "Storm warning")


def test_headline_drops_a_trailing_site_name_of_its_own_source(
    tmp_path: Path, settings: CorpusSettings
) -> None:
    records = [
        {"title": "Fed raises rates - CNN", "body": "Rates rose.", "source": "CNN"},
        {
            "title": "Truss resigns | The Week UK",
            "body": "She resigned.",
            "url": "https://www.theweek.co.uk/t",
        },
        {"title": "Oil jumps | CNN Business ...", "body": "Oil rose.", "source": "CNN"},
        # Not the article's own site: a part of the headline, kept.
        {"title": "Nadal wins - Nadal raises injury concern", "body": "He won.", "source": "USA Today"},
        {"title": "Stocks slide - 24/7 Wall St.", "body": "Stocks fell.", "source": "USA Today"},
    ]
    titles = [
        a.title for a in load_file(_write(tmp_path, "sites.jsonl", _jsonl(*records)), settings).articles
    ]
    assert titles == [
        "Fed raises rates",
        "Truss resigns",
        "Oil jumps",
        "Nadal wins - Nadal raises injury concern",
        "Stocks slide - 24/7 Wall St.",
    ]
    # Ids come from the headline as given, so an article stored before keeps its id.
    first = load_file(_write(tmp_path, "one.jsonl", _jsonl(records[0])), settings).articles[0]
    assert first.id == stable_id("CNN", "Fed raises rates - CNN")


def test_jsonl_record_whose_body_is_all_boilerplate_keeps_its_headline(
    tmp_path: Path, settings: CorpusSettings
) -> None:
    ad_page = "Advertisement\nRead more: Other story"
    records = [
        {"title": "Walmart is slashing prices on clothing - CNN", "body": ad_page, "url": "https://cnn.com/w"},
        {"title": "Rivers rise", "body": "Rivers may flood."},
    ]
    result = load_file(_write(tmp_path, "ads.jsonl", _jsonl(*records)), settings)
    headline_only, ordinary = result.articles
    assert headline_only.body == headline_only.title == "Walmart is slashing prices on clothing"
    assert headline_only.id == stable_id("https://cnn.com/w")
    assert ordinary.body == "Rivers may flood."
    assert [(p.line, p.reason) for p in result.problems] == [
        (1, "body is empty (nothing left after removing boilerplate): kept as a headline-only article")
    ]


def test_jsonl_with_crlf_and_bom(tmp_path: Path, settings: CorpusSettings) -> None:
    text = _jsonl({"title": "One", "body": "First."}, {"title": "Two", "body": "Second."}).replace(
        "\n", "\r\n"
    )
    result = load_file(_write(tmp_path, "bom.jsonl", b"\xef\xbb\xbf" + text.encode()), settings)
    assert result.problems == ()
    assert [a.title for a in result.articles] == ["One", "Two"]


def test_json_array_file(tmp_path: Path, settings: CorpusSettings) -> None:
    data = [{"title": "A", "body": "Alpha text."}, {"title": "B"}]
    result = load_file(_write(tmp_path, "list.json", json.dumps(data)), settings)
    assert [a.title for a in result.articles] == ["A"]
    assert len(result.problems) == 1 and result.problems[0].reason.startswith("item 2: ")


# --- Markdown and front matter ---------------------------------------------------------------------------


def test_markdown_front_matter(tmp_path: Path, settings: CorpusSettings) -> None:
    text = (
        "---\n"
        'title: "Floods hit *Riverton*"\n'
        "url: https://news.example.com/floods\n"
        "source: Example News\n"
        "date: 2025/12/04\n"
        "language: en\n"
        "tags:\n"
        "  - weather\n"
        "---\n"
        "# Floods hit Riverton\n\n"
        "Heavy rain **flooded** the town of [Riverton](https://example.com/r) on Thursday,\n"
        "forcing hundreds of residents to leave.\n\n"
        "## Rescue\n\n"
        "- More than 300 people were moved to _shelters_.\n"
        "- Details are in `report_2025.pdf`.\n\n"
        "![a photo](x.jpg)\n"
    )
    article = _only_article(load_file(_write(tmp_path, "floods.md", text), settings))
    assert article.title == "Floods hit Riverton"
    assert article.url == "https://news.example.com/floods"
    assert article.id == stable_id("https://news.example.com/floods")
    assert article.source == "Example News"
    assert article.published_at == datetime(2025, 12, 4, tzinfo=UTC)
    assert article.body == (
        "Heavy rain flooded the town of Riverton on Thursday, forcing hundreds of residents to leave.\n"
        "Rescue\n"
        "More than 300 people were moved to shelters.\n"
        "Details are in report_2025.pdf."
    )


def test_markdown_title_from_heading_and_bad_date(tmp_path: Path, settings: CorpusSettings) -> None:
    text = "---\ndate: not a date\n---\n# Heading title\n\nSome *emphasised* text.\n"
    result = load_file(_write(tmp_path, "h.markdown", text), settings)
    assert [a.title for a in result.articles] == ["Heading title"]
    assert result.articles[0].body == "Some emphasised text."
    assert result.articles[0].published_at is None
    assert len(result.problems) == 1
    assert result.problems[0].line == 2 and "bad date" in result.problems[0].reason


def test_text_file_with_front_matter(tmp_path: Path, settings: CorpusSettings) -> None:
    text = "---\ntitle: Council approves park\nsource: City Desk\n---\nThe council approved a new park.\n"
    article = _only_article(load_file(_write(tmp_path, "park.txt", text), settings))
    assert (article.title, article.source, article.body) == (
        "Council approves park",
        "City Desk",
        "The council approved a new park.",
    )


# --- HTML ------------------------------------------------------------------------------------------------

PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Floods hit northern town | Example News</title>
<meta property="og:title" content="Floods hit northern town after record rain">
<meta property="article:published_time" content="2025-12-04T09:30:00Z">
<link rel="canonical" href="https://news.example.com/2025/12/04/floods">
</head><body>
<header><nav><a href="/">Home</a> <a href="/world">World</a> <a href="#main">Skip to content</a></nav></header>
<div class="ad">Advertisement</div>
<main id="main"><article>
<h1>Floods hit northern town after record rain</h1>
<p>Heavy rain flooded the northern town of Riverton on Thursday, forcing hundreds of residents to leave
their homes as the river burst its banks overnight.</p>
<p>Emergency services said more than 300 people were moved to shelters, and no deaths had been reported
by the afternoon. Officials warned that more rain was expected over the weekend.</p>
<div class="advert">Advertisement</div>
<p>The mayor, Ann Smith, said the town had not seen such flooding in fifty years. "We are doing everything
we can to help families," she told reporters at the town hall.</p>
<p>Engineers will inspect the damaged bridge on Friday before deciding whether to reopen it to traffic.</p>
</article></main>
<aside><h3>Most read</h3><ul><li><a href="/a">Celebrity weds in secret ceremony</a></li></ul></aside>
<footer><p>© 2025 Example News. All rights reserved.</p><p>Follow us on Twitter</p>
<a href="/privacy">Privacy policy</a></footer>
</body></html>
"""


def test_html_file_extracts_main_text(tmp_path: Path, settings: CorpusSettings) -> None:
    article = _only_article(load_file(_write(tmp_path, "page.html", PAGE), settings, fetched_at=FETCHED))
    assert article.title == "Floods hit northern town after record rain"
    assert article.url == "https://news.example.com/2025/12/04/floods"
    assert article.published_at is not None and article.published_at.date().isoformat() == "2025-12-04"
    assert article.body.startswith("Heavy rain flooded the northern town of Riverton")
    assert "Engineers will inspect the damaged bridge" in article.body
    assert article.fetched_at == FETCHED
    for junk in (
        "Advertisement",
        "Skip to content",
        "Celebrity",
        "All rights reserved",
        "Follow us",
        "Privacy",
    ):
        assert junk not in article.body


def test_load_html_uses_given_metadata(settings: CorpusSettings) -> None:
    when = datetime(2025, 12, 3, 7, 0, tzinfo=UTC)
    article = load_html(PAGE, "https://example.org/story", "Wire", settings, published_at=when)
    assert article is not None
    assert (article.url, article.source, article.published_at) == ("https://example.org/story", "Wire", when)
    assert article.id == stable_id("https://example.org/story")


def test_html_without_text(tmp_path: Path, settings: CorpusSettings) -> None:
    assert load_html("<html><body><nav>Home</nav></body></html>", None, None, settings) is None
    result = load_file(_write(tmp_path, "empty.htm", "<html><body></body></html>"), settings)
    assert result.articles == ()
    assert "no article text" in result.problems[0].reason


# --- bad files and encodings -----------------------------------------------------------------------------


def test_empty_file(tmp_path: Path, settings: CorpusSettings) -> None:
    for name in ("empty.txt", "empty.jsonl", "blank.md"):
        result = load_file(_write(tmp_path, name, "" if name != "blank.md" else " \n\n"), settings)
        assert result.articles == ()
        assert [p.reason for p in result.problems] == ["empty file"]


def test_binary_file(tmp_path: Path, settings: CorpusSettings) -> None:
    result = load_file(
        _write(tmp_path, "image.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x01"), settings
    )
    assert result.articles == ()
    assert result.problems[0].reason == "binary or non-text file"
    assert result.problems[0].line is None


def test_latin1_file(tmp_path: Path, settings: CorpusSettings) -> None:
    text = "Café reopens in Besançon\nThe café on the main square reopened after repairs.\n"
    article = _only_article(load_file(_write(tmp_path, "latin.txt", text.encode("latin-1")), settings))
    assert article.title == "Café reopens in Besançon"
    assert article.body == "The café on the main square reopened after repairs."


def test_utf16_file(tmp_path: Path, settings: CorpusSettings) -> None:
    text = "Ceasefire talks resume\nNegotiators met in Doha – both sides called the talks “useful”.\n"
    article = _only_article(load_file(_write(tmp_path, "u16.txt", text.encode("utf-16")), settings))
    assert article.title == "Ceasefire talks resume"
    assert article.body == "Negotiators met in Doha – both sides called the talks “useful”."


def test_unknown_encoding(tmp_path: Path, settings: CorpusSettings) -> None:
    data = ("新闻报道说今天天气很好。" * 20).encode("gbk")
    result = load_file(_write(tmp_path, "gbk.txt", data), settings)
    assert result.articles == ()
    assert result.problems[0].reason.startswith("cannot decode: unknown text encoding")


def test_unsupported_and_missing_file(tmp_path: Path, settings: CorpusSettings) -> None:
    result = load_file(_write(tmp_path, "doc.pdf", b"%PDF-1.4"), settings)
    assert "unsupported file type '.pdf'" in result.problems[0].reason
    missing = load_file(tmp_path / "missing.txt", settings)
    assert "cannot read file" in missing.problems[0].reason


# --- iter_input_files ------------------------------------------------------------------------------------


def test_iter_input_files_expands_folders(tmp_path: Path) -> None:
    root = tmp_path / "corpus"
    for name in ("b.txt", "a.jsonl", "sub/c.md", "sub/deep/d.html", "notes.pdf", ".hidden.txt", ".git/x.txt"):
        _write(root, name, "x")
    single = _write(tmp_path, "single.htm", "<p>x</p>")
    bad = _write(tmp_path, "data.csv", "a,b")
    files, problems = iter_input_files([root, single, bad, tmp_path / "nope", root / "b.txt"])
    assert files == [
        root / "a.jsonl",
        root / "b.txt",
        root / "sub" / "c.md",
        root / "sub" / "deep" / "d.html",
        single,
    ]
    assert [(Path(p.path).name, p.reason.split(";")[0]) for p in problems] == [
        ("corpus", "skipped 1 file of unsupported type (1 .pdf)"),
        ("data.csv", "unsupported file type '.csv'"),
        ("nope", "no such file or folder"),
    ]
    assert {".txt", ".jsonl", ".md", ".markdown", ".html", ".htm"} <= SUPPORTED_SUFFIXES
