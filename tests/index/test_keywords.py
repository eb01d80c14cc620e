"""The keyword side in Turkish and other stemmed languages (index/keywords.py) on real SQLite FTS5.

The sadedegel check reads ../shared/eval-data/sadedegel-tr-news at run time and is skipped without it.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest

from corpus.language import LanguageDetector
from corpus.models import Article
from index.chunking import chunk_article
from index.embeddings import Embedder
from index.keywords import Stemmer, keyword_terms, keyword_text
from index.passages import PassageStore
from index.query import Query
from index.service import NewsService
from index.terms import query_terms
from tests.conftest import make_settings

SADEDEGEL = Path(__file__).resolve().parents[2] / ".." / "shared" / "eval-data" / "sadedegel-tr-news" / "raw"


def _store(path: Path, articles: list[Article]) -> PassageStore:
    store = PassageStore(path)
    store.replace_articles([], [(a, chunk_article(a, 120, 1)) for a in articles])
    return store


def _top(store: PassageStore, question: str, language: str | None, k: int = 5) -> list[str]:
    hits = store.keyword_search(keyword_terms(question, language), k * 4)
    rows = store.get([i for i, _ in hits])
    return list(dict.fromkeys(rows[i].article_id for i, _ in hits))[:k]


@pytest.mark.parametrize(
    "question",
    [
        "What projects did Iran and Azerbaijan discuss?",
        "Who won the 2018 World Cup in Russia?",
        "and the railway?",
    ],
)
@pytest.mark.parametrize("language", ["en", None, "ku", "ckb"])
def test_english_and_unstemmed_questions_search_exactly_as_before(
    question: str, language: str | None
) -> None:
    assert keyword_terms(question, language) == query_terms(question)


def test_english_passages_are_indexed_as_written() -> None:
    assert keyword_text("The railways were discussed", "en") is None
    assert keyword_text("The railways were discussed", None) is None
    assert keyword_text("Îran û Azerbaycanê", "ku") is None  # no Kurdish stemmer: as written


def test_turkish_forms_share_one_stem_and_both_i_letters_fold() -> None:
    tr = Stemmer.for_language("tr")
    assert tr is not None
    assert len({*tr.stems("demiryolu demiryolunun demiryolları demiryoluyla")}) == 1
    (stem,) = set(tr.stems("IĞDIR Iğdır ığdır"))  # Turkish lower-casing: I is dotless
    assert "ı" not in stem  # folded after stemming, to meet the word typed without Turkish letters
    assert Stemmer.for_language("pt-BR") is not None and Stemmer.for_language("en") is None


def test_a_suffixed_turkish_question_finds_the_article_with_another_form(tmp_path: Path) -> None:
    articles = [
        Article(
            id="rail",
            title="Yeni hat",
            body="Kars ile Tiflis arasındaki demiryolu yarın açılıyor.",
            language="tr",
        ),
        Article(id="port", title="Liman", body="Mersin limanına yeni vinçler geldi.", language="tr"),
        Article(
            id="en",
            title="Railway",
            body="The railway between Kars and Tbilisi opens tomorrow.",
            language="en",
        ),
    ]
    store = _store(tmp_path / "p.db", articles)
    try:
        assert "rail" in _top(store, "Demiryolunun açılışı ne zaman?", "tr")
        # Without the question's language the suffixed form matches nothing Turkish.
        assert "rail" not in _top(store, "Demiryolunun açılışı ne zaman?", None)
        # English is searched as before, and a name in a Turkish question still finds the English article.
        assert _top(store, "When does the railway open?", "en")[0] == "en"
        assert "en" in _top(store, "Tbilisi demiryolları", "tr")
        store.replace_articles(["rail"], [])  # deleting stemmed rows keeps the FTS index consistent
        assert "rail" not in _top(store, "demiryolu", "tr")
    finally:
        store.close()


def test_service_detects_the_question_language_and_the_article_language(
    tmp_path: Path, embedder: Embedder
) -> None:
    rows = [
        {
            "id": "rail",
            "title": "Kars-Tiflis hattı",
            "body": "Kars ile Tiflis arasındaki demiryolu yarın açılıyor.",
        },
        {
            "id": "port",
            "title": "Mersin limanı",
            "body": "Mersin limanına yeni vinçler geldi ve ihracat arttı.",
        },
    ]
    path = tmp_path / "tr.jsonl"
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    service = NewsService.open(make_settings(tmp_path / "data"), embedder=embedder)
    try:
        service.ingest_paths([path])
        assert service.stats().languages == (("tr", 2),)
        passages = service.search(Query("Demiryolunun açılışı ne zaman?", mode="bm25"))
        assert passages and passages[0].article_id == "rail"
    finally:
        service.close()


def test_arabic_forms_meet_on_their_stem(tmp_path: Path) -> None:
    body = "ناقشت إيران وأذربيجان مشروع السكك الحديدية بين البلدين."
    store = _store(tmp_path / "p.db", [Article(id="ar", title="سكك حديد", body=body, language="ar")])
    try:
        assert _top(store, "ما هو مشروع السكة الحديدية؟", "ar") == ["ar"]
    finally:
        store.close()


_WORD = re.compile(r"\w+")


def _sadedegel() -> list[Article]:
    if not SADEDEGEL.is_dir():
        pytest.skip(
            f"sadedegel sample absent ({SADEDEGEL}); see ../shared/eval-data/sadedegel-tr-news/SOURCE.md"
        )
    out = []
    for path in sorted(SADEDEGEL.glob("*.txt")):
        text = " ".join(path.read_text(encoding="utf-8").split())
        out.append(Article(id=path.stem, title=path.stem.rsplit("-", 1)[0].replace("-", " "), body=text))
    return out


def test_sadedegel_suffixed_forms_find_their_article(tmp_path: Path) -> None:
    """Index each article's first half; ask with words of its second half that appear there in other forms.

    A query word qualifies when its form is absent from the article's indexed half while its stem is
    present there and in at most two indexed halves (a distinctive word). The first three such words of
    the second half are the question. Hit@1 with the Turkish stems must beat the index as it was (words as written, FTS5 porter).
    """
    full = _sadedegel()
    detector = LanguageDetector()
    assert Counter(detector.detect(a.body) for a in full).most_common(1)[0][0] == "tr"
    halves, questions = [], {}
    tr = Stemmer.for_language("tr")
    assert tr is not None
    for a in full:
        words = a.body.split()
        first, second = " ".join(words[: len(words) // 2]), " ".join(words[len(words) // 2 :])
        halves.append(Article(id=a.id, title=a.title, body=first, language="tr"))
    stem_docs: Counter[str] = Counter()
    for h in halves:
        stem_docs.update(set(tr.stems(h.body)))
    for a, h in zip(full, halves, strict=True):
        seen_forms = {w.lower() for w in _WORD.findall(h.body)}
        seen_stems = set(tr.stems(h.body))
        second = " ".join(a.body.split()[len(a.body.split()) // 2 :])
        picked: list[str] = []
        for w in _WORD.findall(second):
            stem = tr.stems(w)[0]
            new_form = w.lower() not in seen_forms and w.lower() not in (p.lower() for p in picked)
            if len(w) >= 6 and new_form and stem in seen_stems and stem_docs[stem] <= 2:
                picked.append(w)
            if len(picked) == 3:
                break
        if len(picked) == 3:
            questions[a.id] = " ".join(picked)
    assert len(questions) >= 30
    store = _store(tmp_path / "p.db", halves)
    # Before: the same passages indexed as written (FTS5 porter only), the question's words as typed.
    before = _store(tmp_path / "before.db", [replace(h, language=None) for h in halves])
    try:
        stemmed = sum(_top(store, q, "tr", 1) == [aid] for aid, q in questions.items())
        written = sum(_top(before, q, None, 1) == [aid] for aid, q in questions.items())
    finally:
        store.close()
        before.close()
    print(f"sadedegel suffix check: {len(questions)} questions, Hit@1 stemmed {stemmed}, before {written}")
    assert stemmed >= 0.8 * len(questions)
    assert stemmed > written
