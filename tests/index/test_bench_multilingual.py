"""The Turkish question set and the sadedegel reader of bench/multilingual.py."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from bench.answer_match import states_answer
from bench.multilingual import SADEDEGEL, load_tr_questions, sadedegel_article
from corpus.language import LanguageDetector


def test_a_raw_page_loses_its_residue_and_keeps_headline_and_date(tmp_path: Path) -> None:
    page = tmp_path / "dolar-neden-dustu-39037916.txt"
    page.write_text(
        "Dolar neden düştü? 12 Eylül 1998 PAYLAŞ Yorum yaz A Dolar geçen hafta aniden değer kaybetti."
    )
    article = sadedegel_article(page)
    assert (article.id, article.title, article.language) == (
        "dolar-neden-dustu-39037916",
        "Dolar neden düştü?",
        "tr",
    )
    assert article.published_at == datetime(1998, 9, 12, tzinfo=UTC)
    assert article.body == "Dolar geçen hafta aniden değer kaybetti."
    undated = tmp_path / "bitmemis-evlilikler-375881.txt"
    undated.write_text("Evliliğin bitip bitmemesinden daha önemli olan şey duygulardır.")
    assert sadedegel_article(undated).title == "Bitmemis evlilikler"
    assert sadedegel_article(undated).published_at is None


def test_the_question_set_pairs_turkish_and_english_questions() -> None:
    questions = load_tr_questions()
    assert len(questions) == 38 and len({q.qid for q in questions}) == 38
    detector = LanguageDetector()
    assert sum(detector.detect(q.tr) == "tr" for q in questions) >= 36
    assert sum(detector.detect(q.en) == "en" for q in questions) >= 36


@pytest.mark.skipif(not (SADEDEGEL / "raw").is_dir(), reason="sadedegel eval data (../shared) not present")
def test_every_answer_is_stated_in_its_gold_article() -> None:
    for q in load_tr_questions():
        assert states_answer(sadedegel_article(SADEDEGEL / "raw" / f"{q.article}.txt").body, q.answer), q.qid
