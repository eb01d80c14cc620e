"""Tests for photo furniture in article text: a gallery's widget text and photo credits."""

from __future__ import annotations

import pytest

from corpus.cleaning import clean_article_text, normalize_text
from corpus.photos import strip_gallery_chrome, strip_photo_credits


def test_a_gallery_keeps_its_captions_without_its_widget_text() -> None:
    raw = (
        "Rivers rose overnight.\n\nPhotos: Floods in Riverton Two brothers embrace in front of their home. Hide Caption"
        " 1 of 3 Photos: Floods in Riverton A road buckles after the flood. Hide Caption 2 of 3 Photos: Floods in"
        " Riverton Damage is seen Sunday. Hide Caption 3 of 3\n\nPhotos: A man lays flowers in Nara. Hide Caption 1"
        " of 2 Photos: A screen in Tokyo shows the news Hide Caption 2 of 2\n\nThe water fell on Monday."
    )
    assert strip_gallery_chrome(normalize_text(raw)) == (
        "Rivers rose overnight.\n"
        "Two brothers embrace in front of their home.\nA road buckles after the flood.\nDamage is seen Sunday.\n"
        # Without a title the captions keep all their words ("A man", "A screen").
        "A man lays flowers in Nara.\nA screen in Tokyo shows the news\n"
        "The water fell on Monday."
    )


def test_text_without_a_gallery_keeps_its_photos_colon() -> None:
    text = "Photos: Floods in Riverton show the damage.\nThe water fell on Monday."
    assert strip_gallery_chrome(text) == text


def test_a_lone_photo_keeps_its_whole_caption_and_far_text_is_not_a_caption() -> None:
    story = "Photos: the agency released three of them. " + "The water rose all week. " * 30
    text = f"{story}\nPhotos: Floods in Riverton A road buckles. Hide Caption 1 of 1"
    # One photo shows no title apart from its caption; the story's own "Photos:" is 150 words from any counter.
    assert strip_gallery_chrome(text) == f"{story.strip()}\nFloods in Riverton A road buckles."


def test_credits_closing_captions_go_and_each_caption_gets_its_line() -> None:
    text = (
        "Fans gather outside the palace on Friday. Andreea Alexandru/AP A man lays flowers. Sayed Khodaiberdi"
        " Sadat/Anadolu Agency/Getty Images The Queen waves in 1985 Paramount/Rso/Kobal/Shutterstock\n"
        "Erin Scott/Getty Images\nThe storm weakened on Monday."
    )
    assert strip_photo_credits(text) == (
        "Fans gather outside the palace on Friday.\nA man lays flowers.\nThe Queen waves in 1985"
        " Paramount/Rso/Kobal/Shutterstock\nThe storm weakened on Monday."
    )


def test_parenthesised_and_trailing_credits_go() -> None:
    text = (
        "Gas prices are displayed in Sacramento, Calif., Friday, May 27, 2022. (AP Photo/Rich Pedroncelli)\n"
        "Trump spoke in Washington. (Photo by Chip Somodevilla/Getty Images) (Photo: Chip Somodevilla, Getty Images)"
        "\nA small Antarctic jellyfish. Credit: Daisy Pickup, PhD Student at University of East Anglia\nIt swims."
    )
    assert strip_photo_credits(text) == (
        "Gas prices are displayed in Sacramento, Calif., Friday, May 27, 2022.\nTrump spoke in Washington.\n"
        "A small Antarctic jellyfish.\nIt swims."
    )


def test_a_gallery_title_scraped_before_its_credit_goes_with_it() -> None:
    text = (
        "The Queen tested positive. Photos: The life of Queen Elizabeth II Toby Melville/Reuters The Queen buys a"
        " train ticket in 1990. Photos: 'Unprecedented' flooding in Pakistan Abdul Majeed/AFP/Getty Images A flooded"
        " area is seen."
    )
    assert strip_photo_credits(text) == (
        "The Queen tested positive.\nThe Queen buys a train ticket in 1990.\nA flooded area is seen."
    )


def test_a_source_credited_alone_where_a_caption_ends_goes() -> None:
    text = (
        "AP\nTORONTO (AP) — The game ran late.\nA man searches the rubble in Khost on June 22. Getty Images People"
        " help in the rescue. AP\nAP Baseball Writer Ronald Blum contributed to this report."
    )
    assert strip_photo_credits(text) == (
        "TORONTO (AP) — The game ran late.\nA man searches the rubble in Khost on June 22.\nPeople help in the"
        " rescue.\nAP Baseball Writer Ronald Blum contributed to this report."
    )


@pytest.mark.parametrize(
    "text",
    [
        "A Reuters/Ipsos poll found support fell. AC/DC played on.",
        "The 24/7 hotline opened. Photos: the agency released three of them.",
        "Officials said the talks (in Geneva) went well.\nCredit: card balances rose 15% in a year.",
        "He spoke to CNN and Fox/AP affiliates about the storm.",
        "The talks ended. Reuters reported a deal. ASAP Rocky performed. AP Top 25 teams won. In the Pool",
    ],
)
def test_prose_with_slashes_photos_or_credit_stays(text: str) -> None:
    assert strip_photo_credits(text) == text


def test_clean_article_text_strips_credits() -> None:
    raw = "The fire spread on Sunday. Noah Berger/AP\n\nCrews held the line."
    assert clean_article_text(raw) == "The fire spread on Sunday.\nCrews held the line."
