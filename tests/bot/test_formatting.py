"""HTML formatting and message splitting."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, date, datetime
from html.parser import HTMLParser

from bot.formatting import (
    EMPTY_DIGEST,
    answer_html,
    answer_plain,
    digest_plain,
    format_digest,
    format_headlines,
    format_languages,
    split_message,
    tg_len,
)
from index.digest import Digest
from index.models import Answer, Citation
from tests.bot.fakes import sample_answer, sample_articles, story

ALLOWED = {"b", "i", "a", "u", "s", "code", "pre", "blockquote"}


class _Checker(HTMLParser):
    """Fails on unbalanced or unknown tags, like Telegram's HTML parser would."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        assert tag in ALLOWED, tag
        self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.stack and self.stack.pop() == tag, tag


def assert_valid_html(text: str) -> None:
    """Balanced allowed tags, no stray '<' or unescaped '&'."""
    checker = _Checker()
    checker.feed(text)
    checker.close()
    assert checker.stack == []
    assert not re.search(r"&(?!(amp|lt|gt|quot|#\d+);)", text)


def test_answer_escapes_text_and_links_sources() -> None:
    answer = sample_answer("Iran & Azerbaijan <talked> [1].")
    html = answer_html(answer)
    assert_valid_html(html)
    assert "Iran &amp; Azerbaijan &lt;talked&gt; [1]." in html
    assert '<a href="https://ilkha.example/a?x=1&amp;y=2">Iran–Azerbaijan ties &lt;new&gt; phase</a>' in html
    assert "ILKHA, 4 Dec 2025" in html


def test_not_covered_is_the_core_text_alone() -> None:
    cite = sample_answer("t [1]").citations
    html = answer_html(Answer(question="q", answered=False, text="Nothing on <this> & that.", citations=cite))
    assert html == "Nothing on &lt;this&gt; &amp; that."


def test_unsafe_urls_are_not_links() -> None:
    cite = Citation(1, "a", "Title", "javascript:alert(1)", None, None, "q")
    html = answer_html(Answer(question="q", answered=True, text="t [1]", citations=(cite,)))
    assert "href" not in html and "[1] Title" in html


def test_answer_plain_is_unescaped_with_sources() -> None:
    text = answer_plain(sample_answer("Iran & Azerbaijan <talked> [1]."))
    assert text == (
        "Iran & Azerbaijan <talked> [1].\n\nSources:\n"
        "[1] Iran–Azerbaijan ties <new> phase (ILKHA, 2025-12-04) https://ilkha.example/a?x=1&y=2"
    )


def test_headlines_fall_back_to_fetch_date() -> None:
    arts = sample_articles(2)
    html = format_headlines(arts)
    assert html.count("<a href=") == 2 and "Headline 0 &amp; more" in html


def test_digest_html_and_plain() -> None:
    d = Digest(date(2025, 12, 4), datetime.now(UTC), datetime.now(UTC), (story(1), story(2)))
    html = format_digest(d)
    assert_valid_html(html)
    assert html.count("Read more") == 2 and "Story 1 &lt;b&gt;&amp; co&lt;/b&gt;" in html
    assert "Summary sentence 2 about R&amp;D." in html
    plain = digest_plain(d)
    assert "* Story 1 <b>& co</b> (ILKHA, 2025-12-04)" in plain
    empty = Digest(date(2025, 12, 4), datetime.now(UTC), datetime.now(UTC), ())
    assert format_digest(empty) == EMPTY_DIGEST


def test_short_message_is_one_part() -> None:
    assert split_message("hello\n\nworld") == ["hello\n\nworld"]


def test_ten_thousand_character_answer_splits_at_paragraphs() -> None:
    paragraphs = [f"Paragraph {i} " + "word & <x> " * 60 + f"[{i}]." for i in range(16)]
    text = "\n\n".join(paragraphs)
    assert len(text) > 10_000
    answer = sample_answer(text)
    parts = split_message(answer_html(answer))
    assert len(parts) >= 3
    for part in parts:
        assert tg_len(part) <= 4096
        assert_valid_html(part)
        # Every part starts at a paragraph start: nothing was cut mid-paragraph.
        assert part.startswith(("Paragraph", "<b>Sources"))
    joined = "\n\n".join(parts)
    assert joined == answer_html(answer)


def test_one_huge_paragraph_splits_between_words_and_keeps_tags_balanced() -> None:
    html = (
        "<b>"
        + " ".join(f"w{i}&amp;" for i in range(3000))
        + "</b> tail "
        + '<a href="https://x">'
        + ("link " * 1500)
        + "</a>"
    )
    parts = split_message(html, limit=1000)
    assert len(parts) > 10
    for part in parts:
        assert tg_len(part) <= 1000
        assert_valid_html(part)
    visible = re.sub(r"<[^>]+>", "", " ".join(parts))
    assert visible.split() == re.sub(r"<[^>]+>", "", html).split()


def test_word_longer_than_a_message_is_cut() -> None:
    parts = split_message("x" * 9000 + " 😀" * 3000)
    assert all(tg_len(p) <= 4096 for p in parts)
    assert "".join(parts).replace(" ", "") == "x" * 9000 + "😀" * 3000


def test_languages_line_counts_articles_per_language() -> None:
    assert format_languages([("en", 120), ("tr", 98)]) == "\nLanguages: en 120, tr 98"
    assert format_languages([]) == ""


def test_answer_plain_says_when_the_sources_are_in_another_language() -> None:
    answer = replace(sample_answer("Rasht-Astara railway [1]."), language="tr", source_languages=("en",))
    assert answer_plain(answer).splitlines()[0] == "(The sources are in English.)"
    same = replace(answer, source_languages=("tr",))
    assert answer_plain(same).splitlines()[0] == "Rasht-Astara railway [1]."
