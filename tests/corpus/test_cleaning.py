"""Tests for text normalisation, boilerplate removal, sentence splitting and headline derivation."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from corpus.cleaning import (
    clean_article_text,
    headline_from_sentence,
    is_boilerplate,
    normalize_text,
    split_sentences,
    strip_boilerplate,
)

SAMPLE = Path(__file__).resolve().parents[2] / "samples" / "ilkha_2025-12.txt"


def _sample_briefs() -> list[str]:
    """The four one-paragraph briefs after the legal warning in the bundled sample."""
    lines = [line for line in SAMPLE.read_text(encoding="utf-8").split("\n") if line.strip()]
    start = next(i for i, line in enumerate(lines) if line.startswith("LEGAL WARNING")) + 1
    return lines[start:]


# --- normalize_text ------------------------------------------------------------------------------------


def test_normalize_composes_to_nfc_and_keeps_typographic_quotes() -> None:
    decomposed = "Cafe\u0301 owner\u2019s \u201cbest\u201d coffee \u2013 2 km\u00b2"
    assert normalize_text(decomposed) == "Café owner’s “best” coffee – 2 km²"


def test_normalize_unifies_whitespace_and_keeps_paragraphs() -> None:
    text = "  First\u00a0\u00a0line\twith  gaps  \r\n\r\n\n  Second\u2003line \u2028Third line\n\n"
    assert normalize_text(text) == "First line with gaps\nSecond line\nThird line"


def test_normalize_strips_control_and_invisible_characters() -> None:
    text = "Bad\x00 by\x07tes and zero\u200bwidth soft\u00adhyphen\ufeff, \ufb01ne"
    assert normalize_text(text) == "Bad bytes and zerowidth softhyphen, fine"


def test_normalize_keeps_joiners_that_carry_meaning() -> None:
    persian = "می\u200cخواهم"
    assert normalize_text(persian) == persian


def test_normalize_empty_and_blank() -> None:
    assert normalize_text("") == ""
    assert normalize_text(" \n\t\n ") == ""


# --- strip_boilerplate -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "line",
    [
        "LEGAL WARNING: All rights of the published news, photos and videos are reserved by the agency.",
        "© 2025 Example News. All rights reserved.",
        "Copyright 2025 The Example Company",
        "Advertisement",
        "ADVERTISEMENT",
        "Skip to content",
        "Play Video",
        "Now playing",
        "Watch: Floods sweep through Riverton",
        "Loading...",
        "Share this article",
        "Follow us on Twitter",
        "Follow Jane Doe on Twitter: @janedoe.",
        "Read more:",
        "Read more: Floods force hundreds from their homes",
        "More:Biden administration will relocate thousands of Afghan interpreters",
        "Video Ad Feedback Flood and heat alerts remain across the country 02:12 - Source: CNN",
        "JUST WATCHED Russia moves in heavy weapon Replay More Videos ... MUST WATCH Russia moves 01:02",
        "1. How relevant is this ad to you?",
        "Sign up for CNN's Wonder Theory science newsletter. Explore the universe with news.",
        '(You can get "5 Things You Need to Know Today" delivered to your inbox daily. Sign up here .)',
        "Facebook Twitter Email",
        "►Candy cane shortage:Peppermint candy is harder to find before Christmas",
        "► Story:Downtown Indy's Bourbon Street Distillery closes",
        "►Vehicle plunges into Genesee River gorge",
        "►What's open Christmas Day? CVS, Starbucks, McDonald's and 7-Eleven, but Walmart, Costco closed",
        "►Save better, spend better: Money tips and advice delivered right to your inbox. Sign up here",
        "Fact check:'Megabats' exist, and they're, well, mega",
        "Before the pandemic ketchup squeeze:A year of COVID-19 product shortages and the items we struggled to find",
        "***",
        "___________",
        "♦",
    ],
)
def test_boilerplate_lines_are_recognised(line: str) -> None:
    assert is_boilerplate(line)
    assert strip_boilerplate(f"Real first sentence.\n{line}\nReal last sentence.") == (
        "Real first sentence.\nReal last sentence."
    )


@pytest.mark.parametrize(
    "sentence",
    [
        "Up next on Evans' plate is an onscreen reunion with his former co-star.",
        "Copyright infringement lawsuits have surged this year, lawyers say.",
        "Follow the money, the senator told the committee.",
        "Police said the advertisement was misleading and ordered it removed.",
        "The player shared the video on Twitter and Facebook after the game.",
        "Borrowers can sign up for updates on the Department of Education’s website.",
        "Updated figures showed 5 deaths on Friday.",
        "Share prices fell 3% in early trading.",
        "Watch makers reported record exports in November.",
        "More than 300 people were moved to shelters.",
        "Loading of the cargo ship resumed on Tuesday.",
        "►Seven civilians were killed in the region on Tuesday, the governor said.",
        "► 10:30 a.m.: The governor declared a state of emergency.",
        "►Who's the worst for bumping passengers?",
        "►Ukrainian forces have been making gains against Russian troops and may be able to push them out of"
        " artillery range of Kharkiv in the coming weeks, the general staff said on Sunday morning",
        "Springfield:Two hippo sisters are getting ready to return to their remodeled home.",
        "Officials said:the talks went well",
        "Watch makers reported record exports: Swiss watches led the rise",
    ],
)
def test_real_sentences_are_kept(sentence: str) -> None:
    assert not is_boilerplate(sentence)
    assert strip_boilerplate(sentence) == sentence


def test_a_newsletter_note_opening_a_story_is_removed() -> None:
    raw = (
        "This story is part of CNN Business' Nightcap newsletter. To get it in your inbox, sign up for free, here.\n"
        "This story is part of our series on the floods.\nRivers rose overnight."
    )
    assert (
        clean_article_text(raw) == "This story is part of our series on the floods.\nRivers rose overnight."
    )


def test_long_legal_warning_in_article_is_removed() -> None:
    legal = "LEGAL WARNING: All rights of the published news are reserved. " * 10
    text = f"Officials met in Baku on Thursday.\n{legal}\nThe talks ended late."
    assert strip_boilerplate(text) == "Officials met in Baku on Thursday.\nThe talks ended late."


def test_clean_article_text_normalises_then_strips() -> None:
    raw = "  Heavy\u00a0rain fell.\r\n\r\nAdvertisement\r\n  Rivers rose.  \r\nShare this\r\n"
    assert clean_article_text(raw) == "Heavy rain fell.\nRivers rose."


# --- split_sentences -------------------------------------------------------------------------------------


def test_split_sentences_handles_titles_initials_and_decimals() -> None:
    text = "Mr. Smith met Dr. J. K. Rowling in Washington. The deal cost $1.5 million. It closed."
    assert split_sentences(text) == [
        "Mr. Smith met Dr. J. K. Rowling in Washington.",
        "The deal cost $1.5 million.",
        "It closed.",
    ]


def test_split_sentences_handles_dotted_acronyms() -> None:
    text = "The U.S. economy grew 2.5% last year. Growth slowed in the U.S. It may recover."
    assert split_sentences(text) == [
        "The U.S. economy grew 2.5% last year.",
        "Growth slowed in the U.S.",
        "It may recover.",
    ]


def test_split_sentences_keeps_closing_quotes_with_their_sentence() -> None:
    text = 'He said: "We will rebuild." Then he left. “Is it over?” she asked. Nobody knew!'
    assert split_sentences(text) == [
        'He said: "We will rebuild."',
        "Then he left.",
        "“Is it over?” she asked.",
        "Nobody knew!",
    ]


def test_split_sentences_abbreviations_and_times() -> None:
    text = (
        "Gen. Milley spoke at 9 a.m. The briefing ended at noon. Acme Inc. in Boston agreed. "
        "See No. 5 on the list. Voting ends Jan. 15 at midnight."
    )
    assert split_sentences(text) == [
        "Gen. Milley spoke at 9 a.m.",
        "The briefing ended at noon.",
        "Acme Inc. in Boston agreed.",
        "See No. 5 on the list.",
        "Voting ends Jan. 15 at midnight.",
    ]


def test_split_sentences_paragraph_breaks_and_list_numbers() -> None:
    text = "1. Ukraine\nTroops advanced... Then they stopped.\nA heading without a period"
    assert split_sentences(text) == [
        "1. Ukraine",
        "Troops advanced...",
        "Then they stopped.",
        "A heading without a period",
    ]


def test_split_sentences_a_bullet_opens_a_sentence() -> None:
    # A live blog's bullets read as one line once its lines are joined: each bullet is a sentence of its own.
    text = (
        "All members must approve. ►Russia cut off the oil. ▶Estonia wants visas stopped. • Finland agrees."
    )
    assert split_sentences(text) == [
        "All members must approve.",
        "►Russia cut off the oil.",
        "▶Estonia wants visas stopped.",
        "• Finland agrees.",
    ]


def test_split_sentences_lowercase_continuation_is_not_split() -> None:
    assert split_sentences("The vote was 5 vs. 4 in favour. the end") == [
        "The vote was 5 vs. 4 in favour. the end"
    ]
    assert split_sentences("") == []


def test_split_sentences_is_fast() -> None:
    paragraph = "Mr. Smith said the U.S. economy grew 2.5% in Q3. Officials agreed. “Good,” he said! " * 40
    text = "\n".join([paragraph] * 250)  # about 1 MB
    start = time.perf_counter()
    sentences = split_sentences(text)
    assert time.perf_counter() - start < 5.0
    assert len(sentences) == 40 * 3 * 250


# --- headline_from_sentence ------------------------------------------------------------------------------


def _check_headline(headline: str, max_words: int = 14) -> None:
    assert headline
    assert len(headline.split()) <= max_words
    assert headline[-1] not in ".,;:!?…"
    assert "Thursday" not in headline


def test_sample_has_four_briefs() -> None:
    assert len(_sample_briefs()) == 4


def test_headline_seversk_brief() -> None:
    headline = headline_from_sentence(split_sentences(_sample_briefs()[0])[0])
    _check_headline(headline)
    assert headline.startswith(
        "Russia’s top military leadership announced its forces have taken full control"
    )
    assert "Seversk" in headline


def test_headline_hamas_brief() -> None:
    headline = headline_from_sentence(split_sentences(_sample_briefs()[1])[0])
    _check_headline(headline)
    assert headline.startswith("Hamas denounced")
    assert "Bolivia" in headline
    assert "calling it" not in headline


def test_headline_sbu_brief() -> None:
    headline = headline_from_sentence(split_sentences(_sample_briefs()[2])[0])
    _check_headline(headline)
    assert headline.startswith("Ukraine’s Security Service carried out its first-ever drone strike")
    assert "Kyiv Independent" not in headline


def test_headline_bulgaria_brief() -> None:
    headline = headline_from_sentence(split_sentences(_sample_briefs()[3])[0])
    _check_headline(headline)
    assert headline == "Bulgaria’s Prime Minister Rossen Jeliazkov announced his government would resign"


def test_headline_drops_leading_time_and_attribution() -> None:
    headline = headline_from_sentence(
        "On Monday, police in Riverton arrested three men over the theft of a rare painting, officials said."
    )
    assert headline == "Police in Riverton arrested three men over the theft of a rare painting"


def test_headline_keeps_named_days_and_respects_max_words() -> None:
    headline = headline_from_sentence(
        "Shoppers crowded stores on Black Friday as prices fell across the country."
    )
    assert "Black Friday" in headline
    short = headline_from_sentence(
        "The central bank raised interest rates by half a percentage point to fight inflation.", max_words=6
    )
    assert len(short.split()) <= 6
    assert short.split()[-1].lower() not in {"the", "a", "of", "to", "by"}


def test_headline_of_short_sentence_is_the_sentence() -> None:
    assert headline_from_sentence("Floods hit Riverton.") == "Floods hit Riverton"
